"""CloudFormation models for resource types moto has no model for.

Each model drives the moto backend of its service, so what a stack creates is visible through the
service's own API (an alarm in ``DescribeAlarms``, a subscription in ``ListSubscriptionsByTopic``).
Defining a subclass of ``CloudFormationModel`` registers it: moto builds its type map from
``CloudFormationModel.__subclasses__()`` (``get_model_map``, cleared after import).
Property and attribute names follow the CloudFormation template reference,
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-template-resource-type-ref.html
"""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any

from moto.core.common_models import CloudFormationModel

from ._update_rules import register_updater

__all__ = ["MODELS"]


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _tags(properties: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in properties.get("Tags") or []]


class _SandboxModel:
    """Common parts: the physical id, ``Ref``, attribute lookup and in-place updates. Each model is also
    a direct ``CloudFormationModel`` subclass (moto lists direct subclasses only)."""

    #: The engine updates these in place through ``update_from_cloudformation_json``.
    sandbox_updates_in_place = True
    #: ``Fn::GetAtt`` attribute name -> instance attribute
    attributes: dict[str, str] = {}

    def __init__(self, physical_id: str, properties: dict[str, Any], account_id: str, region: str) -> None:
        self.physical_id = physical_id
        self.properties = properties
        self.account_id = account_id
        self.region = region

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.attributes

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name not in self.attributes:
            raise UnformattedGetAttTemplateException()
        return getattr(self, self.attributes[attribute_name])

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> _SandboxModel:
        resource = cls(
            resource_name, dict(cloudformation_json.get("Properties") or {}), account_id, region_name
        )
        resource.create()
        return resource

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> _SandboxModel:
        assert isinstance(original_resource, cls)
        original_resource.update(dict(cloudformation_json.get("Properties") or {}))
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        raise TypeError("deleted through the instance")  # the engine calls ``delete`` on the instance

    def create(self) -> None:
        raise NotImplementedError

    def update(self, properties: dict[str, Any]) -> None:
        """Default update: delete and create again with the same physical id."""
        self.delete(self.account_id, self.region)
        self.properties = properties
        self.create()

    def delete(self, account_id: str, region_name: str) -> None:
        raise NotImplementedError


