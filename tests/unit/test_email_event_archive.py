"""EmailEventArchive: the SES -> Firehose -> S3 destination (role, encryption, partitioning), the bucket
(key, TLS, lifecycle, access logs), the Glue table over the SES event JSON and the Athena queries."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk.assertions import Annotations, Match, Template

from notification_constructs import EmailConfigurationSet, NotificationConfigError
from notification_constructs.email_event_archive import EVENT_TYPE_VALUES, EmailEventArchive
from tests.support.validators import add_nag_packs, cfn_lint, synth_with_nag

EVENTS = Path(__file__).resolve().parents[1] / "events"
ENV = Environment(account="111111111111", region="eu-west-1")
ALL_EVENTS = [
    "send",
    "reject",
    "bounce",
    "complaint",
    "delivery",
    "open",
    "click",
    "renderingFailure",
    "deliveryDelay",
    "subscription",
]


@pytest.fixture(scope="module")
def template() -> Template:
    stack = Stack(App(), "ArchiveStack", env=ENV)
    config = EmailConfigurationSet(stack, "Config", configuration_set_name="transactional")
    EmailEventArchive(stack, "Archive", configuration_set=config)
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def by_date_only() -> Template:
    stack = Stack(App(), "ByDate", env=ENV)
    config = ses.ConfigurationSet.from_configuration_set_name(stack, "Imported", "marketing")
    EmailEventArchive(
        stack,
        "Archive",
        configuration_set=config,
        event_types=[ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.COMPLAINT],
        partition_by_event_type=False,
        retention=Duration.days(730),
        archive_after=Duration.days(30),
        archive_storage_class=s3.StorageClass.INFREQUENT_ACCESS,
        buffering_interval=Duration.seconds(60),
        database_name="mail_audit",
        table_name="marketing_events",
        work_group_name="primary",
    )
    return Template.from_stack(stack)


def _one(template: Template, resource_type: str, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    found = template.find_resources(resource_type, {"Properties": properties} if properties else None)
    assert len(found) == 1, f"{len(found)} {resource_type} resources match"
    return dict(next(iter(found.values()))["Properties"])


def _logical_id(template: Template, resource_type: str, prefix: str) -> str:
    [logical_id] = [k for k in template.find_resources(resource_type) if k.startswith(prefix)]
    return logical_id


# --- SES -> Firehose ----------------------------------------------------------------------------------
def test_every_event_type_goes_to_the_stream_through_the_ses_role(template: Template) -> None:
    # GIVEN the archive of a configuration set THEN its event destination sends every event type to the
    # archive's stream, under the archive's SES role
    stream = _logical_id(template, "AWS::KinesisFirehose::DeliveryStream", "ArchiveDeliveryStream")
    role = _logical_id(template, "AWS::IAM::Role", "ArchiveSesRole")
    template.has_resource_properties(
        "AWS::SES::ConfigurationSetEventDestination",
        {
            "ConfigurationSetName": {"Ref": Match.string_like_regexp("^Config")},
            "EventDestination": {
                "Enabled": True,
                "MatchingEventTypes": ALL_EVENTS,
                "KinesisFirehoseDestination": {
                    "DeliveryStreamARN": {"Fn::GetAtt": [stream, "Arn"]},
                    "IAMRoleARN": {"Fn::GetAtt": [role, "Arn"]},
                },
            },
        },
    )


def test_only_ses_for_this_configuration_set_may_assume_the_role(template: Template) -> None:
    # GIVEN the role SES publishes with
    config = _logical_id(template, "AWS::SES::ConfigurationSet", "Config")
    role = _one(template, "AWS::IAM::Role", {"Description": Match.string_like_regexp("^SES publishes")})
    # WHEN its trust policy is read
    [statement] = role["AssumeRolePolicyDocument"]["Statement"]
    # THEN only ses.amazonaws.com, for this account and this configuration set, may assume it
    assert statement["Principal"] == {"Service": "ses.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {
            "aws:SourceAccount": "111111111111",
            "aws:SourceArn": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":ses:eu-west-1:111111111111:configuration-set/",
                        {"Ref": config},
                    ],
                ]
            },
        }
    }


def test_the_ses_role_may_put_records_on_this_stream_only(template: Template) -> None:
    # GIVEN the SES role's policy THEN it allows PutRecord / PutRecordBatch on the archive's stream only
    stream = _logical_id(template, "AWS::KinesisFirehose::DeliveryStream", "ArchiveDeliveryStream")
    role = _logical_id(template, "AWS::IAM::Role", "ArchiveSesRole")
    policy = _one(template, "AWS::IAM::Policy", {"Roles": [{"Ref": role}]})
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [stream, "Arn"]},
        }
    ]


def test_the_stream_partitions_by_event_type_and_day_and_encrypts(template: Template) -> None:
    # GIVEN the delivery stream THEN it is DirectPut, encrypted with the archive's key, and writes to S3 under
    # the event-type / day prefix extracted with a JQ query
    key = _logical_id(template, "AWS::KMS::Key", "ArchiveKey")
    stream = _one(template, "AWS::KinesisFirehose::DeliveryStream")
    assert stream["DeliveryStreamType"] == "DirectPut"
    assert stream["DeliveryStreamEncryptionConfigurationInput"] == {
        "KeyARN": {"Fn::GetAtt": [key, "Arn"]},
        "KeyType": "CUSTOMER_MANAGED_CMK",
    }
    s3_config = stream["ExtendedS3DestinationConfiguration"]
    assert (
        s3_config["Prefix"]
        == "events/event_type=!{partitionKeyFromQuery:event_type}/dt=!{timestamp:yyyy-MM-dd}/"
    )
    assert (
        s3_config["ErrorOutputPrefix"] == "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
    )
    assert s3_config["DynamicPartitioningConfiguration"] == {"Enabled": True}
    assert s3_config["BufferingHints"] == {"IntervalInSeconds": 300, "SizeInMBs": 64}
    assert s3_config["EncryptionConfiguration"] == {
        "KMSEncryptionConfig": {"AWSKMSKeyARN": {"Fn::GetAtt": [key, "Arn"]}}
    }
    [processor] = s3_config["ProcessingConfiguration"]["Processors"]
    assert processor["Type"] == "MetadataExtraction"
    parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert parameters == {
        "MetadataExtractionQuery": '{"event_type":.eventType}',
        "JsonParsingEngine": "JQ-1.6",
    }
    # Firehose's delivery errors are logged (CloudWatch Logs)
    assert s3_config["CloudWatchLoggingOptions"]["Enabled"] is True


def test_without_event_type_partitions_the_stream_partitions_by_day_only(by_date_only: Template) -> None:
    # GIVEN partition_by_event_type=False, a 60 s buffer and an imported configuration set THEN the prefix
    # has the day only, without dynamic partitioning, and the destination names the imported set
    s3_config = _one(by_date_only, "AWS::KinesisFirehose::DeliveryStream")[
        "ExtendedS3DestinationConfiguration"
    ]
    assert s3_config["Prefix"] == "events/dt=!{timestamp:yyyy-MM-dd}/"
    assert "DynamicPartitioningConfiguration" not in s3_config
    assert "ProcessingConfiguration" not in s3_config
    assert s3_config["BufferingHints"] == {"IntervalInSeconds": 60, "SizeInMBs": 5}
    by_date_only.has_resource_properties(
        "AWS::SES::ConfigurationSetEventDestination",
        {
            "ConfigurationSetName": "marketing",
            "EventDestination": {"MatchingEventTypes": ["bounce", "complaint"]},
        },
    )


# --- the bucket -----------------------------------------------------------------------------------------
def test_the_bucket_is_encrypted_with_the_key_private_and_logged(template: Template) -> None:
    # GIVEN the archive bucket THEN it is SSE-KMS with the rotating key, private, and logs to the log bucket
    key = _logical_id(template, "AWS::KMS::Key", "ArchiveKey")
    logs = _logical_id(template, "AWS::S3::Bucket", "ArchiveAccessLogs")
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    bucket = _one(template, "AWS::S3::Bucket", {"LoggingConfiguration": Match.any_value()})
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {
            "BucketKeyEnabled": True,
            "ServerSideEncryptionByDefault": {
                "KMSMasterKeyID": {"Fn::GetAtt": [key, "Arn"]},
                "SSEAlgorithm": "aws:kms",
            },
        }
    ]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": logs},
        "LogFilePrefix": "archive/",
    }


def test_the_lifecycle_archives_then_expires_events(template: Template, by_date_only: Template) -> None:
    # GIVEN the default and a custom lifecycle THEN events transition, then expire, as configured; errors
    # and query results expire
    rules = {
        r["Id"]: r
        for r in _one(template, "AWS::S3::Bucket", {"LoggingConfiguration": Match.any_value()})[
            "LifecycleConfiguration"
        ]["Rules"]
    }
    assert rules["ArchiveEvents"]["Prefix"] == "events/"
    assert rules["ArchiveEvents"]["ExpirationInDays"] == 365
    assert rules["ArchiveEvents"]["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": 90}]
    assert rules["ExpireDeliveryErrors"] == {
        "Id": "ExpireDeliveryErrors",
        "Prefix": "errors/",
        "ExpirationInDays": 365,
        "Status": "Enabled",
    }
    assert rules["ExpireQueryResults"]["ExpirationInDays"] == 30
    custom = {
        r["Id"]: r
        for r in _one(by_date_only, "AWS::S3::Bucket", {"LoggingConfiguration": Match.any_value()})[
            "LifecycleConfiguration"
        ]["Rules"]
    }
    assert custom["ArchiveEvents"]["ExpirationInDays"] == 730
    assert custom["ArchiveEvents"]["Transitions"] == [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}]


def test_both_buckets_refuse_plain_http(template: Template) -> None:
    # GIVEN the archive and log buckets' policies
    policies = template.find_resources("AWS::S3::BucketPolicy")
    # THEN each denies every request without TLS
    assert len(policies) == 2
    for policy in policies.values():
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert [(s["Action"], s["Principal"], s["Condition"]) for s in denies] == [
            ("s3:*", {"AWS": "*"}, {"Bool": {"aws:SecureTransport": "false"}})
        ]


def test_s3_may_deliver_access_logs_for_the_archive_only(template: Template) -> None:
    # GIVEN the log bucket THEN it is SSE-S3, owner-enforced, and S3 log delivery may write for the archive
    # bucket only
    archive = _logical_id(template, "AWS::S3::Bucket", "ArchiveBucket")
    logs = _logical_id(template, "AWS::S3::Bucket", "ArchiveAccessLogs")
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        },
    )
    policy = _one(template, "AWS::S3::BucketPolicy", {"Bucket": {"Ref": logs}})
    [statement] = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert statement["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert statement["Action"] == "s3:PutObject"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "111111111111"},
        "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [archive, "Arn"]}},
    }


# --- Glue and Athena ------------------------------------------------------------------------------------
def test_the_table_reads_the_events_with_projected_partitions(template: Template) -> None:
    # GIVEN the Glue table THEN it reads events/ with the OpenX JSON SerDe and projects both partitions
    archive = _logical_id(template, "AWS::S3::Bucket", "ArchiveBucket")
    table = _one(template, "AWS::Glue::Table")["TableInput"]
    assert table["Name"] == "ses_events"
    assert table["PartitionKeys"] == [
        {"Name": "event_type", "Type": "string"},
        {"Name": "dt", "Type": "string"},
    ]
    descriptor = table["StorageDescriptor"]
    assert descriptor["Location"] == {"Fn::Join": ["", ["s3://", {"Ref": archive}, "/events/"]]}
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    parameters = table["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.dt.type"] == "date"
    assert parameters["projection.dt.format"] == "yyyy-MM-dd"
    assert parameters["projection.dt.range"] == "NOW-365DAYS,NOW"
    assert parameters["projection.event_type.type"] == "enum"
    assert parameters["projection.event_type.values"].split(",") == list(EVENT_TYPE_VALUES.values())
    assert parameters["storage.location.template"] == {
        "Fn::Join": ["", ["s3://", {"Ref": archive}, "/events/event_type=${event_type}/dt=${dt}/"]]
    }


def test_without_event_type_partitions_the_table_projects_the_day_only(by_date_only: Template) -> None:
    # GIVEN partition_by_event_type=False and two years' retention THEN only the day is projected, over it
    table = _one(by_date_only, "AWS::Glue::Table")
    assert table["DatabaseName"] == "mail_audit"
    parameters = table["TableInput"]["Parameters"]
    assert table["TableInput"]["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert parameters["projection.dt.range"] == "NOW-730DAYS,NOW"
    assert not any(k.startswith("projection.event_type") for k in parameters)
    assert parameters["storage.location.template"]["Fn::Join"][1][-1] == "/events/dt=${dt}/"


# A minimal reader of Hive type strings: struct<a:t,...>, array<t>, map<k,v>, primitives.
def _parse_type(text: str) -> tuple[Any, str]:
    for kind in ("struct<", "array<", "map<"):
        if text.startswith(kind):
            rest = text[len(kind) :]
            if kind == "array<":
                element, rest = _parse_type(rest)
                return ("array", element), rest[1:]
            if kind == "map<":
                key, rest = _parse_type(rest)
                value, rest = _parse_type(rest[1:])
                return ("map", key, value), rest[1:]
            fields: dict[str, Any] = {}
            while not rest.startswith(">"):
                name, rest = rest.split(":", 1)
                fields[name], rest = _parse_type(rest)
                rest = rest[1:] if rest.startswith(",") else rest
            return ("struct", fields), rest[1:]
    match = re.match(r"[a-z]+", text)
    assert match, text
    return ("primitive", match.group(0)), text[match.end() :]


def _uncovered(value: Any, hive: Any, path: str) -> list[str]:
    """The JSON paths of ``value`` the Hive type does not read (names compared as the SerDe does)."""
    if value is None:
        return []
    kind = hive[0]
    if isinstance(value, dict):
        if kind == "map":
            return [p for k, v in value.items() for p in _uncovered(v, hive[2], f"{path}.{k}")]
        if kind != "struct":
            return [path]
        fields = hive[1]
        return [
            p
            for k, v in value.items()
            for p in (
                _uncovered(v, fields[k.lower()], f"{path}.{k}") if k.lower() in fields else [f"{path}.{k}"]
            )
        ]
    if isinstance(value, list):
        return (
            [p for item in value for p in _uncovered(item, hive[1], f"{path}[]")]
            if kind == "array"
            else [path]
        )
    expected = {bool: "boolean", int: "bigint", float: "double", str: "string"}[type(value)]
    return (
        []
        if hive == ("primitive", expected) or (expected == "bigint" and hive[1] == "double")
        else [f"{path}: {hive}"]
    )


SAMPLES = sorted(EVENTS.glob("ses_event_*.json"))


def test_there_are_ses_event_samples_of_every_type() -> None:
    # GIVEN the samples the column test reads THEN there is one of every event type (none left untested)
    types = {json.loads(p.read_text())["eventType"] for p in SAMPLES}
    assert types == set(EVENT_TYPE_VALUES.values())


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_the_table_columns_read_every_field_of_the_sample(template: Template, sample: Path) -> None:
    # GIVEN the table's columns, as Hive types, and a documented SES event record
    columns = _one(template, "AWS::Glue::Table")["TableInput"]["StorageDescriptor"]["Columns"]
    struct = ("struct", {c["Name"]: _parse_type(c["Type"])[0] for c in columns})
    record = json.loads(sample.read_text())
    # WHEN every field of the record is looked up in the columns (``send`` is an empty object)
    uncovered = _uncovered({k: v for k, v in record.items() if v != {}}, struct, "")
    # THEN each one is read, with its type
    assert uncovered == []


def test_the_saved_queries_run_in_an_encrypted_workgroup(template: Template) -> None:
    # GIVEN the workgroup and the saved queries THEN results are KMS-encrypted (enforced) and each query
    # reads the table of the archive's database, filtered on the day partitions
    key = _logical_id(template, "AWS::KMS::Key", "ArchiveKey")
    archive = _logical_id(template, "AWS::S3::Bucket", "ArchiveBucket")
    work_group = _one(template, "AWS::Athena::WorkGroup")
    configuration = work_group["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["ResultConfiguration"] == {
        "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": {"Fn::GetAtt": [key, "Arn"]}},
        "OutputLocation": {"Fn::Join": ["", ["s3://", {"Ref": archive}, "/athena-results/"]]},
    }
    queries = {
        q["Properties"]["Name"]: q for q in template.find_resources("AWS::Athena::NamedQuery").values()
    }
    assert sorted(queries) == ["BouncesByType", "ComplaintFeedback", "EventsForAddress"]
    database = _one(template, "AWS::Glue::Database")["DatabaseInput"]["Name"]
    for query in queries.values():
        assert query["Properties"]["WorkGroup"] == work_group["Name"]
        assert query["Properties"]["Database"] == database
        assert "FROM ses_events" in query["Properties"]["QueryString"]
        assert "dt BETWEEN ? AND ?" in query["Properties"]["QueryString"]
        assert len(query["DependsOn"]) == 2  # the table and the workgroup
    assert "lower(?)" in queries["EventsForAddress"]["Properties"]["QueryString"]
    assert "event_type = 'Bounce'" in queries["BouncesByType"]["Properties"]["QueryString"]
    assert "event_type = 'Complaint'" in queries["ComplaintFeedback"]["Properties"]["QueryString"]


def test_an_existing_workgroup_is_used_as_is(by_date_only: Template) -> None:
    # GIVEN work_group_name="primary" THEN no workgroup is created and the queries filter on eventtype
    by_date_only.resource_count_is("AWS::Athena::WorkGroup", 0)
    queries = by_date_only.find_resources("AWS::Athena::NamedQuery")
    assert {q["Properties"]["WorkGroup"] for q in queries.values()} == {"primary"}
    bounces = next(q for q in queries.values() if q["Properties"]["Name"] == "BouncesByType")
    assert "eventtype = 'Bounce'" in bounces["Properties"]["QueryString"]
    assert "FROM marketing_events" in bounces["Properties"]["QueryString"]


def test_grant_query_covers_the_workgroup_catalog_bucket_and_key() -> None:
    # GIVEN a role granted querying WHEN its policy is read THEN it covers Athena, Glue, S3 and KMS
    stack = Stack(App(), "Grants", env=ENV)
    archive = EmailEventArchive(stack, "Archive", configuration_set=EmailConfigurationSet(stack, "Config"))
    analyst = iam.Role(stack, "Analyst", assumed_by=iam.AccountRootPrincipal())
    archive.grant_query(analyst)
    statements = Template.from_stack(stack).find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": Match.string_like_regexp("^Analyst")}]}}
    )
    [policy] = statements.values()
    actions = {
        a
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {
        "athena:StartQueryExecution",
        "athena:GetQueryResults",
        "glue:GetTable",
        "glue:GetPartitions",
        "s3:GetObject*",
        "s3:PutObject",
        "kms:Decrypt",
    } <= actions


# --- validation, warnings, compliance ---------------------------------------------------------------------
def test_fails_listing_every_misconfiguration() -> None:
    # GIVEN no event types, archive_after = retention, a 30 s buffer and an upper-case table name
    # WHEN the archive is created THEN one error lists all four, with the construct path
    stack = Stack(App(), "Bad")
    config = EmailConfigurationSet(stack, "Config")
    with pytest.raises(NotificationConfigError) as caught:
        EmailEventArchive(
            stack,
            "Archive",
            configuration_set=config,
            event_types=[],
            retention=Duration.days(30),
            archive_after=Duration.days(30),
            buffering_interval=Duration.seconds(30),
            table_name="Mail-Events",
        )
    problems = caught.value.problems
    assert len(problems) == 4
    assert all(p.startswith("[Bad/Archive]") for p in problems)
    assert any("event_types: choose at least one" in p for p in problems)
    assert any("archive_after (30 days) must be shorter than retention (30 days)" in p for p in problems)
    assert any("buffering_interval: 60-900 seconds" in p for p in problems)
    assert any("table_name" in p and "'Mail-Events'" in p for p in problems)


def test_warns_when_archived_events_leave_athenas_reach() -> None:
    # GIVEN Deep Archive as the archive class THEN a synth warning says Athena will not read those events
    stack = Stack(App(), "Deep")
    EmailEventArchive(
        stack,
        "Archive",
        configuration_set=EmailConfigurationSet(stack, "Config"),
        archive_storage_class=s3.StorageClass.DEEP_ARCHIVE,
    )
    Annotations.from_stack(stack).has_warning(
        "/Deep/Archive", Match.string_like_regexp("Athena does not read")
    )


def test_cdk_nag_and_cfn_lint_are_clean() -> None:
    # GIVEN the archive in a stack under both nag packs
    app = App()
    stack = Stack(app, "Nag", env=ENV)
    EmailEventArchive(stack, "Archive", configuration_set=EmailConfigurationSet(stack, "Config"))
    add_nag_packs(app)
    # WHEN synthesized THEN no finding is left unacknowledged (synth_with_nag raises) and cfn-lint is quiet
    assembly, _ = synth_with_nag(app)
    assert cfn_lint(dict(assembly.get_stack_by_name("Nag").template)) == []
