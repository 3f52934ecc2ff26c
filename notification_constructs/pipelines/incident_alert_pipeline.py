"""IncidentAlertPipeline: CloudWatch alarms / apps -> incidents topic -> queue -> incident_tracker ->
incidents table, on-call pages (SMS for critical, e-mail for all), acknowledgement deadlines, SES report."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambda_handlers import contracts
from notification_constructs._defaults import at_or_above_alarm, new_cmk
from notification_constructs._tables import add_to_backup_plan, grant_table, new_table
from notification_constructs._validation import Problems, is_token, is_valid_email
from notification_constructs.fan_out_topic import FanOutTopic
from notification_constructs.notification_topic import NotificationTopic
from notification_constructs.processing_queue import ProcessingQueue
from notification_constructs.queue_consumer_function import QueueConsumerFunction
from notification_constructs.sender_identity import SenderIdentity

__all__ = ["IncidentAlertPipeline"]

SERVICE_NAME = "incident_tracker"
_HANDLER = "lambda_handlers.incident_tracker.handler.handler"
_INCIDENT_CONCURRENCY = 5
_DEADLINE_CONCURRENCY = 2
_MAX_SEVERITIES_JSON = 2048
#: 15 minutes (``contracts.DEFAULT_ACKNOWLEDGEMENT_DEADLINE_SECONDS``).
DEFAULT_ACKNOWLEDGEMENT_DEADLINE = Duration.seconds(contracts.DEFAULT_ACKNOWLEDGEMENT_DEADLINE_SECONDS)


class IncidentAlertPipeline(Construct):
    """Incident alerts, end to end.

    Incidents reach :attr:`topic` from CloudWatch alarms (add :attr:`alarm_action` to an alarm: its ALARM,
    OK and INSUFFICIENT_DATA notifications) and from applications publishing ``incident.event`` v1 messages
    (README: "Incident alerts"). :attr:`queue` feeds :attr:`tracker` (``lambda_handlers.incident_tracker``),
    which records each incident's lifecycle (open -> acknowledged -> resolved, repeats and redeliveries
    de-duplicated, an alarm's OK resolves it) in :attr:`incidents_table` with version-conditioned writes and

    - pages :attr:`on_call_topic` (a :class:`FanOutTopic`) when an incident opens, with the message attribute
      ``severity``: ``on_call_phone_numbers`` get SMS for ``critical`` only, ``on_call_emails`` e-mail for
      every severity (filter policies; each subscription has its own DLQ);
    - queues an acknowledgement deadline on :attr:`deadline_queue` (SQS delays of at most 15 minutes per
      hop, re-queued until due) that the same function consumes: an incident still unacknowledged then is
      paged again and counted in the ``UnacknowledgedIncident`` metric (:attr:`unacknowledged_alarm`);
    - sends an incident report (HTML and text: timeline, duration, who acknowledged, notes) through SES to
      ``stakeholder_emails`` once it is resolved.

    Least privilege: the function may send only from ``from_address`` of ``sender`` with
    ``configuration_set``, publish only to the on-call topic, send only to the deadline queue.

    Child ids (a public contract): ``Incidents``, ``Queue``, ``Tracker``, ``IncidentsTable``,
    ``AcknowledgementDeadlineQueue``, ``OnCall`` (subscriptions ``Sms<n>`` and ``Email<n>``),
    ``UnacknowledgedAlarm``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        sender: SenderIdentity,
        configuration_set: ses.IConfigurationSet,
        from_address: str,
        stakeholder_emails: Sequence[str],
        on_call_phone_numbers: Sequence[str] = (),
        on_call_emails: Sequence[str] = (),
        alarm_severities: Mapping[str, str] | None = None,
        default_alarm_severity: str = contracts.DEFAULT_ALARM_SEVERITY,
        acknowledgement_deadline: Duration = DEFAULT_ACKNOWLEDGEMENT_DEADLINE,
        alarm_topic: sns.ITopic | None = None,
        topic: sns.ITopic | None = None,
        incidents_table: dynamodb.ITable | None = None,
        encryption_key: kms.IKey | None = None,
        backup_plan: backup.BackupPlan | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """
        :param sender: The verified identity the report is sent from.
        :param configuration_set: Configuration set of every report send (any ``ses.IConfigurationSet``).
        :param from_address: ``incidents@example.com`` or ``Ops <incidents@example.com>``; must belong to
            ``sender``.
        :param stakeholder_emails: Who receives the incident report (1-50 addresses, one message).
        :param on_call_phone_numbers: E.164 numbers paged by SMS for ``critical`` incidents. Default: - none.
        :param on_call_emails: Addresses paged by e-mail for every severity (each must confirm the SNS
            subscription). Default: - none.
        :param alarm_severities: CloudWatch alarm name -> severity (``critical``, ``high``, ``medium``,
            ``low``). Default: - every alarm gets ``default_alarm_severity``.
        :param default_alarm_severity: Severity of alarms not in ``alarm_severities``. Default: "high".
        :param acknowledgement_deadline: How long an incident may stay unacknowledged before it is paged
            again and counted in ``UnacknowledgedIncident`` (whole seconds, 1 minute to 24 hours).
            Default: 15 minutes.
        :param alarm_topic: Where the pipeline's alarms notify. Default: - alarms without actions.
        :param topic: An existing topic incidents are published to instead of creating ``Incidents`` (its
            policies must let ``cloudwatch.amazonaws.com`` publish for alarm actions). Default: - a new
            :class:`NotificationTopic` CloudWatch may publish to.
        :param incidents_table: An existing incidents table (partition key ``incident_id``, string).
            Default: - a new one.
        :param encryption_key: Customer-managed key of the table and the function's log group. Default: -
            one new key per pipeline (``DataKey``, rotation on).
        :param backup_plan: An AWS Backup plan the table the pipeline creates is added to. Default: - none
            (point-in-time recovery only).
        :param removal_policy: For the incidents table and the keys. Default: RETAIN (with deletion
            protection).
        """
        super().__init__(scope, id)
        severities = dict(alarm_severities or {})
        _, address = contracts.split_sender_address(from_address)
        problems = Problems(self)
        if not is_token(from_address):
            valid = contracts.sender_address(from_address) is not None
            problems.check(
                valid,
                f"from_address {from_address!r} is not a valid e-mail address "
                "('incidents@example.com' or 'Ops <incidents@example.com>')",
            )
            if valid and not is_token(sender.identity_name):
                domain, identity = address.split("@")[1].lower(), sender.identity_name.lower()
                belongs = (
                    address.lower() == identity
                    if sender.email_address is not None
                    else domain == identity or domain.endswith("." + identity)
                )
                problems.check(
                    belongs,
                    f"from_address {address!r} is not covered by the SES identity {sender.identity_name!r}",
                )
        problems.check(
            1 <= len(stakeholder_emails) <= contracts.MAX_REPORT_RECIPIENTS,
            f"stakeholder_emails: give 1 to {contracts.MAX_REPORT_RECIPIENTS} addresses "
            f"(got {len(stakeholder_emails)})",
        )
        for what, addresses in (
            ("stakeholder_emails", stakeholder_emails),
            ("on_call_emails", on_call_emails),
        ):
            for value in addresses:
                problems.check(
                    is_token(value) or (is_valid_email(value) and "," not in value),
                    f"{what}: {value!r} is not a valid e-mail address",
                )
        for number in on_call_phone_numbers:
            problems.check(
                is_token(number) or bool(contracts.E164_PATTERN.match(number)),
                f"on_call_phone_numbers: {number!r} is not an E.164 number ('+' then 7-15 digits)",
            )
        allowed = ", ".join(contracts.INCIDENT_SEVERITIES)
        problems.check(
            default_alarm_severity in contracts.INCIDENT_SEVERITIES,
            f"default_alarm_severity {default_alarm_severity!r}: must be one of {allowed}",
        )
        for name, severity in severities.items():
            problems.check(
                severity in contracts.INCIDENT_SEVERITIES,
                f"alarm_severities[{name!r}] = {severity!r}: must be one of {allowed}",
            )
        encoded_severities = json.dumps(severities, separators=(",", ":"))
        problems.check(
            len(encoded_severities) <= _MAX_SEVERITIES_JSON,
            f"alarm_severities: {len(encoded_severities)} characters as JSON; at most {_MAX_SEVERITIES_JSON} "
            "fit the function's environment (4 KB in all)",
        )
        seconds = acknowledgement_deadline.to_seconds()
        low, high = (
            contracts.MIN_ACKNOWLEDGEMENT_DEADLINE_SECONDS,
            contracts.MAX_ACKNOWLEDGEMENT_DEADLINE_SECONDS,
        )
        problems.check(
            is_token(seconds) or (low <= seconds <= high and float(seconds).is_integer()),
            f"acknowledgement_deadline: whole seconds from {low} to {high} (got {seconds})",
        )
        problems.raise_if_any()

        self.topic: sns.ITopic = topic or NotificationTopic(
            self, "Incidents", display_name="Incidents", publishing_services=("cloudwatch.amazonaws.com",)
        )
        #: Add to a CloudWatch alarm (``add_alarm_action`` / ``add_ok_action``) to track its incidents.
        self.alarm_action = cloudwatch_actions.SnsAction(self.topic)

        self.encryption_key: kms.IKey = encryption_key or new_cmk(
            self,
            "DataKey",
            description=f"Encrypts the incidents table and log group of {self.node.path}",
            removal_policy=removal_policy,
        )
        self.incidents_table: dynamodb.ITable = incidents_table or new_table(
            self,
            "IncidentsTable",
            partition_key="incident_id",
            removal_policy=removal_policy,
            encryption_key=self.encryption_key,
        )
        if incidents_table is None:
            add_to_backup_plan(backup_plan, f"{id}Tables", [self.incidents_table])

        self.on_call_topic = FanOutTopic(
            self, "OnCall", display_name="On-call", alarm_topic=alarm_topic, removal_policy=removal_policy
        )
        critical = sns.SubscriptionFilter.string_filter(allowlist=[contracts.CRITICAL_SEVERITY])
        every = sns.SubscriptionFilter.string_filter(allowlist=list(contracts.INCIDENT_SEVERITIES))
        for index, number in enumerate(on_call_phone_numbers, start=1):
            self.on_call_topic.add_sms_subscription(
                f"Sms{index}", number, filter_policy={contracts.SEVERITY_ATTRIBUTE: critical}
            )
        for index, email in enumerate(on_call_emails, start=1):
            self.on_call_topic.add_email_subscription(
                f"Email{index}", email, filter_policy={contracts.SEVERITY_ATTRIBUTE: every}
            )

        self.queue = ProcessingQueue(self, "Queue", alarm_topic=alarm_topic)
        self.queue.subscribe_to(self.topic)
        # Messages wait here up to 15 minutes (DelaySeconds) before they are visible.
        self.deadline_queue = ProcessingQueue(
            self,
            "AcknowledgementDeadlineQueue",
            max_message_age=Duration.minutes(30),
            alarm_topic=alarm_topic,
        )
        self.tracker = QueueConsumerFunction(
            self,
            "Tracker",
            queue=self.queue,
            handler=_HANDLER,
            encryption_key=self.encryption_key,
            description="Records incident lifecycles, pages on-call, escalates, mails incident reports.",
            environment={
                contracts.INCIDENTS_TABLE_NAME_ENV: self.incidents_table.table_name,
                contracts.ON_CALL_TOPIC_ARN_ENV: self.on_call_topic.topic_arn,
                contracts.ACKNOWLEDGEMENT_QUEUE_URL_ENV: self.deadline_queue.queue_url,
                contracts.ACKNOWLEDGEMENT_DEADLINE_SECONDS_ENV: str(int(seconds))
                if not is_token(seconds)
                else str(seconds),
                contracts.REPORT_RECIPIENTS_ENV: ",".join(stakeholder_emails),
                contracts.SENDER_ADDRESS_ENV: from_address,
                contracts.CONFIGURATION_SET_NAME_ENV: configuration_set.configuration_set_name,
                contracts.ALARM_SEVERITIES_ENV: encoded_severities,
                contracts.DEFAULT_ALARM_SEVERITY_ENV: default_alarm_severity,
            },
            service_name=SERVICE_NAME,
            max_concurrency=_INCIDENT_CONCURRENCY,
            # The deadline queue's event source counts against the same reservation.
            reserved_concurrent_executions=_INCIDENT_CONCURRENCY + _DEADLINE_CONCURRENCY,
            alarm_topic=alarm_topic,
        )
        self.deadline_event_source = sources.SqsEventSource(
            self.deadline_queue,
            batch_size=10,
            max_concurrency=_DEADLINE_CONCURRENCY,
            report_batch_item_failures=True,
        )
        self.tracker.add_event_source(self.deadline_event_source)
        function = self.tracker.function
        grant_table(
            self.incidents_table, function, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"
        )
        self.on_call_topic.grant_publish(function)
        # Only what a send needs (sqs.Queue.grant_send_messages adds kms:ReEncrypt* / GenerateDataKey*).
        iam.Grant.add_to_principal(
            grantee=function,
            actions=["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
            resource_arns=[self.deadline_queue.queue_arn],
        )
        self.deadline_queue.encryption_key.grant(function, "kms:GenerateDataKey", "kms:Decrypt")
        sender.grant_send_email(function, configuration_set=configuration_set, from_address=address)

        self.unacknowledged_alarm = at_or_above_alarm(
            self,
            "UnacknowledgedAlarm",
            description=(
                f"An incident of {self.node.path} was not acknowledged within "
                f"{acknowledgement_deadline.to_human_string()}: on-call has been paged again."
            ),
            metric=self.metric_unacknowledged_incidents(),
            threshold=1,
            alarm_topic=alarm_topic,
        )
        #: The pipeline's own alarms (the unacknowledged-incident alarm, then the on-call topic's); the
        #: queues' and the function's are ``queue.alarms``, ``deadline_queue.alarms``, ``tracker.alarms``.
        self.alarms: list[cloudwatch.Alarm] = [self.unacknowledged_alarm, *self.on_call_topic.alarms]

    def metric_unacknowledged_incidents(self, period: Duration | None = None) -> cloudwatch.Metric:
        """``UnacknowledgedIncident`` (EMF, statistic ``Sum``, dimension ``service``): incidents still
        unacknowledged at their deadline. ``period`` Default: 1 minute."""
        return cloudwatch.Metric(
            namespace=contracts.DEFAULT_METRICS_NAMESPACE,
            metric_name=contracts.METRIC_UNACKNOWLEDGED_INCIDENT,
            dimensions_map={"service": SERVICE_NAME},
            statistic="Sum",
            period=period or Duration.minutes(1),
        )

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let an application publish ``incident.event`` messages: ``sns:Publish`` plus the topic key's KMS
        actions."""
        return self.topic.grant_publish(grantee)