# -- AWS::CDK::Metadata ----------------------------------------------------------------------------------
class CdkMetadata(_SandboxModel, CloudFormationModel):
    """The CDK's usage metadata: accepted, nothing to create."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CDK::Metadata"

    def create(self) -> None:
        self.physical_id = f"CDKMetadata-{uuid.uuid4().hex[:12]}"

    def update(self, properties: dict[str, Any]) -> None:
        self.properties = properties

    def delete(self, account_id: str, region_name: str) -> None:
        return None


# -- AWS::CloudWatch::Alarm --------------------------------------------------------------------------------
class CloudWatchAlarm(_SandboxModel, CloudFormationModel):
    """An alarm in moto's CloudWatch backend. ``Ref`` is the alarm name; ``Arn`` the alarm ARN.

    It runs its actions as CloudWatch does (:mod:`notification_constructs.testing._cloudwatch`): created in
    ``INSUFFICIENT_DATA``, a state change (``SetAlarmState``) notifies the SNS topics among the new state's
    actions; an update replaces the definition and keeps the state."""

    attributes = {"Arn": "arn"}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @property
    def arn(self) -> str:
        return f"arn:aws:cloudwatch:{self.region}:{self.account_id}:alarm:{self.physical_id}"

    def create(self) -> None:
        from moto.cloudwatch.models import MetricDataQuery, cloudwatch_backends

        from notification_constructs.testing._cloudwatch import install as install_alarm_actions

        install_alarm_actions()  # idempotent: patches moto's CloudWatch once, for every alarm
        p = self.properties
        queries = [
            MetricDataQuery(
                query_id=str(m.get("Id")),
                label=str(m.get("Label", "")),
                period=str(m.get("Period", "")),
                return_data=str(m.get("ReturnData", "true")).lower(),
                expression=m.get("Expression"),
                metric_stat=_metric_stat(m.get("MetricStat")),
            )
            for m in p.get("Metrics") or []
        ]
        cloudwatch_backends[self.account_id][self.region].put_metric_alarm(
            name=self.physical_id,
            namespace=str(p.get("Namespace", "")),
            metric_name=str(p.get("MetricName", "")),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(p["Period"]) if p.get("Period") is not None else None,  # type: ignore[arg-type]
            threshold=float(p["Threshold"]) if p.get("Threshold") is not None else None,  # type: ignore[arg-type]
            statistic=p.get("Statistic"),  # type: ignore[arg-type]
            description=str(p.get("AlarmDescription", "")),
            dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in p.get("Dimensions") or []],
            alarm_actions=list(p.get("AlarmActions") or []),
            metric_data_queries=queries or None,
            datapoints_to_alarm=int(p["DatapointsToAlarm"]) if p.get("DatapointsToAlarm") else None,
            extended_statistic=p.get("ExtendedStatistic"),
            ok_actions=list(p.get("OKActions") or []),
            insufficient_data_actions=list(p.get("InsufficientDataActions") or []),
            unit=p.get("Unit"),
            actions_enabled=str(p.get("ActionsEnabled", True)).lower() != "false",
            treat_missing_data=p.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=p.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=p.get("ThresholdMetricId"),
            tags=_tags(p),
        )

    def update(self, properties: dict[str, Any]) -> None:
        self.properties = properties
        self.create()  # PutMetricAlarm replaces the alarm's definition

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[self.account_id][self.region].delete_alarms([self.physical_id])


def _metric_stat(stat: dict[str, Any] | None) -> Any:
    """A CloudFormation ``MetricStat`` as moto's ``MetricStat``."""
    from moto.cloudwatch.models import Dimension, Metric, MetricStat

    if not stat:
        return None
    metric = stat.get("Metric") or {}
    dimensions = [Dimension(d["Name"], d["Value"]) for d in metric.get("Dimensions") or []]
    return MetricStat(
        metric=Metric(str(metric.get("MetricName", "")), str(metric.get("Namespace", "")), dimensions),
        period=str(stat.get("Period", "")),
        stat=str(stat.get("Stat", "")),
        unit=str(stat.get("Unit", "")),
    )


# -- AWS::SNS::Subscription ----------------------------------------------------------------------------
_SUBSCRIPTION_ATTRIBUTES = (
    "DeliveryPolicy",
    "FilterPolicyScope",
    "FilterPolicy",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
)
_SUBSCRIPTION_PROTOCOLS = (
    "http",
    "https",
    "email",
    "email-json",
    "sms",
    "sqs",
    "application",
    "lambda",
    "firehose",
)


class SnsSubscription(_SandboxModel, CloudFormationModel):
    """A subscription through moto's SNS backend. ``Ref`` is the subscription ARN.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sns-subscription.html
    """

    attributes = {"Arn": "physical_id"}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    def _backend(self) -> Any:
        from moto.sns.models import sns_backends

        region = self.properties.get("Region") or self.region
        return sns_backends[self.account_id][region]

    def create(self) -> None:
        p = self.properties
        protocol = str(p.get("Protocol", ""))
        if protocol not in _SUBSCRIPTION_PROTOCOLS:
            raise ValueError(f"Protocol {protocol!r}: one of {', '.join(_SUBSCRIPTION_PROTOCOLS)}")
        if "Endpoint" not in p or "TopicArn" not in p:
            raise ValueError("Endpoint and TopicArn are required")
        backend = self._backend()
        subscription = backend.subscribe(p["TopicArn"], str(p["Endpoint"]), protocol)
        self.physical_id = subscription.arn
        # The scope first: FilterPolicy is validated against it (SetSubscriptionAttributes).
        for name in _SUBSCRIPTION_ATTRIBUTES:
            if name in p:
                backend.set_subscription_attributes(subscription.arn, name, _attribute_value(p[name]))

    def update(self, properties: dict[str, Any]) -> None:
        backend = self._backend()
        old, self.properties = self.properties, properties
        for name in _SUBSCRIPTION_ATTRIBUTES:
            if old.get(name) != properties.get(name):
                value = _attribute_value(properties[name]) if name in properties else _attribute_default(name)
                backend.set_subscription_attributes(self.physical_id, name, value)

    def delete(self, account_id: str, region_name: str) -> None:
        self._backend().unsubscribe(self.physical_id)


