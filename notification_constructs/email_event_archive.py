"""EmailEventArchive: every SES event of a configuration set, through Firehose, into S3, queryable in Athena."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Annotations, Duration, Names, RemovalPolicy, Size, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from constructs import Construct

from ._defaults import SES_SERVICE_PRINCIPAL, new_cmk
from ._validation import Problems, acknowledge, is_token
from .fan_out_topic import nag_flat

__all__ = [
    "ARCHIVED_EVENT_TYPES",
    "EVENTS_PREFIX",
    "EVENT_TYPE_VALUES",
    "SES_EVENT_COLUMNS",
    "EmailEventArchive",
]

#: The ``eventType`` of the records SES publishes for each event type:
#: https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-firehose-contents.html
EVENT_TYPE_VALUES: Mapping[ses.EmailSendingEvent, str] = {
    ses.EmailSendingEvent.SEND: "Send",
    ses.EmailSendingEvent.REJECT: "Reject",
    ses.EmailSendingEvent.BOUNCE: "Bounce",
    ses.EmailSendingEvent.COMPLAINT: "Complaint",
    ses.EmailSendingEvent.DELIVERY: "Delivery",
    ses.EmailSendingEvent.OPEN: "Open",
    ses.EmailSendingEvent.CLICK: "Click",
    ses.EmailSendingEvent.RENDERING_FAILURE: "Rendering Failure",
    ses.EmailSendingEvent.DELIVERY_DELAY: "DeliveryDelay",
    ses.EmailSendingEvent.SUBSCRIPTION: "Subscription",
}

#: An archive answers "what happened to this message / address": every event type by default.
ARCHIVED_EVENT_TYPES: tuple[ses.EmailSendingEvent, ...] = tuple(EVENT_TYPE_VALUES)

DEFAULT_RETENTION = Duration.days(365)
DEFAULT_ARCHIVE_AFTER = Duration.days(90)
DEFAULT_BUFFERING_INTERVAL = Duration.minutes(5)
DEFAULT_QUERY_RESULTS_RETENTION = Duration.days(30)

#: Where the events are written in the bucket; the Glue table's location.
EVENTS_PREFIX = "events/"
_ERRORS_PREFIX = "errors/"
_RESULTS_PREFIX = "athena-results/"
_ACCESS_LOGS_PREFIX = "archive/"
_DATE_PARTITION = "dt"
_EVENT_TYPE_PARTITION = "event_type"

# --- the Glue schema: the SES event record as documented ------------------------------------------------
# https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-firehose-contents.html
# Field names as SES spells them; the table stores them lower-cased, as Athena does (the OpenX JSON SerDe
# matches keys case-insensitively, and Athena identifiers are case-insensitive, so ``mail.messageId`` works).
_Type = str | dict[str, Any] | list[Any]
_S = "string"
_TOPIC_STATUS: list[Any] = [{"topicName": _S, "subscriptionStatus": _S}]
_PREFERENCES = {
    "unsubscribeAll": "boolean",
    "topicSubscriptionStatus": _TOPIC_STATUS,
    "topicDefaultSubscriptionStatus": _TOPIC_STATUS,
}
_TAGS = "map<string,array<string>>"

#: Top-level column -> type (a dict is a struct, a one-element list an array). ``send`` is omitted: SES
#: publishes it as an empty object (Hive has no empty struct); ``eventtype = 'Send'`` finds those events.
SES_EVENT_COLUMNS: Mapping[str, _Type] = {
    "eventType": _S,
    "mail": {
        "timestamp": _S,
        "messageId": _S,
        "source": _S,
        "sourceArn": _S,
        "sourceIp": _S,
        "sendingAccountId": _S,
        "callerIdentity": _S,
        "destination": [_S],
        "headersTruncated": "boolean",
        "headers": [{"name": _S, "value": _S}],
        "commonHeaders": {
            "from": [_S],
            "to": [_S],
            "cc": [_S],
            "bcc": [_S],
            "replyTo": [_S],
            "returnPath": _S,
            "date": _S,
            "messageId": _S,
            "subject": _S,
        },
        "tags": _TAGS,
    },
    "bounce": {
        "bounceType": _S,
        "bounceSubType": _S,
        "bouncedRecipients": [{"emailAddress": _S, "action": _S, "status": _S, "diagnosticCode": _S}],
        "timestamp": _S,
        "feedbackId": _S,
        "reportingMTA": _S,
        "remoteMtaIp": _S,
    },
    "complaint": {
        "complainedRecipients": [{"emailAddress": _S}],
        "timestamp": _S,
        "feedbackId": _S,
        "complaintSubType": _S,
        "userAgent": _S,
        "complaintFeedbackType": _S,
        "arrivalDate": _S,
    },
    "delivery": {
        "timestamp": _S,
        "processingTimeMillis": "bigint",
        "recipients": [_S],
        "smtpResponse": _S,
        "reportingMTA": _S,
        "remoteMtaIp": _S,
    },
    "reject": {"reason": _S},
    "open": {"ipAddress": _S, "timestamp": _S, "userAgent": _S},
    "click": {"ipAddress": _S, "timestamp": _S, "userAgent": _S, "link": _S, "linkTags": _TAGS},
    "failure": {"errorMessage": _S, "templateName": _S},
    "deliveryDelay": {
        "timestamp": _S,
        "delayType": _S,
        "expirationTime": _S,
        "reportingMTA": _S,
        "delayedRecipients": [{"emailAddress": _S, "status": _S, "diagnosticCode": _S}],
    },
    "subscription": {
        "contactList": _S,
        "timestamp": _S,
        "source": _S,
        "newTopicPreferences": _PREFERENCES,
        "oldTopicPreferences": _PREFERENCES,
    },
}


def hive_type(value: _Type) -> str:
    """The Hive type string of a :data:`SES_EVENT_COLUMNS` entry (field names lower-cased)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return f"array<{hive_type(value[0])}>"
    return "struct<" + ",".join(f"{name.lower()}:{hive_type(t)}" for name, t in value.items()) + ">"


