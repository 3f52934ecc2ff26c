"""BounceHandlingPipeline: SES events -> topic -> queue -> bounce_processor -> suppression table + alerts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lambda_handlers import contracts
from notification_constructs._defaults import (
    SES_SERVICE_PRINCIPAL,
    allow_sns_to_use_key,
    at_or_above_alarm,
    handler_metric,
    new_cmk,
    source_conditions,
    topic_source_arn,
)
from notification_constructs._tables import add_to_backup_plan, grant_table, new_table
from notification_constructs._validation import Problems, acknowledge, is_token, is_valid_email
from notification_constructs.email_configuration_set import DEFAULT_EVENT_TYPES, EmailConfigurationSet
from notification_constructs.notification_topic import NotificationTopic
from notification_constructs.processing_queue import ProcessingQueue
from notification_constructs.queue_consumer_function import QueueConsumerFunction

__all__ = ["BounceHandlingPipeline"]

#: ``POWERTOOLS_SERVICE_NAME`` of the processor: the ``service`` dimension of its metrics.
PROCESSOR_SERVICE = "bounce_processor"
_REPUTATION_PERIOD = Duration.hours(1)

#: SES reviews an account at a 5% bounce rate and 0.1% complaint rate (and may pause sending at 10% / 0.5%).
BOUNCE_RATE_REVIEW = 0.05
COMPLAINT_RATE_REVIEW = 0.001
DEFAULT_BOUNCE_RATE_WARNING = 0.02
DEFAULT_COMPLAINT_RATE_WARNING = 0.0005


class BounceHandlingPipeline(Construct):
    """Bounce and complaint handling for a configuration set.

    The configuration set publishes ``event_types`` to :attr:`topic` (an encrypted topic whose key policy
    lets SES use it), which feeds :attr:`queue` and :attr:`processor` (``lambda_handlers.bounce_processor``):

    - hard bounces and complaints (except ``not-spam`` feedback) are written to :attr:`suppression_table`
      (partition key ``address``, lower-cased; the order pipeline consults it before sending);
    - soft bounces are counted in :attr:`soft_bounce_table` and suppress after ``soft_bounce_threshold``
      within ``soft_bounce_window``;
    - rejects, rendering failures and complaints are summarised per batch on :attr:`alert_topic`.

    Alarms (to :attr:`alert_topic`): account ``Reputation.BounceRate`` (warning, and the 5% review
    threshold), ``Reputation.ComplaintRate`` (warning, and the 0.1% review threshold) - both treating
    missing data as ``ignore``, as the SES guide does -, DLQ depth, message age, handler errors and
    throttles, and (with ``alert_email``) :attr:`alert_delivery_dlq_alarm` on the DLQ of the e-mail
    subscription, so alerts SNS could not deliver do not go unnoticed. :attr:`alarms` lists the
    pipeline's own alarms (:attr:`reputation_alarms` and the alert-delivery DLQ alarm).

    :attr:`all_alarms` lists every alarm the pipeline creates, its stages' included; the reputation alarms
    are also :attr:`bounce_rate_warning_alarm`, :attr:`bounce_rate_alarm`,
    :attr:`complaint_rate_warning_alarm` and :attr:`complaint_rate_alarm`. ``metric_*`` return what the
    alarms and :class:`PipelinesDashboard` watch: the processor's EMF counts (namespace
    ``NotificationConstructs``, dimension ``service`` = ``bounce_processor``, shared by every pipeline of
    the account and region) and the account's SES reputation rates.

    SES may publish to :attr:`topic` only for ``configuration_set`` (``aws:SourceArn`` in the key and
    topic policies), whether it is an :class:`EmailConfigurationSet` or any ``ses.IConfigurationSet``
    (e.g. ``ses.ConfigurationSet.from_configuration_set_name``).

    Encryption: one customer-managed key (:attr:`encryption_key`) for the topics, the queues and their DLQs,
    the tables and the log groups the pipeline creates. SNS may use it to deliver only from the topics
    feeding the queues, named by ARN patterns that do not reference them
    (``arn:<partition>:sns:<region>:<account>:<stack name>-*``, the generated topic names), since the
    topics themselves depend on the key.

    Child ids (a public contract): ``DataKey`` (without ``encryption_key``), ``SesEvents``, ``Queue``,
    ``Processor``, ``SuppressionTable``, ``SoftBounceTable``, ``SupportAlerts``, ``AlertDeliveryDlq``,
    ``AlertDeliveryDlqKey`` (only with an imported ``encryption_key``), ``AlertDeliveryDlqDepthAlarm``,
    ``BounceRateWarningAlarm``, ``BounceRateAlarm``, ``ComplaintRateWarningAlarm``,
    ``ComplaintRateAlarm``, and ``EventDestination`` for a configuration set that is not an
    :class:`EmailConfigurationSet` (an :class:`EmailConfigurationSet` holds the destination itself, as
    ``<id>Destination``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        configuration_set: ses.IConfigurationSet,
        event_types: Sequence[ses.EmailSendingEvent] = DEFAULT_EVENT_TYPES,
        suppression_table: dynamodb.ITable | None = None,
        soft_bounce_table: dynamodb.ITable | None = None,
        topic: sns.ITopic | None = None,
        alert_topic: sns.ITopic | None = None,
        alert_email: str | None = None,
        soft_bounce_threshold: int = contracts.DEFAULT_SOFT_BOUNCE_THRESHOLD,
        soft_bounce_window: Duration = Duration.hours(contracts.DEFAULT_SOFT_BOUNCE_WINDOW_HOURS),  # noqa: B008 - immutable value
        use_account_suppression_list: bool = False,
        bounce_rate_warning: float = DEFAULT_BOUNCE_RATE_WARNING,
        complaint_rate_warning: float = DEFAULT_COMPLAINT_RATE_WARNING,
        encryption_key: kms.IKey | None = None,
        backup_plan: backup.BackupPlan | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
    ) -> None:
        """
        :param configuration_set: Whose events are handled: an :class:`EmailConfigurationSet` or any
            ``ses.IConfigurationSet`` (the event destination is then an ``ses.ConfigurationSetEventDestination``
            child ``EventDestination`` of the pipeline).
        :param event_types: Events SES publishes to the pipeline. Default: bounce, complaint, delivery,
            reject, rendering failure, delivery delay. Bounce and complaint are required.
        :param suppression_table: Default: - a new table (partition key ``address``).
        :param alert_email: Subscribe this address to :attr:`alert_topic`. Default: - no subscription.
        :param soft_bounce_threshold: Soft bounces that suppress an address (1-100). Default: 3.
        :param soft_bounce_window: Window in which they are counted (whole hours, 1 hour to 365 days).
            Default: 72 hours.
        :param use_account_suppression_list: Also add addresses to the SES account-level suppression list.
            Default: False (the configuration set already applies it for BOUNCE/COMPLAINT).
        :param bounce_rate_warning: Warning threshold (fraction) below the 5% review rate. Default: 0.02.
        :param complaint_rate_warning: Warning threshold below the 0.1% review rate. Default: 0.0005.
        :param soft_bounce_table: An existing soft-bounce table (partition key ``address``, string; TTL
            attribute ``expires_at``). Default: - a new one.
        :param topic: An existing standard topic SES publishes the events to (any ``sns.ITopic``; with a
            :class:`NotificationTopic` or a topic whose ``master_key`` is known the SES statements are added,
            an imported topic's policies must allow SES for this configuration set). Default: - a new
            :class:`NotificationTopic`.
        :param alert_topic: An existing topic for support alerts and the alarms (its policies must let
            ``cloudwatch.amazonaws.com`` publish, and its key the function). Default: - a new
            :class:`NotificationTopic` that CloudWatch may publish to.
        :param encryption_key: Customer-managed key of what the pipeline creates: topics, queues and DLQs,
            tables, log groups. Default: - one new key per pipeline (``DataKey``, rotation on). A ``kms.Key``
            of this app gets the key-policy statements SES, SNS, CloudWatch and CloudWatch Logs need. An
            imported key's policy cannot be changed here: it covers the tables and log groups only (it must
            let CloudWatch Logs use it, see ``QueueConsumerFunction``) and the topics and queues keep keys of
            their own.
        :param backup_plan: An AWS Backup plan the tables the pipeline creates are added to (a selection
            named after the pipeline). Default: - none (point-in-time recovery only).
        :param removal_policy: For the suppression table and the key. Default: RETAIN (with deletion
            protection).
        :param vpc: Place the processor in this VPC (see ``QueueConsumerFunction``). Default: - no VPC.
        :param vpc_subnets: With ``vpc``. Default: - the VPC's private subnets.
        :param security_groups: With ``vpc``. Default: - a new security group.
        """
        super().__init__(scope, id)
        problems = Problems(self)
        for required in (ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.COMPLAINT):
            problems.check(required in event_types, f"event_types must include {required.name}")
        low, high = contracts.MIN_SOFT_BOUNCE_THRESHOLD, contracts.MAX_SOFT_BOUNCE_THRESHOLD
        problems.check(
            is_token(soft_bounce_threshold) or low <= soft_bounce_threshold <= high,
            f"soft_bounce_threshold {soft_bounce_threshold}: must be {low}-{high}",
        )
        window_hours = soft_bounce_window.to_hours()
        low, high = contracts.MIN_SOFT_BOUNCE_WINDOW_HOURS, contracts.MAX_SOFT_BOUNCE_WINDOW_HOURS
        problems.check(
            is_token(window_hours) or (low <= window_hours <= high and float(window_hours).is_integer()),
            f"soft_bounce_window: a whole number of hours from {low} to {high} (got {window_hours})",
        )
        problems.check(
            0 < bounce_rate_warning < BOUNCE_RATE_REVIEW,
            f"bounce_rate_warning {bounce_rate_warning}: a fraction below the {BOUNCE_RATE_REVIEW} review rate",
        )
        problems.check(
            0 < complaint_rate_warning < COMPLAINT_RATE_REVIEW,
            f"complaint_rate_warning {complaint_rate_warning}: a fraction below {COMPLAINT_RATE_REVIEW}",
        )
        if alert_email is not None:
            problems.check(
                is_valid_email(alert_email), f"alert_email {alert_email!r} is not a valid e-mail address"
            )
        problems.raise_if_any()

        self.encryption_key: kms.IKey = encryption_key or new_cmk(
            self,
            "DataKey",
            description=f"Encrypts the topics, queues, tables and log groups of {self.node.path}",
            removal_policy=removal_policy,
        )
        # Only a key of this app can take the statements the services need (imported: own keys for those).
        self._shared_key = self.encryption_key if isinstance(self.encryption_key, kms.Key) else None
        # CloudWatch alarms publish to the alert topic too, so its key lets cloudwatch.amazonaws.com in.
        self.alert_topic: sns.ITopic = alert_topic or NotificationTopic(
            self,
            "SupportAlerts",
            display_name="E-mail pipeline alerts",
            publishing_services=("cloudwatch.amazonaws.com",),
            encryption_key=self._shared_key,
        )
        self.alert_delivery_dlq: sqs.Queue | None = None
        self.alert_delivery_dlq_alarm: cloudwatch.Alarm | None = None
        if alert_email is not None:
            self.alert_delivery_dlq = self._alert_delivery_dlq(removal_policy)
            self.alert_topic.add_subscription(
                subs.EmailSubscription(alert_email, dead_letter_queue=self.alert_delivery_dlq)
            )
            self.alert_delivery_dlq_alarm = at_or_above_alarm(
                self,
                "AlertDeliveryDlqDepthAlarm",
                description=(
                    f"Support alerts of {self.node.path} could not be delivered to the e-mail subscription "
                    "and wait in its dead-letter queue: check the subscription (confirmed? address valid?), "
                    "then read the alerts there."
                ),
                metric=self.alert_delivery_dlq.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                threshold=1,
                alarm_topic=self.alert_topic,
            )

        self.topic: sns.ITopic = topic or NotificationTopic(
            self, "SesEvents", encryption_key=self._shared_key
        )
        self.configuration_set = configuration_set
        self.event_destination = self._add_event_destination(id, configuration_set, event_types)
        self.queue = ProcessingQueue(
            self, "Queue", alarm_topic=self.alert_topic, encryption_key=self._shared_key
        )
        self.queue.subscribe_to(self.topic)
        self.suppression_table = suppression_table or new_table(
            self,
            "SuppressionTable",
            partition_key="address",
            removal_policy=removal_policy,
            encryption_key=self.encryption_key,
        )
        self.soft_bounce_table: dynamodb.ITable = soft_bounce_table or new_table(
            self,
            "SoftBounceTable",
            partition_key="address",
            time_to_live_attribute="expires_at",
            removal_policy=RemovalPolicy.DESTROY,
            encryption_key=self.encryption_key,
        )
        self.processor = QueueConsumerFunction(
            self,
            "Processor",
            queue=self.queue,
            handler="lambda_handlers.bounce_processor.handler.handler",
            encryption_key=self.encryption_key,
            description="Suppresses bounced/complaining addresses and alerts support.",
            environment={
                contracts.SUPPRESSION_TABLE_NAME_ENV: self.suppression_table.table_name,
                contracts.SOFT_BOUNCE_TABLE_NAME_ENV: self.soft_bounce_table.table_name,
                contracts.SOFT_BOUNCE_THRESHOLD_ENV: str(soft_bounce_threshold),
                contracts.SOFT_BOUNCE_WINDOW_HOURS_ENV: str(int(window_hours)),
                contracts.ALERT_TOPIC_ARN_ENV: self.alert_topic.topic_arn,
                contracts.USE_ACCOUNT_SUPPRESSION_LIST_ENV: "true"
                if use_account_suppression_list
                else "false",
            },
            service_name=PROCESSOR_SERVICE,
            alarm_topic=self.alert_topic,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=security_groups,
        )
        function = self.processor.function
        grant_table(self.suppression_table, function, "dynamodb:PutItem")
        grant_table(self.soft_bounce_table, function, "dynamodb:UpdateItem")
        created = (
            [self.soft_bounce_table]
            if suppression_table
            else [self.suppression_table, self.soft_bounce_table]
        )
        add_to_backup_plan(backup_plan, f"{id}Tables", created)
        self.alert_topic.grant_publish(function)
        if use_account_suppression_list:
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["ses:PutSuppressedDestination"], resources=["*"])
            )
            acknowledge(
                cast(Construct, self.processor.role),  # always the function's own iam.Role
                "AwsSolutions-IAM5[Resource::*]",
                "ses:PutSuppressedDestination acts on the account-level suppression list and supports no "
                "resource-level permissions.",
            )

        self.reputation_alarms = self._reputation_alarms(bounce_rate_warning, complaint_rate_warning)
        (
            self.bounce_rate_warning_alarm,
            self.bounce_rate_alarm,
            self.complaint_rate_warning_alarm,
            self.complaint_rate_alarm,
        ) = self.reputation_alarms
        #: The pipeline's own alarms: the four reputation alarms, then the alert-delivery DLQ alarm (with
        #: ``alert_email``). The queue's and the processor's alarms are ``queue.alarms`` /
        #: ``processor.alarms``; :attr:`all_alarms` has them all.
        self.alarms: list[cloudwatch.Alarm] = list(self.reputation_alarms)
        if self.alert_delivery_dlq_alarm is not None:
            self.alarms.append(self.alert_delivery_dlq_alarm)
        #: Every alarm the pipeline creates: :attr:`alarms`, then the queue's and the processor's.
        self.all_alarms: list[cloudwatch.Alarm] = [*self.alarms, *self.queue.alarms, *self.processor.alarms]

    def _add_event_destination(
        self, id: str, configuration_set: ses.IConfigurationSet, event_types: Sequence[ses.EmailSendingEvent]
    ) -> ses.ConfigurationSetEventDestination:
        """SES publishes ``event_types`` of the configuration set to :attr:`topic`, and may use its key,
        only for that configuration set."""
        if isinstance(configuration_set, EmailConfigurationSet):
            return configuration_set.add_topic_destination(
                f"{id}Destination", self.topic, event_types=event_types
            )
        # What EmailConfigurationSet.add_topic_destination does, for any configuration set: aws-cdk-lib's
        # destination adds the topic-policy statement (aws:SourceArn = the configuration set), the key
        # policy needs SES too.
        arn = Stack.of(self).format_arn(
            service="ses",
            resource="configuration-set",
            resource_name=configuration_set.configuration_set_name,
        )
        if isinstance(self.topic, NotificationTopic):
            self.topic.allow_service_publish(SES_SERVICE_PRINCIPAL, source_arns=[arn])
        elif self.topic.master_key is not None:
            self.topic.master_key.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal(SES_SERVICE_PRINCIPAL)],
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=["*"],
                    conditions=source_conditions(self, [arn]),
                )
            )
        return ses.ConfigurationSetEventDestination(
            self,
            "EventDestination",
            configuration_set=configuration_set,
            destination=ses.EventDestination.sns_topic(self.topic),
            events=list(event_types),
        )

    # --- metrics ----------------------------------------------------------------------------------------

    def _count(
        self, metric_name: str, period: Duration | None, statistic: str, label: str | None
    ) -> cloudwatch.Metric:
        return handler_metric(
            metric_name, service=PROCESSOR_SERVICE, period=period, statistic=statistic, label=label
        )

    def metric_suppressions(
        self, *, period: Duration | None = None, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Addresses the processor added to the suppression table (``AddressSuppressed``: hard bounces,
        complaints, soft bounces over the threshold).

        :param period: Default: 5 minutes.
        :param statistic: Default: Sum (a count per period).
        """
        return self._count(contracts.METRIC_ADDRESS_SUPPRESSED, period, statistic, label)

    def metric_soft_bounces(
        self, *, period: Duration | None = None, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Soft bounces counted (``SoftBounceRecorded``). Period 5 minutes, statistic Sum by default."""
        return self._count(contracts.METRIC_SOFT_BOUNCE_RECORDED, period, statistic, label)

    def metric_alerts(
        self, *, period: Duration | None = None, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Events that raised a support alert (``AlertRaised``: rejects, rendering failures, complaints).
        Period 5 minutes, statistic Sum by default."""
        return self._count(contracts.METRIC_ALERT, period, statistic, label)

    def metric_alert_publish_failures(
        self, *, period: Duration | None = None, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Alert summaries the processor could not publish to :attr:`alert_topic` (``AlertPublishFailed``).
        Period 5 minutes, statistic Sum by default."""
        return self._count(contracts.METRIC_ALERT_PUBLISH_FAILED, period, statistic, label)

    def metric_dead_lettered(
        self, *, period: Duration | None = None, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Events the processor parked in the queue's DLQ as permanently invalid (``DeadLettered``).
        Period 5 minutes, statistic Sum by default; what SQS moved after ``max_receive_count`` receives
        shows in ``queue.metric_dead_letter_queue_depth()``."""
        return self._count(contracts.METRIC_DEAD_LETTERED, period, statistic, label)

    def metric_bounce_rate(
        self, *, period: Duration = _REPUTATION_PERIOD, statistic: str = "Maximum", label: str | None = None
    ) -> cloudwatch.Metric:
        """``AWS/SES`` ``Reputation.BounceRate`` of the account (0-1; SES publishes it without dimensions),
        what :attr:`bounce_rate_warning_alarm` and :attr:`bounce_rate_alarm` watch.

        :param period: Default: 1 hour.
        :param statistic: Default: Maximum.
        """
        if isinstance(self.configuration_set, EmailConfigurationSet):
            return self.configuration_set.metric_reputation_bounce_rate(
                period=period, statistic=statistic, label=label
            )
        return _reputation_metric("Reputation.BounceRate", period, statistic, label)

    def metric_complaint_rate(
        self, *, period: Duration = _REPUTATION_PERIOD, statistic: str = "Maximum", label: str | None = None
    ) -> cloudwatch.Metric:
        """``AWS/SES`` ``Reputation.ComplaintRate`` of the account (0-1; without dimensions), what
        :attr:`complaint_rate_warning_alarm` and :attr:`complaint_rate_alarm` watch.

        :param period: Default: 1 hour.
        :param statistic: Default: Maximum.
        """
        if isinstance(self.configuration_set, EmailConfigurationSet):
            return self.configuration_set.metric_reputation_complaint_rate(
                period=period, statistic=statistic, label=label
            )
        return _reputation_metric("Reputation.ComplaintRate", period, statistic, label)

    def _alert_delivery_dlq(self, removal_policy: RemovalPolicy) -> sqs.Queue:
        """Holds alerts SNS could not deliver to the e-mail subscription: on the pipeline's key (SNS named by
        an ARN pattern when the alert topic is on that key too: no dependency cycle), or its own key when
        that one is imported."""
        key: kms.IKey = self._shared_key or new_cmk(
            self,
            "AlertDeliveryDlqKey",
            description=f"Encrypts {self.node.path} alert DLQ",
            removal_policy=removal_policy,
        )
        dlq = sqs.Queue(
            self,
            "AlertDeliveryDlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal_policy,
        )
        allow_sns_to_use_key(self, key, topic_source_arn(self.alert_topic, key))
        for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(
                dlq,
                rule,
                "This queue is the SNS subscription dead-letter queue of the alert e-mail subscription; "
                "it is itself the end of the line.",
            )
        return dlq

    def _reputation_alarms(self, bounce_warning: float, complaint_warning: float) -> list[cloudwatch.Alarm]:
        alarms = []
        for alarm_id, metric_name, threshold, what in (
            ("BounceRateWarningAlarm", "Reputation.BounceRate", bounce_warning, "early warning"),
            ("BounceRateAlarm", "Reputation.BounceRate", BOUNCE_RATE_REVIEW, "SES review threshold"),
            ("ComplaintRateWarningAlarm", "Reputation.ComplaintRate", complaint_warning, "early warning"),
            ("ComplaintRateAlarm", "Reputation.ComplaintRate", COMPLAINT_RATE_REVIEW, "SES review threshold"),
        ):
            alarm = at_or_above_alarm(
                self,
                alarm_id,
                description=f"SES account {metric_name} >= {threshold:.2%} ({what}).",
                metric=self.metric_bounce_rate()
                if metric_name == "Reputation.BounceRate"
                else self.metric_complaint_rate(),
                threshold=threshold,
                alarm_topic=self.alert_topic,
                # The rates are only published while the account sends, yet the reputation they measure
                # persists: hours without sends must keep the alarm in its state, not flip it to OK (and
                # re-notify when the next datapoint arrives). The SES guide's reputation alarms treat
                # missing data as "ignore (maintain the alarm state)":
                # https://docs.aws.amazon.com/ses/latest/dg/reputationdashboard-cloudwatch-alarm.html
                treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
            )
            alarms.append(alarm)
        return alarms


def _reputation_metric(
    metric_name: str, period: Duration, statistic: str, label: str | None
) -> cloudwatch.Metric:
    """The account-level SES reputation rate (no dimensions), as ``EmailConfigurationSet`` reads it."""
    return cloudwatch.Metric(
        namespace="AWS/SES", metric_name=metric_name, period=period, statistic=statistic, label=label
    )