def _attribute_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _json(value) if isinstance(value, dict | list) else str(value)


def _attribute_default(name: str) -> str:
    return {"RawMessageDelivery": "false", "FilterPolicyScope": "MessageAttributes"}.get(name, "")


# -- AWS::SNS::TopicPolicy ----------------------------------------------------------------------------------
class SnsTopicPolicy(_SandboxModel, CloudFormationModel):
    """Sets the ``Policy`` attribute of each topic; deleting restores the default policy."""

    attributes = {"Id": "physical_id"}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    def create(self) -> None:
        from moto.sns.models import sns_backends

        backend = sns_backends[self.account_id][self.region]
        document = _json(self.properties["PolicyDocument"])
        for arn in self.properties.get("Topics") or []:
            backend.set_topic_attribute(arn, "policy", document)

    def update(self, properties: dict[str, Any]) -> None:
        removed = set(self.properties.get("Topics") or []) - set(properties.get("Topics") or [])
        self._reset(removed)
        self.properties = properties
        self.create()

    def delete(self, account_id: str, region_name: str) -> None:
        self._reset(self.properties.get("Topics") or [])

    def _reset(self, arns: Any) -> None:
        from moto.sns.exceptions import TopicNotFound
        from moto.sns.models import sns_backends

        backend = sns_backends[self.account_id][self.region]
        for arn in arns:
            try:
                topic = backend.get_topic(arn)
            except TopicNotFound:
                continue
            topic._policy_json = topic._create_default_topic_policy(self.region, self.account_id, topic.name)


# -- AWS::SQS::QueuePolicy ------------------------------------------------------------------------------------
class SqsQueuePolicy(_SandboxModel, CloudFormationModel):
    """Sets the ``Policy`` attribute of each queue (``Queues`` are queue URLs); deleting removes it."""

    attributes = {"Id": "physical_id"}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    def create(self) -> None:
        self._set(self.properties.get("Queues") or [], _json(self.properties["PolicyDocument"]))

    def update(self, properties: dict[str, Any]) -> None:
        removed = set(self.properties.get("Queues") or []) - set(properties.get("Queues") or [])
        self._set(removed, "")
        self.properties = properties
        self.create()

    def delete(self, account_id: str, region_name: str) -> None:
        self._set(self.properties.get("Queues") or [], "")

    def _set(self, urls: Any, policy: str) -> None:
        from moto.sqs.exceptions import QueueDoesNotExist
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[self.account_id][self.region]
        for url in urls:
            name = str(url).rstrip("/").rsplit("/", 1)[-1]
            try:
                backend.set_queue_attributes(name, {"Policy": policy})
            except QueueDoesNotExist:
                if policy:
                    raise


# -- AWS::S3::BucketPolicy ------------------------------------------------------------------------------------
class S3BucketPolicy(_SandboxModel, CloudFormationModel):
    attributes: dict[str, str] = {}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    def _backend(self) -> Any:
        from moto.s3.models import s3_backends

        return s3_backends[self.account_id]["aws"]

    def create(self) -> None:
        self.physical_id = str(self.properties["Bucket"])
        self._backend().put_bucket_policy(self.physical_id, _json(self.properties["PolicyDocument"]).encode())

    def update(self, properties: dict[str, Any]) -> None:
        self.properties = properties
        self.create()

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.s3.exceptions import MissingBucket

        with contextlib.suppress(MissingBucket):
            self._backend().delete_bucket_policy(self.physical_id)


