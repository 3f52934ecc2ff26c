"""OrderConfirmationPipeline: app -> order-events topic -> [orders queue -> writer, e-mail queue -> sender -> SES]."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambda_handlers import contracts
from notification_constructs._defaults import new_cmk
from notification_constructs._tables import add_to_backup_plan, grant_table, new_table
from notification_constructs._validation import Problems, is_token
from notification_constructs.notification_topic import NotificationTopic
from notification_constructs.order_confirmation_template import OrderConfirmationTemplate
from notification_constructs.processing_queue import ProcessingQueue
from notification_constructs.queue_consumer_function import QueueConsumerFunction
from notification_constructs.sender_identity import SenderIdentity

__all__ = ["OrderConfirmationPipeline"]


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

    Child ids (a public contract): ``OrderEvents``, ``WriterQueue``, ``Writer``, ``OrdersTable``,
    ``EmailQueue``, ``EmailSender``, ``IdempotencyTable``, ``Template``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        sender: SenderIdentity,
        configuration_set: ses.IConfigurationSet,
        from_address: str,
        suppression_table: dynamodb.ITable,
        template: OrderConfirmationTemplate | None = None,
        use_template: bool = True,
        filter_on_message_body: bool = False,
        max_send_concurrency: int = 2,
        alarm_topic: sns.ITopic | None = None,
        topic: sns.ITopic | None = None,
        orders_table: dynamodb.ITable | None = None,
        idempotency_table: dynamodb.ITable | None = None,
        encryption_key: kms.IKey | None = None,
        backup_plan: backup.BackupPlan | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """
        :param sender: The verified identity the confirmation is sent from.
        :param configuration_set: Configuration set used for every send (events, reputation metrics): an
            :class:`EmailConfigurationSet` or any ``ses.IConfigurationSet`` (e.g. imported by name).
        :param from_address: ``orders@example.com`` or ``Shop <orders@example.com>``; must belong to ``sender``.
        :param suppression_table: The suppression table (``BounceHandlingPipeline.suppression_table``).
        :param template: Default: - an :class:`OrderConfirmationTemplate` with the default content.
        :param use_template: False sends simple content built by the handler. Default: True.
        :param filter_on_message_body: Filter on ``event_type`` in the JSON body instead of the message
            attribute. Default: False (attribute filtering).
        :param max_send_concurrency: Maximum concurrent sender invocations. Each sends its batch
            sequentially, so at most ``1 / send latency`` mails per second: keep
            ``max_send_concurrency / average send latency`` under your SES maximum send rate (README:
            "Sizing the sender's concurrency from the quota"). Default: 2 (the SQS minimum).
        :param alarm_topic: Where the queue and function alarms notify. Default: - no alarm actions.
        :param topic: An existing order-events topic to subscribe to instead of creating ``OrderEvents``
            (any ``sns.ITopic``; an imported topic's key, if any, must let SNS deliver - pass ``key_arn`` to
            ``sns.Topic.from_topic_attributes`` so that ``grant_publish`` covers it). Default: - a new
            :class:`NotificationTopic`.
        :param orders_table: An existing orders table (partition key ``order_id``, string). Default: - a new one.
        :param idempotency_table: An existing idempotency table (partition key ``id``, string; TTL attribute
            ``expiration``). Default: - a new one.
        :param encryption_key: Customer-managed key for the data holding e-mail addresses at rest that the
            pipeline creates: its tables and its functions' log groups. Default: - one new key per pipeline
            (``DataKey``, rotation on). An imported key's policy cannot be changed here: it must let CloudWatch
            Logs use it (see ``QueueConsumerFunction``).
        :param backup_plan: An AWS Backup plan the tables the pipeline creates are added to (a selection
            named after the pipeline). Default: - none (point-in-time recovery only).
        :param removal_policy: For the orders table (the idempotency table is always destroyable).
            Default: RETAIN (with deletion protection).
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
            if valid and not is_token(sender.identity_name):
                domain = address.split("@")[1].lower()
                identity = sender.identity_name.lower()
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
            is_token(max_send_concurrency) or 2 <= max_send_concurrency <= 1000,
            f"max_send_concurrency {max_send_concurrency}: must be 2-1000",
        )
        problems.check(template is None or use_template, "template is given but use_template=False")
        problems.raise_if_any()

        self.topic: sns.ITopic = topic or NotificationTopic(self, "OrderEvents", publishing_services=())
        order_placed = sns.SubscriptionFilter.string_filter(allowlist=[contracts.ORDER_PLACED_EVENT_TYPE])
        event_type = contracts.EVENT_TYPE_ATTRIBUTE
        filters: dict[str, Any] = (
            {"message_body_filter": {event_type: sns.FilterOrPolicy.filter(order_placed)}}
            if filter_on_message_body
            else {"filter_policy": {event_type: order_placed}}
        )

        self.encryption_key: kms.IKey = encryption_key or new_cmk(
            self,
            "DataKey",
            description=f"Encrypts the tables and log groups of {self.node.path} (e-mail addresses)",
            removal_policy=removal_policy,
        )

        # (a) persist the order
        self.orders_table: dynamodb.ITable = orders_table or new_table(
            self,
            "OrdersTable",
            partition_key="order_id",
            removal_policy=removal_policy,
            encryption_key=self.encryption_key,
        )
        self.writer_queue = ProcessingQueue(self, "WriterQueue", alarm_topic=alarm_topic)
        self.writer_queue.subscribe_to(self.topic, **filters)
        self.writer = QueueConsumerFunction(
            self,
            "Writer",
            queue=self.writer_queue,
            handler="lambda_handlers.order_writer.handler.handler",
            encryption_key=self.encryption_key,
            description="Persists order-placed events (conditional write, redelivery is a no-op).",
            environment={contracts.ORDERS_TABLE_NAME_ENV: self.orders_table.table_name},
            service_name="order_writer",
            alarm_topic=alarm_topic,
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
        self.email_queue = ProcessingQueue(self, "EmailQueue", alarm_topic=alarm_topic)
        self.email_queue.subscribe_to(self.topic, **filters)
        environment = {
            contracts.SENDER_ADDRESS_ENV: from_address,
            contracts.CONFIGURATION_SET_NAME_ENV: configuration_set.configuration_set_name,
            contracts.SUPPRESSION_TABLE_NAME_ENV: suppression_table.table_name,
            contracts.IDEMPOTENCY_TABLE_NAME_ENV: self.idempotency_table.table_name,
        }
        if self.template is not None:
            environment[contracts.TEMPLATE_NAME_ENV] = self.template.template_name
        self.email_sender = QueueConsumerFunction(
            self,
            "EmailSender",
            queue=self.email_queue,
            handler="lambda_handlers.order_email_sender.handler.handler",
            encryption_key=self.encryption_key,
            description="Sends one order confirmation per order through SES.",
            environment=environment,
            service_name="order_email_sender",
            max_concurrency=max_send_concurrency,
            alarm_topic=alarm_topic,
        )
        function = self.email_sender.function
        grant_table(suppression_table, function, "dynamodb:GetItem")
        grant_table(
            self.idempotency_table,
            function,
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        )
        created = [
            t
            for t, given in ((self.orders_table, orders_table), (self.idempotency_table, idempotency_table))
            if given is None
        ]
        add_to_backup_plan(backup_plan, f"{id}Tables", created)
        sender.grant_send_email(
            function,
            configuration_set=configuration_set,
            from_address=address,
            templates=[self.template.template_name] if self.template is not None else (),
        )

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let the producing app publish order events: ``sns:Publish`` plus the topic key's KMS actions."""
        return self.topic.grant_publish(grantee)
