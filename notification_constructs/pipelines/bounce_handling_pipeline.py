"""BounceHandlingPipeline: SES events -> topic -> queue -> bounce_processor -> suppression table + alerts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lambda_handlers import contracts
from notification_constructs._defaults import allow_sns_to_use_key, at_or_above_alarm, new_cmk
from notification_constructs._tables import add_to_backup_plan, grant_table, new_table
from notification_constructs._validation import Problems, acknowledge, is_token, is_valid_email
from notification_constructs.email_configuration_set import DEFAULT_EVENT_TYPES, EmailConfigurationSet
from notification_constructs.notification_topic import NotificationTopic
from notification_constructs.processing_queue import ProcessingQueue
from notification_constructs.queue_consumer_function import QueueConsumerFunction

__all__ = ["BounceHandlingPipeline"]

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

    SES may publish to :attr:`topic` only for ``configuration_set`` (``aws:SourceArn`` in the key and
    topic policies).

    Child ids (a public contract): ``SesEvents``, ``Queue``, ``Processor``, ``SuppressionTable``,
    ``SoftBounceTable``, ``SupportAlerts``, ``AlertDeliveryDlq``, ``AlertDeliveryDlqKey``,
    ``AlertDeliveryDlqDepthAlarm``, ``BounceRateWarningAlarm``, ``BounceRateAlarm``,
    ``ComplaintRateWarningAlarm``, ``ComplaintRateAlarm``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        configuration_set: EmailConfigurationSet,
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
    ) -> None:
        """
        :param configuration_set: Whose events are handled.
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
        :param encryption_key: Customer-managed key for the data holding e-mail addresses at rest that the
            pipeline creates: its tables and its functions' log groups. Default: - one new key per pipeline
            (``DataKey``, rotation on). An imported key's policy cannot be changed here: it must let CloudWatch
            Logs use it (see ``QueueConsumerFunction``).
        :param backup_plan: An AWS Backup plan the tables the pipeline creates are added to (a selection
            named after the pipeline). Default: - none (point-in-time recovery only).
        :param removal_policy: For the suppression table. Default: RETAIN (with deletion protection).
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

        # CloudWatch alarms publish to the alert topic too, so its key lets cloudwatch.amazonaws.com in.
        self.alert_topic: sns.ITopic = alert_topic or NotificationTopic(
            self,
            "SupportAlerts",
            display_name="E-mail pipeline alerts",
            publishing_services=("cloudwatch.amazonaws.com",),
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

        self.topic: sns.ITopic = topic or NotificationTopic(self, "SesEvents")
        self.event_destination = configuration_set.add_topic_destination(
            f"{id}Destination", self.topic, event_types=event_types
        )
        self.queue = ProcessingQueue(self, "Queue", alarm_topic=self.alert_topic)
        self.queue.subscribe_to(self.topic)

        self.encryption_key: kms.IKey = encryption_key or new_cmk(
            self,
            "DataKey",
            description=f"Encrypts the tables and log groups of {self.node.path} (e-mail addresses)",
            removal_policy=removal_policy,
        )
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
            service_name="bounce_processor",
            alarm_topic=self.alert_topic,
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
        #: The pipeline's own alarms: the four reputation alarms, then the alert-delivery DLQ alarm (with
        #: ``alert_email``). The queue's and the processor's alarms are ``queue.alarms`` /
        #: ``processor.alarms``.
        self.alarms: list[cloudwatch.Alarm] = list(self.reputation_alarms)
        if self.alert_delivery_dlq_alarm is not None:
            self.alarms.append(self.alert_delivery_dlq_alarm)

    def _alert_delivery_dlq(self, removal_policy: RemovalPolicy) -> sqs.Queue:
        """Holds alerts SNS could not deliver to the e-mail subscription. Its own key: a statement naming the
        topic in the topic's key policy would be a dependency cycle."""
        key = new_cmk(
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
        allow_sns_to_use_key(self, key, self.alert_topic.topic_arn)
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
                metric=cloudwatch.Metric(
                    namespace="AWS/SES",
                    metric_name=metric_name,
                    statistic="Maximum",
                    period=Duration.hours(1),
                ),
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