# -- AWS::KinesisFirehose::DeliveryStream ----------------------------------------------------------------------
class FirehoseDeliveryStream(_SandboxModel, CloudFormationModel):
    """A delivery stream in moto's Firehose backend (S3 / extended S3 destinations and the others moto
    keeps). ``Ref`` is the stream name."""

    attributes = {"Arn": "arn"}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::KinesisFirehose::DeliveryStream"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "DeliveryStreamName"

    @property
    def arn(self) -> str:
        return f"arn:aws:firehose:{self.region}:{self.account_id}:deliverystream/{self.physical_id}"

    def _backend(self) -> Any:
        from moto.firehose.models import firehose_backends

        return firehose_backends[self.account_id][self.region]

    def create(self) -> None:
        p = self.properties
        self.physical_id = self.physical_id[:64]
        self._backend().create_delivery_stream(
            region=self.region,
            delivery_stream_name=self.physical_id,
            delivery_stream_type=p.get("DeliveryStreamType", "DirectPut"),
            kinesis_stream_source_configuration=p.get("KinesisStreamSourceConfiguration"),
            delivery_stream_encryption_configuration_input=p.get(
                "DeliveryStreamEncryptionConfigurationInput"
            ),
            s3_destination_configuration=p.get("S3DestinationConfiguration"),
            extended_s3_destination_configuration=p.get("ExtendedS3DestinationConfiguration"),
            redshift_destination_configuration=p.get("RedshiftDestinationConfiguration"),
            elasticsearch_destination_configuration=p.get("ElasticsearchDestinationConfiguration"),
            splunk_destination_configuration=p.get("SplunkDestinationConfiguration"),
            http_endpoint_destination_configuration=p.get("HttpEndpointDestinationConfiguration"),
            snowflake_destination_configuration=p.get("SnowflakeDestinationConfiguration"),
            iceberg_destination_configuration=p.get("IcebergDestinationConfiguration"),
            tags=_tags(p),
        )

    def delete(self, account_id: str, region_name: str) -> None:
        self._backend().delete_delivery_stream(self.physical_id)


# -- AWS::SecretsManager::Secret -----------------------------------------------------------------------------------
class SecretsManagerSecret(_SandboxModel, CloudFormationModel):
    """A secret in moto's Secrets Manager; ``GenerateSecretString`` as the API's GetRandomPassword.
    ``Ref`` is the secret ARN.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-secretsmanager-secret.html
    """

    attributes = {"Id": "physical_id"}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    def _backend(self) -> Any:
        from moto.secretsmanager.models import secretsmanager_backends

        return secretsmanager_backends[self.account_id][self.region]

    def _secret_string(self) -> str | None:
        p = self.properties
        generate = p.get("GenerateSecretString")
        if not generate:
            return p.get("SecretString")
        password = self._backend().get_random_password(
            password_length=int(generate.get("PasswordLength", 32)),
            exclude_characters=generate.get("ExcludeCharacters", ""),
            exclude_numbers=_bool(generate.get("ExcludeNumbers")),
            exclude_punctuation=_bool(generate.get("ExcludePunctuation")),
            exclude_uppercase=_bool(generate.get("ExcludeUppercase")),
            exclude_lowercase=_bool(generate.get("ExcludeLowercase")),
            include_space=_bool(generate.get("IncludeSpace")),
            require_each_included_type=_bool(generate.get("RequireEachIncludedType", True)),
        )
        value = json.loads(password)["RandomPassword"]
        template, key = generate.get("SecretStringTemplate"), generate.get("GenerateStringKey")
        if template and key:
            document = json.loads(template)
            document[key] = value
            return json.dumps(document)
        return str(value)

    def create(self) -> None:
        p = self.properties
        result = self._backend().create_secret(
            name=self.physical_id,
            secret_string=self._secret_string(),
            secret_binary=None,
            description=p.get("Description"),
            tags=_tags(p),
            kms_key_id=p.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=p.get("ReplicaRegions") or [],
            force_overwrite=False,
        )
        self.name = self.physical_id
        self.physical_id = json.loads(result)["ARN"] if isinstance(result, str) else result["ARN"]

    def update(self, properties: dict[str, Any]) -> None:
        old, self.properties = self.properties, properties
        backend = self._backend()
        if old.get("SecretString") != properties.get("SecretString") or old.get(
            "GenerateSecretString"
        ) != properties.get("GenerateSecretString"):
            backend.put_secret_value(
                secret_id=self.physical_id,
                secret_string=self._secret_string(),
                secret_binary=None,
                client_request_token=None,
                version_stages=["AWSCURRENT"],
            )
        if old.get("Description") != properties.get("Description") or old.get("KmsKeyId") != properties.get(
            "KmsKeyId"
        ):
            backend.update_secret(
                secret_id=self.physical_id,
                secret_string=None,
                secret_binary=None,
                client_request_token=None,
                kms_key_id=properties.get("KmsKeyId"),
                description=properties.get("Description"),
            )

    def delete(self, account_id: str, region_name: str) -> None:
        self._backend().delete_secret(self.physical_id, None, True)


