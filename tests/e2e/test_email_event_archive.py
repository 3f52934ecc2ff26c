"""EmailEventArchive on the sandbox: SES events reach the Firehose stream and land in S3 under the
partition prefix, as JSON lines the Glue table reads; first through the APIs, then as a deployed stack."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_cdk import App, Stack
from botocore.exceptions import ClientError

from notification_constructs import EmailConfigurationSet
from notification_constructs.email_event_archive import EVENTS_PREFIX, SES_EVENT_COLUMNS, EmailEventArchive
from notification_constructs.testing import Sandbox

STACK = "MailArchive"
SENDER = "Shop <orders@archive.example.com>"
SIM = "simulator.amazonses.com"


def _today() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%d")


def _records(sandbox: Sandbox, bucket: str, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    """Every JSON line of every object under ``prefix``, with the key it was read from."""
    s3 = sandbox.client("s3")
    found: list[tuple[str, dict[str, Any]]] = []
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
        assert body.endswith("\n"), "SES ends each record with a newline"
        found.extend((item["Key"], json.loads(line)) for line in body.splitlines() if line)
    return found


def _message_records(
    sandbox: Sandbox, bucket: str, prefix: str, message_id: str
) -> list[tuple[str, dict[str, Any]]]:
    return [(k, r) for k, r in _records(sandbox, bucket, prefix) if r["mail"]["messageId"] == message_id]


# --- the sandbox's Firehose destinations, set up through the APIs -----------------------------------------
@pytest.fixture(scope="module")
def api_setup(sandbox: Sandbox) -> dict[str, str]:
    """GIVEN a bucket, a role, two delivery streams (one partitioning on ``eventType``, one on a field
    SES does not send) and a configuration set publishing every event type to both."""
    s3, iam, firehose, sesv2 = (sandbox.client(s) for s in ("s3", "iam", "firehose", "sesv2"))
    bucket = "api-event-archive"
    location = {} if sandbox.region == "us-east-1" else {"LocationConstraint": sandbox.region}
    s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": location} if location else {}))
    role = iam.create_role(RoleName="ses-to-firehose", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    streams = {}
    for name, query, prefix in (
        ("by-type", "{event_type: .eventType}", "typed/event_type=!{partitionKeyFromQuery:event_type}/"),
        ("by-missing", "{flow: .mail.flow}", "missing/flow=!{partitionKeyFromQuery:flow}/"),
    ):
        streams[name] = firehose.create_delivery_stream(
            DeliveryStreamName=name,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": role,
                "BucketARN": f"arn:aws:s3:::{bucket}",
                "Prefix": prefix + "dt=!{timestamp:yyyy-MM-dd}/",
                "ErrorOutputPrefix": f"errors/{name}/!{{firehose:error-output-type}}/",
                "DynamicPartitioningConfiguration": {"Enabled": True},
                "ProcessingConfiguration": {
                    "Enabled": True,
                    "Processors": [
                        {
                            "Type": "MetadataExtraction",
                            "Parameters": [
                                {"ParameterName": "MetadataExtractionQuery", "ParameterValue": query},
                                {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
                            ],
                        }
                    ],
                },
            },
        )["DeliveryStreamARN"]
    sesv2.create_email_identity(EmailIdentity="api.example.com")
    sesv2.create_configuration_set(ConfigurationSetName="archived-api")
    for name, arn in streams.items():
        sesv2.create_configuration_set_event_destination(
            ConfigurationSetName="archived-api",
            EventDestinationName=f"to-{name}",
            EventDestination={
                "Enabled": True,
                "MatchingEventTypes": ["SEND", "DELIVERY", "BOUNCE"],
                "KinesisFirehoseDestination": {"IamRoleArn": role, "DeliveryStreamArn": arn},
            },
        )
    return {"bucket": bucket, "role": role}


def test_the_event_destination_reads_back_in_the_apis_shape(
    sandbox: Sandbox, api_setup: dict[str, str]
) -> None:
    # WHEN the destinations are read back THEN they carry the stream and role in the SESv2 spelling
    described = sandbox.client("sesv2").get_configuration_set_event_destinations(
        ConfigurationSetName="archived-api"
    )["EventDestinations"]
    assert {d["KinesisFirehoseDestination"]["IamRoleArn"] for d in described} == {api_setup["role"]}
    assert sorted(
        d["KinesisFirehoseDestination"]["DeliveryStreamArn"].rsplit("/", 1)[1] for d in described
    ) == [
        "by-missing",
        "by-type",
    ]


def test_fails_to_add_a_destination_to_a_missing_stream(sandbox: Sandbox, api_setup: dict[str, str]) -> None:
    # GIVEN a delivery stream ARN that names no stream WHEN it is made a destination
    sesv2 = sandbox.client("sesv2")
    with pytest.raises(ClientError) as caught:
        sesv2.create_configuration_set_event_destination(
            ConfigurationSetName="archived-api",
            EventDestinationName="to-nowhere",
            EventDestination={
                "Enabled": True,
                "MatchingEventTypes": ["SEND"],
                "KinesisFirehoseDestination": {
                    "IamRoleArn": api_setup["role"],
                    "DeliveryStreamArn": f"arn:aws:firehose:{sandbox.region}:{sandbox.account}:deliverystream/none",
                },
            },
        )
    # THEN SES refuses it, as it checks the stream when the destination is created
    assert caught.value.response["Error"]["Code"] == "BadRequestException"


def test_each_event_lands_under_its_event_type_partition(sandbox: Sandbox, api_setup: dict[str, str]) -> None:
    # WHEN a message is sent to a bouncing address through the configuration set
    message_id = sandbox.client("sesv2").send_email(
        FromEmailAddress="orders@api.example.com",
        Destination={"ToAddresses": [f"bounce@{SIM}"]},
        Content={"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hello"}}}},
        ConfigurationSetName="archived-api",
    )["MessageId"]
    # THEN its Send and Bounce records are JSON lines under event_type=<eventType>/dt=<today>/
    records = _message_records(sandbox, api_setup["bucket"], "typed/", message_id)
    by_type = {r["eventType"]: key for key, r in records}
    assert sorted(by_type) == ["Bounce", "Send"]
    for event_type, key in by_type.items():
        assert key.startswith(f"typed/event_type={event_type}/dt={_today()}/by-type-1-")


def test_a_record_without_the_partition_key_goes_to_the_error_prefix(
    sandbox: Sandbox, api_setup: dict[str, str]
) -> None:
    # WHEN a message is sent and the second stream partitions on a field SES records do not have
    message_id = sandbox.client("sesv2").send_email(
        FromEmailAddress="orders@api.example.com",
        Destination={"ToAddresses": [f"success@{SIM}"]},
        Content={"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hello"}}}},
        ConfigurationSetName="archived-api",
    )["MessageId"]
    # THEN nothing is under its data prefix for this message, and its records are Firehose error records
    assert _message_records(sandbox, api_setup["bucket"], "missing/", message_id) == []
    s3 = sandbox.client("s3")
    raw = []
    for item in s3.list_objects_v2(Bucket=api_setup["bucket"], Prefix="errors/by-missing/").get(
        "Contents", []
    ):
        assert item["Key"].startswith("errors/by-missing/processing-failed/")
        error = json.loads(s3.get_object(Bucket=api_setup["bucket"], Key=item["Key"])["Body"].read())
        assert error["errorCode"] == "DynamicPartitioning.MetadataExtractionFailed"
        raw.append(json.loads(base64.b64decode(error["rawData"])))
    assert sorted(r["eventType"] for r in raw if r["mail"]["messageId"] == message_id) == ["Delivery", "Send"]


# --- the construct, deployed with the CDK CLI ---------------------------------------------------------------
def build_app() -> App:
    app = App()
    stack = Stack(app, STACK)
    config = EmailConfigurationSet(stack, "Config", configuration_set_name="archived")
    EmailEventArchive(stack, "Archive", configuration_set=config, table_name="mail_events")
    return app


@pytest.fixture(scope="module")
def deployed(sandbox: Sandbox) -> dict[str, str]:
    """GIVEN the stack deployed, and a verified sender domain."""
    sandbox.deploy(build_app(), stacks=STACK)
    resources = sandbox.client("cloudformation").describe_stack_resources(StackName=STACK)["StackResources"]

    def physical(resource_type: str, logical_prefix: str) -> str:
        return next(
            r["PhysicalResourceId"]
            for r in resources
            if r["ResourceType"] == resource_type and r["LogicalResourceId"].startswith(logical_prefix)
        )

    sandbox.client("sesv2").create_email_identity(EmailIdentity="archive.example.com")
    return {
        "bucket": physical("AWS::S3::Bucket", "ArchiveBucket"),
        "database": physical("AWS::Glue::Database", "ArchiveDatabase"),
        "work_group": physical("AWS::Athena::WorkGroup", "ArchiveWorkGroup"),
    }


def test_sent_mail_is_archived_under_the_partition_prefix(sandbox: Sandbox, deployed: dict[str, str]) -> None:
    # WHEN mail is sent through the configuration set to a delivering and a bouncing address
    message_id = sandbox.client("sesv2").send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": [f"success@{SIM}", f"bounce@{SIM}"]},
        Content={"Simple": {"Subject": {"Data": "Your order"}, "Body": {"Text": {"Data": "Thanks"}}}},
        ConfigurationSetName="archived",
        EmailTags=[{"Name": "flow", "Value": "order-confirmation"}],
    )["MessageId"]
    # THEN each event is a JSON line under events/event_type=<eventType>/dt=<today>/ in the archive bucket
    records = _message_records(sandbox, deployed["bucket"], EVENTS_PREFIX, message_id)
    assert sorted(r["eventType"] for _, r in records) == ["Bounce", "Delivery", "Send"]
    for key, record in records:
        assert key.startswith(f"{EVENTS_PREFIX}event_type={record['eventType']}/dt={_today()}/")
        assert record["mail"]["tags"]["flow"] == ["order-confirmation"]
        # AND every top-level field of the record is a column of the table
        assert set(record) - {"send"} <= set(SES_EVENT_COLUMNS)


def test_the_objects_are_encrypted_with_the_archives_key(sandbox: Sandbox, deployed: dict[str, str]) -> None:
    # GIVEN the archived objects WHEN their encryption is read THEN it is SSE-KMS
    s3 = sandbox.client("s3")
    objects = s3.list_objects_v2(Bucket=deployed["bucket"], Prefix=EVENTS_PREFIX).get("Contents", [])
    assert objects
    head = s3.head_object(Bucket=deployed["bucket"], Key=objects[0]["Key"])
    assert head["ServerSideEncryption"] == "aws:kms"


def test_the_glue_table_and_saved_queries_exist(sandbox: Sandbox, deployed: dict[str, str]) -> None:
    # WHEN the catalog and Athena are asked
    table = sandbox.client("glue").get_table(DatabaseName=deployed["database"], Name="mail_events")["Table"]
    athena = sandbox.client("athena")
    ids = athena.list_named_queries(WorkGroup=deployed["work_group"])["NamedQueryIds"]
    names = {athena.get_named_query(NamedQueryId=i)["NamedQuery"]["Name"] for i in ids}
    # THEN the table reads the events prefix with projected partitions, and the three queries are saved
    assert table["StorageDescriptor"]["Location"] == f"s3://{deployed['bucket']}/{EVENTS_PREFIX}"
    assert [k["Name"] for k in table["PartitionKeys"]] == ["event_type", "dt"]
    assert table["Parameters"]["projection.enabled"] == "true"
    assert {"EventsForAddress", "BouncesByType", "ComplaintFeedback"} <= names