# --- saved queries ------------------------------------------------------------------------------------
# Athena prompts for the ``?`` parameters when a saved query is run from the console (or pass them as
# ExecutionParameters to StartQueryExecution). Dates are the partition values, 'yyyy-MM-dd' (UTC).
_QUERIES: Mapping[str, tuple[str, str]] = {
    "EventsForAddress": (
        "Every event of the messages sent to one address between two dates (inclusive): parameters "
        "address, first day, last day ('2026-03-01', '2026-03-31').",
        "SELECT mail.timestamp AS sent_at, eventtype, mail.messageid, mail.commonheaders.subject,\n"
        "       bounce.bouncetype, bounce.bouncesubtype, complaint.complaintfeedbacktype,\n"
        "       deliverydelay.delaytype, reject.reason, failure.errormessage, dt\n"
        "FROM {table}\n"
        "WHERE contains(transform(mail.destination, d -> lower(d)), lower(?))\n"
        "  AND dt BETWEEN ? AND ?\n"
        "ORDER BY mail.timestamp, eventtype",
    ),
    "BouncesByType": (
        "Bounces by type and subtype between two dates (inclusive): parameters first day, last day.",
        "SELECT bounce.bouncetype, bounce.bouncesubtype, count(*) AS bounces,\n"
        "       count(DISTINCT mail.messageid) AS messages\n"
        "FROM {table}\n"
        "WHERE {bounce_filter} AND dt BETWEEN ? AND ?\n"
        "GROUP BY bounce.bouncetype, bounce.bouncesubtype\n"
        "ORDER BY bounces DESC",
    ),
    "ComplaintFeedback": (
        "Complaints with their feedback type and recipients between two dates (inclusive): parameters "
        "first day, last day.",
        "SELECT complaint.timestamp, complaint.complaintfeedbacktype, complaint.complaintsubtype,\n"
        "       complaint.useragent, r.emailaddress, mail.messageid, mail.commonheaders.subject\n"
        "FROM {table}\n"
        "CROSS JOIN UNNEST(complaint.complainedrecipients) AS t(r)\n"
        "WHERE {complaint_filter} AND dt BETWEEN ? AND ?\n"
        "ORDER BY complaint.timestamp",
    ),
}