def _bool(value: Any) -> bool:
    return str(value).lower() == "true"


# -- AWS::IAM::Group ------------------------------------------------------------------------------------------
class IamGroup(_SandboxModel, CloudFormationModel):
    """An IAM group (moto has no CloudFormation model for it); ``Ref`` is the group name, ``Arn`` its ARN.
    Memberships come from the users' ``Groups`` property (an ``AWS::IAM::User`` created after the group).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-group.html
    """

    attributes = {"Arn": "arn"}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::IAM::Group"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "GroupName"

    def _backend(self) -> Any:
        from moto.iam.models import iam_backends
        from moto.utilities.utils import get_partition

        return iam_backends[self.account_id][get_partition(self.region)]

    def create(self) -> None:
        p = self.properties
        name = p.get("GroupName") or self.physical_id
        group = self._backend().create_group(name, p.get("Path") or "/")
        self.physical_id, self.arn = name, group.arn

    def update(self, properties: dict[str, Any]) -> None:
        self.properties = properties  # Path only (a new GroupName replaces the group: the engine's rules)

    def delete(self, account_id: str, region_name: str) -> None:
        self._backend().groups.pop(self.physical_id, None)


# -- Custom::* / AWS::CloudFormation::CustomResource ------------------------------------------------------
class _ResponseCollector:
    """A one-request HTTP server on loopback standing in for the pre-signed S3 ``ResponseURL``."""

    def __init__(self) -> None:
        import http.server
        import threading

        collector = self
        self.body: dict[str, Any] | None = None

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with contextlib.suppress(ValueError):
                    collector.body = json.loads(raw)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/custom-resource-response"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class CustomResource(_SandboxModel, CloudFormationModel):
    """A Lambda-backed custom resource, run the way CloudFormation runs one: the ``ServiceToken`` function
    gets Create / Update / Delete requests and answers by a PUT to ``ResponseURL`` (here a loopback server);
    its ``PhysicalResourceId`` is the ``Ref``, its ``Data`` the ``Fn::GetAtt`` attributes; an update that
    returns a new physical id makes the engine send Delete for the old one in the cleanup phase; FAILED (or
    no answer) fails the resource with the function's reason. (moto's own model sends Create only and does
    not wait.) Invocations are synchronous: the function answers before it returns.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requesttypes.html
    """

    #: The old half of an update that changed the physical id, for the engine to delete in cleanup.
    sandbox_replaced: CustomResource | None = None

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudFormation::CustomResource"

    def __init__(self, physical_id: str, properties: dict[str, Any], account_id: str, region: str) -> None:
        super().__init__(physical_id, properties, account_id, region)
        self.data: dict[str, Any] = {}
        self.logical_id = physical_id
        self.stack_id = ""
        self.resource_type = "AWS::CloudFormation::CustomResource"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> CustomResource:
        resource = cls(
            resource_name, dict(cloudformation_json.get("Properties") or {}), account_id, region_name
        )
        resource.logical_id = str(kwargs.get("LogicalId") or resource_name)
        resource.stack_id = str(kwargs.get("StackId") or "")
        resource.resource_type = str(kwargs.get("ResourceType") or resource.resource_type)
        resource.create()
        return resource

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True  # whatever Data the function returns

    def is_created(self) -> bool:
        return True  # create() returns only after the function answered

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.data:
            raise ValueError(
                f"custom resource {self.logical_id} returned no attribute {attribute_name!r} in its Data "
                f"(it returned: {sorted(self.data)})"
            )
        return self.data[attribute_name]

    def _request(self, request_type: str, **extra: Any) -> dict[str, Any]:
        from notification_constructs.testing._lambda_runtime import invoke_in_running_sandbox

        token = self.properties.get("ServiceToken")
        if not isinstance(token, str) or not token.startswith("arn:") or ":lambda:" not in token:
            raise ValueError(
                f"ServiceToken {token!r}: the sandbox runs Lambda-backed custom resources only (an SNS topic "
                "service token is not supported)"
            )
        collector = _ResponseCollector()
        event = {
            "RequestType": request_type,
            "ServiceToken": token,
            "ResponseURL": collector.url,
            "StackId": self.stack_id,
            "RequestId": str(uuid.uuid4()),
            "ResourceType": self.resource_type,
            "LogicalResourceId": self.logical_id,
            "ResourceProperties": self.properties,
            **extra,
        }
        try:
            result = invoke_in_running_sandbox(token, event)
        finally:
            collector.close()
        answer = collector.body
        if answer is None:
            error = (
                f" ({result.error.get('errorType')}: {result.error.get('errorMessage')})"
                if result.error
                else ""
            )
            raise RuntimeError(
                f"the custom resource function sent no response to the ResponseURL{error}; CloudFormation "
                "would wait for one for up to an hour"
            )
        if answer.get("Status") != "SUCCESS":
            raise RuntimeError(str(answer.get("Reason") or "the custom resource function answered FAILED"))
        return answer

    def create(self) -> None:
        answer = self._request("Create")
        self.physical_id = str(answer.get("PhysicalResourceId") or self.physical_id)
        self.data = dict(answer.get("Data") or {})

    def update(self, properties: dict[str, Any]) -> None:
        old_properties, old_id, old_data = self.properties, self.physical_id, self.data
        self.properties = properties
        try:
            answer = self._request("Update", PhysicalResourceId=old_id, OldResourceProperties=old_properties)
        except Exception:
            self.properties = old_properties
            raise
        self.physical_id = str(answer.get("PhysicalResourceId") or old_id)
        self.data = dict(answer.get("Data") or {})
        if self.physical_id != old_id:
            replaced = CustomResource(old_id, old_properties, self.account_id, self.region)
            replaced.logical_id, replaced.stack_id = self.logical_id, self.stack_id
            replaced.resource_type, replaced.data = self.resource_type, old_data
            self.sandbox_replaced = replaced

    def delete(self, account_id: str, region_name: str) -> None:
        self._request("Delete", PhysicalResourceId=self.physical_id)


