"""How each resource type reacts to a property change: replacement or an in-place update.

Create-only properties (a change replaces the resource) are those the CloudFormation resource reference
marks "Update requires: Replacement", e.g.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sns-topic.html and
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sqs-queue.html.
A type without an in-place updater is replaced on any change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.core.common_models import CloudFormationModel

__all__ = ["Updater", "create_only_properties", "in_place_updater", "register_updater"]

#: (resource, old resolved JSON, new resolved JSON, account, region) -> the updated resource
Updater = Callable[[Any, dict[str, Any], dict[str, Any], str, str], Any]

_CREATE_ONLY: dict[str, frozenset[str]] = {
    "AWS::SNS::Topic": frozenset({"TopicName", "FifoTopic"}),
    "AWS::SNS::Subscription": frozenset({"Protocol", "Endpoint", "TopicArn", "Region"}),
    "AWS::SQS::Queue": frozenset({"QueueName", "FifoQueue"}),
    "AWS::DynamoDB::Table": frozenset({"TableName", "KeySchema", "LocalSecondaryIndexes"}),
    "AWS::Lambda::Function": frozenset({"FunctionName", "PackageType"}),
    "AWS::Lambda::EventSourceMapping": frozenset(
        {"EventSourceArn", "StartingPosition", "StartingPositionTimestamp"}
    ),
    "AWS::Lambda::Permission": frozenset(
        {
            "Action",
            "EventSourceToken",
            "FunctionName",
            "FunctionUrlAuthType",
            "Principal",
            "PrincipalOrgID",
            "SourceAccount",
            "SourceArn",
        }
    ),
    "AWS::Lambda::LayerVersion": frozenset(
        {
            "CompatibleArchitectures",
            "CompatibleRuntimes",
            "Content",
            "Description",
            "LayerName",
            "LicenseInfo",
        }
    ),
    "AWS::Lambda::Version": frozenset({"FunctionName", "CodeSha256", "Description"}),
    "AWS::IAM::Role": frozenset({"RoleName", "Path"}),
    "AWS::IAM::User": frozenset({"UserName"}),
    "AWS::IAM::Group": frozenset({"GroupName"}),
    "AWS::Logs::LogStream": frozenset({"LogGroupName", "LogStreamName"}),
    "AWS::Athena::WorkGroup": frozenset({"Name"}),
    "AWS::IAM::AccessKey": frozenset({"UserName", "Serial"}),
    "AWS::IAM::ManagedPolicy": frozenset({"ManagedPolicyName", "Path"}),
    "AWS::KMS::Alias": frozenset({"AliasName"}),
    "AWS::S3::Bucket": frozenset({"BucketName", "ObjectLockEnabled"}),
    "AWS::S3::BucketPolicy": frozenset({"Bucket"}),
    "AWS::SSM::Parameter": frozenset({"Name"}),
    "AWS::Logs::LogGroup": frozenset({"LogGroupName"}),
    "AWS::CloudWatch::Alarm": frozenset({"AlarmName"}),
    "AWS::CloudWatch::Dashboard": frozenset({"DashboardName"}),
    "AWS::ECR::Repository": frozenset({"RepositoryName"}),
    "AWS::Events::Rule": frozenset({"Name", "EventBusName"}),
    "AWS::KinesisFirehose::DeliveryStream": frozenset({"DeliveryStreamName", "DeliveryStreamType"}),
    "AWS::SecretsManager::Secret": frozenset({"Name"}),
    "AWS::Glue::Database": frozenset({"CatalogId", "DatabaseName"}),
    "AWS::Glue::Table": frozenset({"CatalogId", "DatabaseName"}),
    "AWS::KMS::Key": frozenset({"KeySpec", "KeyUsage", "Origin", "MultiRegion"}),
    "AWS::Athena::NamedQuery": frozenset({"Database", "Description", "Name", "QueryString", "WorkGroup"}),
}

#: moto updaters that keep the resource (the others delete and re-create it).
_MOTO_IN_PLACE = frozenset(
    {
        "AWS::Lambda::Function",
        "AWS::Lambda::EventSourceMapping",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::AccessKey",
        "AWS::S3::Bucket",
        "AWS::KMS::Alias",
        "AWS::SSM::Parameter",
        "AWS::CloudWatch::Dashboard",
    }
)

_UPDATERS: dict[str, Updater] = {}


def create_only_properties(resource_type: str) -> frozenset[str]:
    return _CREATE_ONLY.get(resource_type, frozenset())


def register_updater(resource_type: str, updater: Updater) -> None:
    _UPDATERS[resource_type] = updater


def in_place_updater(resource_type: str, model: type[CloudFormationModel] | None) -> Updater | None:
    """How to update a resource of this type in place, or ``None`` (replace it)."""
    if resource_type in _UPDATERS:
        return _UPDATERS[resource_type]
    if model is None:
        return lambda resource, old, new, account, region: resource  # no-op types
    if getattr(model, "sandbox_updates_in_place", False) or resource_type in _MOTO_IN_PLACE:
        update = model.update_from_cloudformation_json
        if hasattr(update, "__isabstractmethod__"):
            return None

        def moto_update(
            resource: Any, old: dict[str, Any], new: dict[str, Any], account: str, region: str
        ) -> Any:
            name = str(getattr(resource, "physical_resource_id", None) or getattr(resource, "name", ""))
            return update(
                original_resource=resource,
                new_resource_name=name,
                cloudformation_json=new,
                account_id=account,
                region_name=region,
            )

        return moto_update
    return None


# -- SNS topics ------------------------------------------------------------------------------------------
def _update_topic(topic: Any, old: dict[str, Any], new: dict[str, Any], account: str, region: str) -> Any:
    """SetTopicAttributes for changed attributes; inline ``Subscription`` entries added / removed."""
    from moto.sns.models import sns_backends

    backend = sns_backends[account][region]
    old_props, new_props = old.get("Properties") or {}, new.get("Properties") or {}
    attributes = (
        "DisplayName",
        "KmsMasterKeyId",
        "SignatureVersion",
        "TracingConfig",
        "ContentBasedDeduplication",
        "ArchivePolicy",
        "DeliveryStatusLogging",
    )
    for name in attributes:
        if old_props.get(name) != new_props.get(name):
            value = new_props.get(name, "")
            if isinstance(value, dict | list):
                value = json.dumps(value)
            backend.set_topic_attribute(topic.arn, _snake(name), value if value is not None else "")
    old_subs = {(s["Protocol"], s["Endpoint"]) for s in old_props.get("Subscription") or []}
    new_subs = {(s["Protocol"], s["Endpoint"]) for s in new_props.get("Subscription") or []}
    for protocol, endpoint in new_subs - old_subs:
        backend.subscribe(topic.arn, endpoint, protocol)
    for protocol, endpoint in old_subs - new_subs:
        existing = backend._find_subscription(topic.arn, endpoint, protocol)
        if existing is not None:
            backend.unsubscribe(existing.arn)
    if old_props.get("Tags") != new_props.get("Tags"):
        topic._tags = {t["Key"]: t["Value"] for t in new_props.get("Tags") or []}
    return topic


# -- SQS queues --------------------------------------------------------------------------------------------
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedrivePolicy",
    "RedriveAllowPolicy",
)
#: Defaults an attribute returns to when its property is removed (SQS API reference, SetQueueAttributes).
_QUEUE_DEFAULTS = {
    "DelaySeconds": 0,
    "MaximumMessageSize": 262144,
    "MessageRetentionPeriod": 345600,
    "ReceiveMessageWaitTimeSeconds": 0,
    "VisibilityTimeout": 30,
    "KmsDataKeyReusePeriodSeconds": 300,
}


def _update_queue(queue: Any, old: dict[str, Any], new: dict[str, Any], account: str, region: str) -> Any:
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[account][region]
    old_props, new_props = old.get("Properties") or {}, new.get("Properties") or {}
    changes: dict[str, Any] = {}
    for name in _QUEUE_ATTRIBUTES:
        if old_props.get(name) == new_props.get(name):
            continue
        value = new_props.get(name, _QUEUE_DEFAULTS.get(name, ""))
        changes[name] = json.dumps(value) if isinstance(value, dict) else value
    if changes:
        backend.set_queue_attributes(queue.name, changes)
    if old_props.get("Tags") != new_props.get("Tags"):
        queue.tags = {t["Key"]: t["Value"] for t in new_props.get("Tags") or []}
    return queue


# -- KMS keys ------------------------------------------------------------------------------------------------
def _update_key(key: Any, old: dict[str, Any], new: dict[str, Any], account: str, region: str) -> Any:
    from moto.kms.models import kms_backends

    backend = kms_backends[account][region]
    old_props, new_props = old.get("Properties") or {}, new.get("Properties") or {}
    for name in set(old_props) | set(new_props):
        if old_props.get(name) == new_props.get(name):
            continue
        value = new_props.get(name)
        if name == "KeyPolicy":
            key.policy = json.dumps(value) if isinstance(value, dict) else str(value)
        elif name == "Description":
            backend.update_key_description(key.id, str(value or ""))
        elif name == "EnableKeyRotation":
            (backend.enable_key_rotation if value in (True, "true") else backend.disable_key_rotation)(key.id)
        elif name == "Enabled":
            (backend.enable_key if value in (True, "true", None) else backend.disable_key)(key.id)
        elif name == "Tags":
            key.tags = {t["Key"]: t["Value"] for t in value or []}
        # PendingWindowInDays (used on deletion), RotationPeriodInDays, MultiRegion and
        # BypassPolicyLockoutSafetyCheck: moto keeps no state for them
    return key


# -- DynamoDB tables --------------------------------------------------------------------------------------
#: Table properties CloudFormation updates in place ("Update requires: No interruption"); a change of any
#: other property but the create-only ones fails the update with a clear reason instead of replacing the
#: table (and losing its items) silently.
_TABLE_IN_PLACE = frozenset(
    {
        "BillingMode",
        "ProvisionedThroughput",
        "StreamSpecification",
        "SSESpecification",
        "DeletionProtectionEnabled",
        "TimeToLiveSpecification",
        "PointInTimeRecoverySpecification",
        "Tags",
        "ContributorInsightsSpecification",
        "TableClass",
        "WarmThroughput",
    }
)


def _update_table(table: Any, old: dict[str, Any], new: dict[str, Any], account: str, region: str) -> Any:
    """UpdateTable / UpdateTimeToLive / UpdateContinuousBackups / tags for the changed properties."""
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[account][region]
    old_props, new_props = old.get("Properties") or {}, new.get("Properties") or {}
    changed = {k for k in set(old_props) | set(new_props) if old_props.get(k) != new_props.get(k)}
    unsupported = sorted(changed - _TABLE_IN_PLACE)
    if unsupported:
        raise ValueError(
            f"the sandbox cannot update {', '.join(unsupported)} of a DynamoDB table in place "
            "(global secondary index changes are not modelled); replace the table explicitly"
        )
    name = table.name
    if changed & {"BillingMode", "ProvisionedThroughput", "StreamSpecification", "DeletionProtectionEnabled"}:
        backend.update_table(
            name=name,
            attr_definitions=[],
            global_index=[],
            throughput=new_props.get("ProvisionedThroughput") or {},
            billing_mode=new_props.get("BillingMode", "PROVISIONED"),
            stream_spec=new_props.get("StreamSpecification")
            or ({"StreamEnabled": False} if "StreamSpecification" in changed else {}),
            deletion_protection_enabled=bool(new_props.get("DeletionProtectionEnabled", False)),
            warm_throughput=new_props.get("WarmThroughput"),
        )
    if "TimeToLiveSpecification" in changed:
        spec = new_props.get("TimeToLiveSpecification") or {
            "Enabled": False,
            "AttributeName": (old_props.get("TimeToLiveSpecification") or {}).get("AttributeName", ""),
        }
        backend.update_time_to_live(name, spec)
    if "PointInTimeRecoverySpecification" in changed:
        spec = new_props.get("PointInTimeRecoverySpecification") or {"PointInTimeRecoveryEnabled": False}
        backend.update_continuous_backups(name, spec)
    if "SSESpecification" in changed:
        table.sse_specification = new_props.get("SSESpecification")
    if "Tags" in changed:
        table.tags = list(new_props.get("Tags") or [])
    return table


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


register_updater("AWS::SNS::Topic", _update_topic)
register_updater("AWS::SQS::Queue", _update_queue)
register_updater("AWS::KMS::Key", _update_key)
register_updater("AWS::DynamoDB::Table", _update_table)
