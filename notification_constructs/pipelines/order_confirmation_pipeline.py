"""OrderConfirmationPipeline: app -> order-events topic -> [orders queue -> writer, e-mail queue -> sender -> SES]."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambda_handlers import contracts
from notification_constructs._defaults import handler_metric, new_cmk
from notification_constructs._tables import add_to_backup_plan, grant_table, new_table
from notification_constructs._validation import Problems, is_token
from notification_constructs.notification_topic import NotificationTopic
from notification_constructs.order_confirmation_template import OrderConfirmationTemplate
from notification_constructs.processing_queue import ProcessingQueue
from notification_constructs.queue_consumer_function import QueueConsumerFunction
from notification_constructs.sender_identity import SenderIdentity, grant_send_email

__all__ = ["OrderConfirmationPipeline"]

#: ``POWERTOOLS_SERVICE_NAME`` of the two functions: the ``service`` dimension of their metrics.
WRITER_SERVICE = "order_writer"
SENDER_SERVICE = "order_email_sender"
SENDS_PER_SECOND_PER_INVOCATION = 10
"""About what one sender invocation sends, one ``SendEmail`` after the other (50-100 ms each in a region)."""


class OrderConfirmationPipeline(Construct):
    """Order confirmation, end to end.

    The producing app publishes order-placed events (schema v1, see README) to :attr:`topic` with the
    message attribute ``event_type = order.placed`` (or, with ``filter_on_message_body``, a body field
    ``event_type``). SNS fans out by filter policy to

    - :attr:`writer_queue` -> :attr:`writer` (``lambda_handlers.order_writer``) -> :attr:`orders_table`
      (conditional write: redelivery is a no-op), and
    - :attr:`email_queue` -> :attr:`email_sender` (``lambda_handlers.order_email_sender``) -> SES, with
      the :attr:`template`, the configuration set, the suppression table (suppressed recipients are
      skipped) and :attr:`idempotency_table` (a redelivered order is not mailed twice).

    Least privilege: the sender may call ``ses:SendEmail`` only for the identity, the configuration set
    and the template, and only with ``ses:FromAddress`` = the sender address; table grants are per action.

    Encryption: one customer-managed key (:attr:`encryption_key`) for the topic, the queues and their DLQs,
    the tables and the log groups the pipeline creates. SNS may use it to deliver only from the topic: the
    key policy names the topic by an ARN pattern that does not reference it
    (``arn:<partition>:sns:<region>:<account>:<stack name>-*``, the generated topic name), since the topic
    itself depends on the key.

    Observability: ``metric_*`` (the handlers' EMF metrics, namespace ``NotificationConstructs``, dimension
    ``service`` = ``order_writer`` / ``order_email_sender``, so two pipelines in one account and region
    share them), :attr:`all_alarms` (the queues' and functions' alarms; each stage's are also on
    ``writer_queue.alarms``, ``writer.alarms``, ``email_queue.alarms``, ``email_sender.alarms``).

    Child ids (a public contract): ``DataKey`` (without ``encryption_key``), ``OrderEvents``, ``WriterQueue``,
    ``Writer``, ``OrdersTable``, ``EmailQueue``, ``EmailSender``, ``IdempotencyTable``, ``Template``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        sender: ses.IEmailIdentity,
        configuration_set: ses.IConfigurationSet,
        from_address: str,
        suppression_table: dynamodb.ITable,
        template: OrderConfirmationTemplate | None = None,
        use_template: bool = True,
        filter_on_message_body: bool = False,
        max_send_rate: float | None = None,
        max_send_concurrency: int | None = None,
        alarm_topic: sns.ITopic | None = None,
        topic: sns.ITopic | None = None,
        orders_table: dynamodb.ITable | None = None,
        idempotency_table: dynamodb.ITable | None = None,
        encryption_key: kms.IKey | None = None,
        backup_plan: backup.BackupPlan | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
    ) -> None:
        """
        :param sender: The verified identity the confirmation is sent from: a :class:`SenderIdentity` or any
            ``ses.IEmailIdentity`` (e.g. ``ses.EmailIdentity.from_email_identity_name(...)``).
        :param configuration_set: Configuration set used for every send (events, reputation metrics): an
            :class:`EmailConfigurationSet` or any ``ses.IConfigurationSet`` (e.g. imported by name).
        :param from_address: ``orders@example.com`` or ``Shop <orders@example.com>``; must belong to ``sender``
            (checked unless the identity's name is only known at deploy time).
        :param suppression_table: The suppression table (``BounceHandlingPipeline.suppression_table``).
        :param template: Default: - an :class:`OrderConfirmationTemplate` with the default content.
        :param use_template: False sends simple content built by the handler. Default: True.
        :param filter_on_message_body: Filter on ``event_type`` in the JSON body instead of the message
            attribute. Default: False (attribute filtering).
        :param max_send_rate: E-mails per second the sender may send, all invocations together: your
            account's SES maximum send rate (``aws sesv2 get-account``: ``SendQuota.MaxSendRate``) minus what
            other senders of the account need. Split evenly over ``max_send_concurrency``: each execution
            environment paces its sends to its share (``SEND_RATE_PER_SECOND``), so a burst drains at the
            quota instead of being throttled (README: "Sizing the sender from the quota"). Default: - no
            pacing (throttling answers are retried in-process, then by SQS).
        :param max_send_concurrency: Maximum concurrent sender invocations (2-1000). Each sends its batch
            sequentially, at most about :data:`SENDS_PER_SECOND_PER_INVOCATION` e-mails per second.
            Default: - 2 (the SQS minimum), or with ``max_send_rate`` the fewest invocations that reach it:
            ``max(2, ceil(max_send_rate / SENDS_PER_SECOND_PER_INVOCATION))``.
        :param alarm_topic: Where the queue and function alarms notify. Default: - no alarm actions.
        :param topic: An existing order-events topic to subscribe to instead of creating ``OrderEvents``
            (any ``sns.ITopic``; an imported topic's key, if any, must let SNS deliver - pass ``key_arn`` to
            ``sns.Topic.from_topic_attributes`` so that ``grant_publish`` covers it). Default: - a new
            :class:`NotificationTopic`.
        :param orders_table: An existing orders table (partition key ``order_id``, string). Default: - a new one.
        :param idempotency_table: An existing idempotency table (partition key ``id``, string; TTL attribute
            ``expiration``). Default: - a new one.
        :param encryption_key: Customer-managed key of what the pipeline creates: topic, queues and DLQs,
            tables, log groups. Default: - one new key per pipeline (``DataKey``, rotation on). A ``kms.Key``
            of this app gets the key-policy statements SNS and CloudWatch Logs need. An imported key's policy
            cannot be changed here: it covers the tables and log groups only (it must let CloudWatch Logs use
            it, see ``QueueConsumerFunction``) and the topic and queues keep keys of their own.
        :param backup_plan: An AWS Backup plan the tables the pipeline creates are added to (a selection
            named after the pipeline). Default: - none (point-in-time recovery only).
        :param removal_policy: For the orders table and the key (the idempotency table is always
            destroyable). Default: RETAIN (with deletion protection).
        :param vpc: Place both functions in this VPC (see ``QueueConsumerFunction``). Default: - no VPC.
        :param vpc_subnets: With ``vpc``. Default: - the VPC's private subnets.
        :param security_groups: With ``vpc``. Default: - a new security group per function.
        """
        super().__init__(scope, id)
        problems = Problems(self)
        # The sender's own parser: a value accepted here is accepted by its configuration at run time.
        _, address = contracts.split_sender_address(from_address)
        if not is_token(from_address):
            valid = contracts.sender_address(from_address) is not None
            problems.check(
                valid,
                f"from_address {from_address!r} is not a valid e-mail address "
                "('orders@example.com' or 'Shop <orders@example.com>')",
            )
            identity_name = _identity_name(sender)
            if valid and not is_token(identity_name):
                domain = address.split("@")[1].lower()
                identity = identity_name.lower()
                belongs = (
                    address.lower() == identity
                    if "@" in identity
                    else domain == identity or domain.endswith("." + identity)
                )
                problems.check(
                    belongs,
                    f"from_address {address!r} is not covered by the SES identity {identity_name!r}",
                )
        if max_send_concurrency is None:
            max_send_concurrency = (
                2
                if max_send_rate is None or is_token(max_send_rate) or not max_send_rate > 0
                else max(2, math.ceil(max_send_rate / SENDS_PER_SECOND_PER_INVOCATION))
            )
        problems.check(
            is_token(max_send_concurrency) or 2 <= max_send_concurrency <= 1000,
            f"max_send_concurrency {max_send_concurrency}: must be 2-1000",
        )
        send_rate_share: float | None = None
        if max_send_rate is not None:
            problems.check(not is_token(max_send_rate), "max_send_rate: must be a number known at synth time")
            if not is_token(max_send_rate) and not is_token(max_send_concurrency):
                send_rate_share = max_send_rate / max_send_concurrency
                problems.check(
                    max_send_rate > 0 and 0.01 <= send_rate_share <= 10_000,
                    f"max_send_rate {max_send_rate}: must give each of the {max_send_concurrency} sender "
                    "invocations 0.01-10000 e-mails per second",
                )
        problems.check(template is None or use_template, "template is given but use_template=False")
        problems.raise_if_any()

        self.encryption_key: kms.IKey = encryption_key or new_cmk(
            self,
            "DataKey",
            description=f"Encrypts the topic, queues, tables and log groups of {self.node.path}",
            removal_policy=removal_policy,
        )
        # Only a key of this app can take the statements SNS needs (imported: topic and queues keep own keys).
        shared_key = self.encryption_key if isinstance(self.encryption_key, kms.Key) else None
        network: dict[str, Any] = {"vpc": vpc, "vpc_subnets": vpc_subnets, "security_groups": security_groups}

        self.topic: sns.ITopic = topic or NotificationTopic(
            self, "OrderEvents", publishing_services=(), encryption_key=shared_key
        )
        order_placed = sns.SubscriptionFilter.string_filter(allowlist=[contracts.ORDER_PLACED_EVENT_TYPE])
        event_type = contracts.EVENT_TYPE_ATTRIBUTE
        filters: dict[str, Any] = (
            {"message_body_filter": {event_type: sns.FilterOrPolicy.filter(order_placed)}}
            if filter_on_message_body
            else {"filter_policy": {event_type: order_placed}}
        )

        # (a) persist the order
        self.orders_table: dynamodb.ITable = orders_table or new_table(
            self,
            "OrdersTable",
            partition_key="order_id",
            removal_policy=removal_policy,
            encryption_key=self.encryption_key,
        )
        self.writer_queue = ProcessingQueue(
            self, "WriterQueue", alarm_topic=alarm_topic, encryption_key=shared_key
        )
        self.writer_queue.subscribe_to(self.topic, **filters)
        self.writer = QueueConsumerFunction(
            self,
            "Writer",
            queue=self.writer_queue,
            handler="lambda_handlers.order_writer.handler.handler",
            encryption_key=self.encryption_key,
            description="Persists order-placed events (conditional write, redelivery is a no-op).",
            environment={contracts.ORDERS_TABLE_NAME_ENV: self.orders_table.table_name},
            service_name=WRITER_SERVICE,
            alarm_topic=alarm_topic,
            **network,
        )
        grant_table(self.orders_table, self.writer.function, "dynamodb:PutItem")

        # (b) send the confirmation
        self.template = template or (OrderConfirmationTemplate(self, "Template") if use_template else None)
        self.idempotency_table: dynamodb.ITable = idempotency_table or new_table(
            self,
            "IdempotencyTable",
            partition_key="id",
            time_to_live_attribute="expiration",
            removal_policy=RemovalPolicy.DESTROY,
            encryption_key=self.encryption_key,
        )
        self.email_queue = ProcessingQueue(
            self, "EmailQueue", alarm_topic=alarm_topic, encryption_key=shared_key
        )
        self.email_queue.subscribe_to(self.topic, **filters)
        environment = {
            contracts.SENDER_ADDRESS_ENV: from_address,
            contracts.CONFIGURATION_SET_NAME_ENV: configuration_set.configuration_set_name,
            contracts.SUPPRESSION_TABLE_NAME_ENV: suppression_table.table_name,
            contracts.IDEMPOTENCY_TABLE_NAME_ENV: self.idempotency_table.table_name,
        }
        if self.template is not None:
            environment[contracts.TEMPLATE_NAME_ENV] = self.template.template_name
        if send_rate_share is not None:
            environment[contracts.SEND_RATE_PER_SECOND_ENV] = f"{send_rate_share:.6g}"
        self.email_sender = QueueConsumerFunction(
            self,
            "EmailSender",
            queue=self.email_queue,
            handler="lambda_handlers.order_email_sender.handler.handler",
            encryption_key=self.encryption_key,
            description="Sends one order confirmation per order through SES.",
            environment=environment,
            service_name=SENDER_SERVICE,
            max_concurrency=max_send_concurrency,
            alarm_topic=alarm_topic,
            **network,
        )
        function = self.email_sender.function
        grant_table(suppression_table, function, "dynamodb:GetItem", "dynamodb:BatchGetItem")
        # Claims are conditional puts (PutItem, also inside TransactWriteItems, which has no IAM action of
        # its own: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html),
        # completions and releases one BatchWriteItem per batch, a failed record's release a DeleteItem.
        grant_table(
            self.idempotency_table,
            function,
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
        )
        created = [
            t
            for t, given in ((self.orders_table, orders_table), (self.idempotency_table, idempotency_table))
            if given is None
        ]
        add_to_backup_plan(backup_plan, f"{id}Tables", created)
        grant_send_email(
            self,
            function,
            # A SenderIdentity's ARN is formatted from its name (readable policies); any other identity's
            # is its email_identity_arn.
            identity_arn=sender.identity_arn
            if isinstance(sender, SenderIdentity)
            else sender.email_identity_arn,
            configuration_set=configuration_set,
            from_address=address,
            templates=[self.template.template_name] if self.template is not None else (),
        )
        #: Every alarm the pipeline creates: the writer queue's, the writer's, the e-mail queue's and the
        #: sender's (DLQ depth, oldest message age, errors, throttles), in that order.
        self.all_alarms: list[cloudwatch.Alarm] = [
            *self.writer_queue.alarms,
            *self.writer.alarms,
            *self.email_queue.alarms,
            *self.email_sender.alarms,
        ]

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let the producing app publish order events: ``sns:Publish`` plus the topic key's KMS actions."""
        return self.topic.grant_publish(grantee)

    # --- metrics: the handlers' EMF counts (namespace NotificationConstructs, dimension service) --------

    def metric_orders_stored(
        self, *, period: Duration | None = None, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Orders the writer stored (``OrderStored``; a redelivered order counts as ``DuplicateOrder``).

        :param period: Default: 5 minutes.
        :param statistic: Default: Sum (a count per period).
        """
        return handler_metric(
            contracts.METRIC_ORDER_STORED,
            service=WRITER_SERVICE,
            period=period,
            statistic=statistic,
            label=label,
        )

    def metric_confirmations_sent(
        self, *, period: Duration | None = None, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Confirmations SES accepted (``ConfirmationSent``). Period 5 minutes, statistic Sum by default."""
        return handler_metric(
            contracts.METRIC_EMAIL_SENT,
            service=SENDER_SERVICE,
            period=period,
            statistic=statistic,
            label=label,
        )

    def metric_recipients_suppressed(
        self, *, period: Duration | None = None, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Confirmations skipped because the recipient is on the suppression table
        (``RecipientSuppressed``). Period 5 minutes, statistic Sum by default."""
        return handler_metric(
            contracts.METRIC_RECIPIENT_SUPPRESSED,
            service=SENDER_SERVICE,
            period=period,
            statistic=statistic,
            label=label,
        )

    def metric_duplicates_skipped(
        self, *, period: Duration | None = None, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Redelivered orders the sender did not mail again (``DuplicateSkipped``, the idempotency table).
        Period 5 minutes, statistic Sum by default."""
        return handler_metric(
            contracts.METRIC_DUPLICATE_SKIPPED,
            service=SENDER_SERVICE,
            period=period,
            statistic=statistic,
            label=label,
        )

    def metric_dead_lettered(
        self, *, period: Duration | None = None, label: str | None = None
    ) -> cloudwatch.MathExpression:
        """Records either handler parked in its DLQ as permanently invalid (``DeadLettered`` of
        ``order_writer`` + ``order_email_sender``, each counted as 0 when it emitted none), per period
        (default 5 minutes). Messages SQS moved after ``max_receive_count`` receives show in the queues'
        ``metric_dead_letter_queue_depth()`` instead."""
        period = period or Duration.minutes(5)
        return cloudwatch.MathExpression(
            expression="FILL(writer, 0) + FILL(sender, 0)",
            using_metrics={
                "writer": handler_metric(
                    contracts.METRIC_DEAD_LETTERED, service=WRITER_SERVICE, period=period
                ),
                "sender": handler_metric(
                    contracts.METRIC_DEAD_LETTERED, service=SENDER_SERVICE, period=period
                ),
            },
            label=label or "Dead-lettered by the handlers",
            period=period,
        )


def _identity_name(identity: ses.IEmailIdentity) -> str:
    """The domain or address of the identity: a SenderIdentity's as given, else ``email_identity_name``
    (the name itself for an imported identity, a reference - a token - for one created in the app)."""
    return identity.identity_name if isinstance(identity, SenderIdentity) else identity.email_identity_name