# -- AWS::Glue::Database / AWS::Glue::Table ---------------------------------------------------------------------
class GlueDatabase(_SandboxModel, CloudFormationModel):
    """A Glue Data Catalog database; ``Ref`` is the database name."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Glue::Database"

    def _backend(self) -> Any:
        from moto.glue.models import glue_backends

        return glue_backends[self.account_id][self.region]

    def create(self) -> None:
        database_input = dict(self.properties.get("DatabaseInput") or {})
        name = self.properties.get("DatabaseName") or database_input.get("Name") or self.physical_id.lower()
        database_input["Name"] = name
        self._backend().create_database(name, database_input)
        self.physical_id = name

    def update(self, properties: dict[str, Any]) -> None:
        self.properties = properties
        database_input = {**(properties.get("DatabaseInput") or {}), "Name": self.physical_id}
        self._backend().update_database(self.physical_id, database_input)

    def delete(self, account_id: str, region_name: str) -> None:
        self._backend().delete_database(self.physical_id)


class GlueTable(_SandboxModel, CloudFormationModel):
    """A Glue Data Catalog table; ``Ref`` is the table name."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Glue::Table"

    def _backend(self) -> Any:
        from moto.glue.models import glue_backends

        return glue_backends[self.account_id][self.region]

    def create(self) -> None:
        table_input = dict(self.properties.get("TableInput") or {})
        name = table_input.get("Name") or self.physical_id.lower().replace("-", "_")
        table_input["Name"] = name
        self.database = str(self.properties["DatabaseName"])
        self._backend().create_table(
            self.database, name, table_input, self.properties.get("OpenTableFormatInput")
        )
        self.physical_id = name

    def update(self, properties: dict[str, Any]) -> None:
        self.properties = properties
        table_input = {**(properties.get("TableInput") or {}), "Name": self.physical_id}
        self._backend().update_table(self.database, self.physical_id, table_input)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.glue.exceptions import DatabaseNotFoundException, TableNotFoundException

        with contextlib.suppress(DatabaseNotFoundException, TableNotFoundException):  # gone with the database
            self._backend().delete_table(self.database, self.physical_id)