# Storage classes Athena cannot read without a restore: it skips (or fails on) such objects:
# https://docs.aws.amazon.com/athena/latest/ug/querying-glacier.html
_UNQUERYABLE_CLASSES = ("GLACIER", "DEEP_ARCHIVE")


class EmailEventArchive(Construct):
    """Every SES event of a configuration set archived in S3 and queryable with Athena, no crawler needed.

    - A configuration-set event destination to a Firehose stream (``DirectPut``, encrypted), which
      writes the JSON records (one a line: SES ends each with a newline) to S3 under
      ``events/event_type=<eventType>/dt=<yyyy-MM-dd>/`` (dynamic partitioning on the record's
      ``eventType``, arrival day in UTC), or ``events/dt=<yyyy-MM-dd>/`` with
      ``partition_by_event_type=False``.
    - SES publishes through its own role, assumable by ``ses.amazonaws.com`` for this configuration set
      only (``aws:SourceAccount``, ``aws:SourceArn``), allowed ``firehose:PutRecord`` /
      ``firehose:PutRecordBatch`` on this stream only.
    - The bucket: a customer-managed key (SSE-KMS with a bucket key), TLS-only bucket policy, public
      access blocked, server access logs to a log bucket, lifecycle: events move to
      ``archive_storage_class`` after ``archive_after`` and expire after ``retention``.
    - A Glue database and table over the documented SES event JSON (OpenX JSON SerDe, every field of
      every event type) with partition projection on the day (and event type), so new partitions need no
      crawler or ``MSCK REPAIR``; an Athena workgroup with KMS-encrypted results (enforced) and saved
      queries: ``EventsForAddress``, ``BouncesByType``, ``ComplaintFeedback``.

    Construct ids (a public contract): ``Key``, ``Bucket``, ``AccessLogs``, ``DeliveryStream``,
    ``SesRole``, ``EventDestination``, ``Database``, ``Table``, ``WorkGroup``, ``Queries/<name>``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        configuration_set: ses.IConfigurationSet,
        event_types: Sequence[ses.EmailSendingEvent] = ARCHIVED_EVENT_TYPES,
        encryption_key: kms.IKey | None = None,
        retention: Duration = DEFAULT_RETENTION,
        archive_after: Duration = DEFAULT_ARCHIVE_AFTER,
        archive_storage_class: s3.StorageClass = s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
        partition_by_event_type: bool = True,
        buffering_interval: Duration = DEFAULT_BUFFERING_INTERVAL,
        access_logs_bucket: s3.IBucket | None = None,
        database_name: str | None = None,
        table_name: str = "ses_events",
        work_group_name: str | None = None,
        query_results_retention: Duration = DEFAULT_QUERY_RESULTS_RETENTION,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """
        :param configuration_set: The configuration set whose events are archived (any
            ``ses.IConfigurationSet``: an :class:`EmailConfigurationSet`, a plain or an imported one).
        :param event_types: Default: every event type (send, reject, bounce, complaint, delivery, open,
            click, rendering failure, delivery delay, subscription).
        :param encryption_key: Key of the bucket, the stream and the query results. Default: - a new
            customer-managed key, rotation on.
        :param retention: How long events are kept (S3 expiration; also the range of the date partition
            projection). Default: 365 days.
        :param archive_after: Age at which events move to ``archive_storage_class``. Default: 90 days.
        :param archive_storage_class: Default: Glacier Instant Retrieval (millisecond reads, so Athena
            still queries the archived events; Glacier Flexible Retrieval and Deep Archive objects are
            skipped by Athena until restored - a synth warning says so).
        :param partition_by_event_type: Partition by ``eventType`` as well as by day (Firehose dynamic
            partitioning: a 64 MiB minimum buffer and a per-GB charge). Default: True.
        :param buffering_interval: How long Firehose buffers before writing an object (60-900 s).
            Default: 5 minutes.
        :param access_logs_bucket: Where the bucket's server access logs go (under ``archive/``; a
            bucket of this app gets the policy statement letting S3 log delivery write there, an imported
            one needs it added by you). Default: - a new log bucket (SSE-S3, as access logging requires;
            TLS only; logs expire with ``retention``).
        :param database_name: Glue database. Default: - derived from the construct path (lower case).
        :param table_name: Glue table. Default: ``ses_events``.
        :param work_group_name: An existing Athena workgroup for the saved queries. Default: - a new
            workgroup with KMS-encrypted results in this bucket (``athena-results/``), enforced.
        :param query_results_retention: How long query results are kept. Default: 30 days.
        :param removal_policy: Of the key and the buckets. Default: RETAIN.
        """
        super().__init__(scope, id)
        problems = Problems(self)
        problems.check(len(event_types) > 0, "event_types: choose at least one event type")
        problems.check(len(set(event_types)) == len(event_types), "event_types: contains duplicates")
        durations = {
            "retention": retention,
            "archive_after": archive_after,
            "buffering_interval": buffering_interval,
            "query_results_retention": query_results_retention,
        }
        if not any(is_token(d) for d in durations.values()):
            problems.check(
                retention.to_days() >= 1, f"retention: at least 1 day, got {retention.to_human_string()}"
            )
            problems.check(
                archive_after.to_days() < retention.to_days(),
                f"archive_after ({archive_after.to_human_string()}) must be shorter than retention "
                f"({retention.to_human_string()})",
            )
            problems.check(
                archive_after.to_days() >= 1,
                f"archive_after: at least 1 day, got {archive_after.to_human_string()}",
            )
            problems.check(
                60 <= buffering_interval.to_seconds() <= 900,
                f"buffering_interval: 60-900 seconds, got {buffering_interval.to_human_string()}",
            )
            problems.check(
                query_results_retention.to_days() >= 1,
                f"query_results_retention: at least 1 day, got {query_results_retention.to_human_string()}",
            )
        if database_name is not None and not is_token(database_name):
            problems.check(
                re.fullmatch(r"[a-z0-9_]{1,255}", database_name) is not None,
                f"database_name: lower-case letters, digits and _ (1-255), got {database_name!r}",
            )
        if not is_token(table_name):
            problems.check(
                re.fullmatch(r"[a-z0-9_]{1,255}", table_name) is not None,
                f"table_name: lower-case letters, digits and _ (1-255), got {table_name!r}",
            )
        problems.raise_if_any()

        stack = Stack.of(self)
        self.event_types = tuple(event_types)
        self.partition_by_event_type = partition_by_event_type
        self.encryption_key: kms.IKey = encryption_key or new_cmk(
            self, "Key", description="SES event archive", removal_policy=removal_policy
        )
        self.configuration_set_arn = stack.format_arn(
            service="ses",
            resource="configuration-set",
            resource_name=configuration_set.configuration_set_name,
        )

        # -- the bucket ---------------------------------------------------------------------------------
        self.access_logs_bucket: s3.IBucket = access_logs_bucket or self._log_bucket(
            retention, removal_policy
        )
        transition = s3.Transition(storage_class=archive_storage_class, transition_after=archive_after)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.encryption_key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ArchiveEvents",
                    prefix=EVENTS_PREFIX,
                    transitions=[transition],
                    expiration=retention,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                s3.LifecycleRule(id="ExpireDeliveryErrors", prefix=_ERRORS_PREFIX, expiration=retention),
                s3.LifecycleRule(
                    id="ExpireQueryResults", prefix=_RESULTS_PREFIX, expiration=query_results_retention
                ),
            ],
        )
        self._log_accesses(_ACCESS_LOGS_PREFIX)
        if archive_storage_class.value in _UNQUERYABLE_CLASSES:
            Annotations.of(self).add_warning_v2(
                "notification-constructs:ArchiveNotQueryable",
                f"archive_storage_class {archive_storage_class.value}: Athena does not read objects in this "
                f"class (restore them first); events older than {archive_after.to_human_string()} drop "
                "out of query results. GLACIER_INSTANT_RETRIEVAL keeps them queryable.",
            )

        # -- Firehose -----------------------------------------------------------------------------------
        date = "!{timestamp:yyyy-MM-dd}"
        if partition_by_event_type:
            self.data_prefix = (
                f"{EVENTS_PREFIX}{_EVENT_TYPE_PARTITION}=!{{partitionKeyFromQuery:{_EVENT_TYPE_PARTITION}}}/"
                f"{_DATE_PARTITION}={date}/"
            )
        else:
            self.data_prefix = f"{EVENTS_PREFIX}{_DATE_PARTITION}={date}/"
        destination = firehose.S3Bucket(
            self.bucket,
            data_output_prefix=self.data_prefix,
            error_output_prefix=f"{_ERRORS_PREFIX}!{{firehose:error-output-type}}/{_DATE_PARTITION}={date}/",
            encryption_key=self.encryption_key,
            buffering_interval=buffering_interval,
            # Dynamic partitioning needs a buffer of at least 64 MiB; 5 MiB is Firehose's default.
            buffering_size=Size.mebibytes(64 if partition_by_event_type else 5),
            dynamic_partitioning=firehose.DynamicPartitioningProps(enabled=True)
            if partition_by_event_type
            else None,
            processors=[firehose.MetadataExtractionProcessor.jq16({_EVENT_TYPE_PARTITION: ".eventType"})]
            if partition_by_event_type
            else None,
        )
        self.delivery_stream = firehose.DeliveryStream(
            self,
            "DeliveryStream",
            destination=destination,
            encryption=firehose.StreamEncryption.customer_managed_key(self.encryption_key),
        )
        self._acknowledge_stream_grants()

        # -- SES -> Firehose ----------------------------------------------------------------------------
        # https://docs.aws.amazon.com/ses/latest/dg/event-publishing-add-event-destination-firehose.html
        self.ses_role = iam.Role(
            self,
            "SesRole",
            description="SES publishes this configuration set's events to the archive's Firehose stream",
            assumed_by=iam.ServicePrincipal(
                SES_SERVICE_PRINCIPAL,
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": stack.account,
                        "aws:SourceArn": self.configuration_set_arn,
                    }
                },
            ),
        )
        self.ses_role.add_to_policy(
            iam.PolicyStatement(
                actions=["firehose:PutRecord", "firehose:PutRecordBatch"],
                resources=[self.delivery_stream.delivery_stream_arn],
            )
        )
        self.event_destination = ses.ConfigurationSetEventDestination(
            self,
            "EventDestination",
            configuration_set=configuration_set,
            destination=ses.EventDestination.firehose_delivery_stream(
                delivery_stream=self.delivery_stream, role=self.ses_role
            ),
            events=list(event_types),
        )
        # SES checks that it may assume the role and put records when the destination is created.
        self.event_destination.node.add_dependency(self.ses_role)

        # -- Glue + Athena ------------------------------------------------------------------------------
        self.database_name = database_name or _derived_name(self)
        self.table_name = table_name
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description="SES events archived by notification-constructs EmailEventArchive",
            ),
        )
        self.table = glue.CfnTable(
            self,
            "Table",
            catalog_id=stack.account,
            database_name=self.database_name,
            table_input=self._table_input(retention),
        )
        self.table.node.add_dependency(self.database)

        self.work_group: athena.CfnWorkGroup | None = None
        if work_group_name is None:
            self.work_group = self._work_group()
            self.work_group_name = self.work_group.name
        else:
            self.work_group_name = work_group_name
        self.named_queries: dict[str, athena.CfnNamedQuery] = {}
        queries = Construct(self, "Queries")
        filters = self._filters()
        for name, (description, sql) in _QUERIES.items():
            query = athena.CfnNamedQuery(
                queries,
                name,
                name=name,
                description=description,
                database=self.database_name,
                work_group=self.work_group_name,
                query_string=sql.format(table=table_name, **filters),
            )
            query.node.add_dependency(self.table)
            if self.work_group is not None:
                query.node.add_dependency(self.work_group)
            self.named_queries[name] = query

    # -- parts ----------------------------------------------------------------------------------------
    def _acknowledge_stream_grants(self) -> None:
        # aws-cdk-lib's Firehose L2 grants its two roles (assumable by firehose.amazonaws.com only) the
        # bucket's and the key's read/write actions, spelled with wildcards, on this archive's bucket and
        # key alone; Firehose names the objects it writes itself, hence <bucket>/*.
        bucket_objects = nag_flat(self, self.bucket.arn_for_objects("*"))
        reasons = {
            "S3 Destination Role": (
                [f"Action::{a}" for a in ("s3:Abort*", "s3:DeleteObject*", "s3:GetBucket*", "s3:GetObject*")]
                + ["Action::s3:List*", f"Resource::{bucket_objects}"]
                + ["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"],
                "aws-cdk-lib's Firehose S3 destination grants its destination role (assumable by Firehose "
                "only) read/write on this archive's bucket and its key alone; Firehose writes objects under "
                "key names it generates, so the grant covers <bucket>/*.",
            ),
            "Service Role": (
                ["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"],
                "aws-cdk-lib's Firehose stream encryption grants the stream's service role (assumable by "
                "Firehose only) encrypt/decrypt with this archive's key alone.",
            ),
        }
        for child, (findings, reason) in reasons.items():
            role = self.delivery_stream.node.find_child(child)
            assert isinstance(role, Construct)
            for finding in findings:
                acknowledge(role, f"AwsSolutions-IAM5[{finding}]", reason)

    def _log_bucket(self, retention: Duration, removal_policy: RemovalPolicy) -> s3.Bucket:
        # S3 server access logs can only be delivered to a bucket with SSE-S3 (not SSE-KMS):
        # https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal_policy,
            lifecycle_rules=[s3.LifecycleRule(id="ExpireAccessLogs", expiration=retention)],
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "This is the access-log bucket of the event archive; logging its own accesses into itself "
            "would log every log delivery.",
        )
        return bucket

    def _log_accesses(self, prefix: str) -> None:
        # Server access logging through the log bucket's policy (logging.s3.amazonaws.com for this bucket
        # only), not the legacy log-delivery ACL that s3.Bucket(server_access_logs_bucket=...) adds without
        # the @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy flag:
        # https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
        cfn = self.bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        cfn.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=self.access_logs_bucket.bucket_name, log_file_prefix=prefix
        )
        self.access_logs_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.access_logs_bucket.arn_for_objects(f"{prefix}*")],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                    "ArnLike": {"aws:SourceArn": self.bucket.bucket_arn},
                },
            )
        )

    def _table_input(self, retention: Duration) -> glue.CfnTable.TableInputProperty:
        location = f"s3://{self.bucket.bucket_name}/{EVENTS_PREFIX}"
        partition_keys = [glue.CfnTable.ColumnProperty(name=_DATE_PARTITION, type="string")]
        parameters: dict[str, str] = {
            "classification": "json",
            "EXTERNAL": "TRUE",
            "projection.enabled": "true",
            f"projection.{_DATE_PARTITION}.type": "date",
            f"projection.{_DATE_PARTITION}.format": "yyyy-MM-dd",
            f"projection.{_DATE_PARTITION}.range": f"NOW-{int(retention.to_days())}DAYS,NOW",
            f"projection.{_DATE_PARTITION}.interval": "1",
            f"projection.{_DATE_PARTITION}.interval.unit": "DAYS",
        }
        if self.partition_by_event_type:
            partition_keys.insert(0, glue.CfnTable.ColumnProperty(name=_EVENT_TYPE_PARTITION, type="string"))
            parameters[f"projection.{_EVENT_TYPE_PARTITION}.type"] = "enum"
            parameters[f"projection.{_EVENT_TYPE_PARTITION}.values"] = ",".join(
                EVENT_TYPE_VALUES[t] for t in self.event_types
            )
            template = f"{location}{_EVENT_TYPE_PARTITION}=${{{_EVENT_TYPE_PARTITION}}}/"
        else:
            template = location
        parameters["storage.location.template"] = f"{template}{_DATE_PARTITION}=${{{_DATE_PARTITION}}}/"
        return glue.CfnTable.TableInputProperty(
            name=self.table_name,
            description="SES event records (JSON, one a line) as SES publishes them to Firehose",
            table_type="EXTERNAL_TABLE",
            parameters=parameters,
            partition_keys=partition_keys,
            storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                location=location,
                input_format="org.apache.hadoop.mapred.TextInputFormat",
                output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                serde_info=glue.CfnTable.SerdeInfoProperty(
                    serialization_library="org.openx.data.jsonserde.JsonSerDe",
                    # A malformed line (a truncated object) becomes a row of nulls, not a failed query.
                    parameters={"ignore.malformed.json": "true", "case.insensitive": "true"},
                ),
                columns=[
                    glue.CfnTable.ColumnProperty(name=name.lower(), type=hive_type(value))
                    for name, value in SES_EVENT_COLUMNS.items()
                ],
            ),
        )

    def _work_group(self) -> athena.CfnWorkGroup:
        return athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=Names.unique_resource_name(self, max_length=128, separator="-"),
            description="Queries over the SES event archive (results KMS-encrypted)",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.bucket.bucket_name}/{_RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=self.encryption_key.key_arn
                    ),
                ),
            ),
        )

    def _filters(self) -> dict[str, str]:
        """WHERE terms selecting one event type: on the partition when there is one (reads less)."""
        column = _EVENT_TYPE_PARTITION if self.partition_by_event_type else "eventtype"
        return {
            "bounce_filter": f"{column} = 'Bounce'",
            "complaint_filter": f"{column} = 'Complaint'",
        }

    # -- grants ---------------------------------------------------------------------------------------
    def grant_query(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` run queries on the archive in its workgroup: ``athena:StartQueryExecution`` /
        ``GetQueryExecution`` / ``GetQueryResults`` / ``StopQueryExecution`` / ``GetWorkGroup`` /
        ``ListNamedQueries`` / ``GetNamedQuery`` / ``BatchGetNamedQuery`` on the workgroup, ``glue:GetDatabase``
        / ``GetTable`` / ``GetPartitions`` on the database and table, read on the bucket, write of query
        results under ``athena-results/``, and decrypt / generate data keys with the key."""
        stack = Stack.of(self)
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "athena:StartQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:StopQueryExecution",
                "athena:GetWorkGroup",
                "athena:ListNamedQueries",
                "athena:GetNamedQuery",
                "athena:BatchGetNamedQuery",
            ],
            resource_arns=[
                stack.format_arn(service="athena", resource="workgroup", resource_name=self.work_group_name)
            ],
        )
        grant.combine(
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
                resource_arns=[
                    stack.format_arn(service="glue", resource="catalog"),
                    stack.format_arn(service="glue", resource="database", resource_name=self.database_name),
                    stack.format_arn(
                        service="glue",
                        resource="table",
                        resource_name=f"{self.database_name}/{self.table_name}",
                    ),
                ],
            )
        )
        grant.combine(self.bucket.grant_read(grantee))
        grant.combine(self.bucket.grant_put(grantee, f"{_RESULTS_PREFIX}*"))
        grant.combine(self.encryption_key.grant_encrypt_decrypt(grantee))
        return grant


def _derived_name(scope: Construct) -> str:
    """A Glue-safe name unique in the app: the construct path's unique id, lower case, ``[a-z0-9_]``."""
    return re.sub(r"[^a-z0-9_]", "_", Names.unique_id(scope).lower())[:255]