# -- AWS::Athena::NamedQuery --------------------------------------------------------------------------------
class AthenaNamedQuery(_SandboxModel, CloudFormationModel):
    """A saved query in moto's Athena backend; ``Ref`` and ``NamedQueryId`` are its id."""

    attributes = {"NamedQueryId": "physical_id"}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Athena::NamedQuery"

    def _backend(self) -> Any:
        from moto.athena.models import athena_backends

        return athena_backends[self.account_id][self.region]

    def create(self) -> None:
        p = self.properties
        self.physical_id = self._backend().create_named_query(
            name=p.get("Name") or self.physical_id,
            description=p.get("Description", ""),
            database=p["Database"],
            query_string=p["QueryString"],
            workgroup=p.get("WorkGroup") or "primary",
        )

    def delete(self, account_id: str, region_name: str) -> None:
        self._backend().named_queries.pop(self.physical_id, None)  # moto has no DeleteNamedQuery


# -- AWS::Logs::LogStream -------------------------------------------------------------------------------------
class LogsLogStream(_SandboxModel, CloudFormationModel):
    """A log stream in moto's CloudWatch Logs backend; ``Ref`` is the stream name."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Logs::LogStream"

    def _backend(self) -> Any:
        from moto.logs.models import logs_backends

        return logs_backends[self.account_id][self.region]

    def create(self) -> None:
        self.log_group = str(self.properties["LogGroupName"])
        self.physical_id = str(self.properties.get("LogStreamName") or self.physical_id)
        self._backend().create_log_stream(self.log_group, self.physical_id)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.logs.exceptions import ResourceNotFoundException

        with contextlib.suppress(ResourceNotFoundException):  # gone with its log group
            self._backend().delete_log_stream(self.log_group, self.physical_id)


# -- AWS::Athena::WorkGroup -----------------------------------------------------------------------------------
class AthenaWorkGroup(_SandboxModel, CloudFormationModel):
    """A workgroup in moto's Athena backend; ``Ref`` is its name."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Athena::WorkGroup"

    def _backend(self) -> Any:
        from moto.athena.models import athena_backends

        return athena_backends[self.account_id][self.region]

    def create(self) -> None:
        p = self.properties
        self.physical_id = str(p.get("Name") or self.physical_id)
        self._backend().create_work_group(
            name=self.physical_id,
            configuration=p.get("WorkGroupConfiguration") or {},
            description=p.get("Description", ""),
            tags=_tags(p),
        )

    def update(self, properties: dict[str, Any]) -> None:
        self.properties = properties
        work_group = self._backend().work_groups.get(self.physical_id)
        if work_group is None:
            self.create()
            return
        work_group.description = properties.get("Description", "")
        work_group.configuration = properties.get("WorkGroupConfiguration") or {}

    def delete(self, account_id: str, region_name: str) -> None:
        backend = self._backend()
        backend.work_groups.pop(self.physical_id, None)
        # RecursiveDeleteOption: the workgroup's saved queries go with it.
        if str(self.properties.get("RecursiveDeleteOption", "false")).lower() == "true":
            for query_id, query in list(backend.named_queries.items()):
                if getattr(query.workgroup, "name", query.workgroup) == self.physical_id:
                    backend.named_queries.pop(query_id, None)


MODELS: tuple[type[CloudFormationModel], ...] = (
    CdkMetadata,
    CloudWatchAlarm,
    SnsSubscription,
    SnsTopicPolicy,
    SqsQueuePolicy,
    S3BucketPolicy,
    FirehoseDeliveryStream,
    SecretsManagerSecret,
    IamGroup,
    GlueDatabase,
    GlueTable,
    AthenaNamedQuery,
    LogsLogStream,
    AthenaWorkGroup,
)


def _model_updater(resource: Any, old: dict[str, Any], new: dict[str, Any], account: str, region: str) -> Any:
    resource.update(dict(new.get("Properties") or {}))
    return resource


for _model in MODELS:
    register_updater(str(_model.cloudformation_type()), _model_updater)
