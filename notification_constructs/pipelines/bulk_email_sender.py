"""BulkEmailSender: campaign requests -> queue -> bulk_email_sender -> SES, to a contact-list topic's subscribers."""

from __future__ import annotations

import math
from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambda_handlers import contracts
from notification_constructs._defaults import VISIBILITY_TIMEOUT_FACTOR, handler_metric, new_cmk
from notification_constructs._tables import add_to_backup_plan, grant_table, new_table
from notification_constructs._validation import Problems, is_token
from notification_constructs.processing_queue import ProcessingQueue
from notification_constructs.queue_consumer_function import QueueConsumerFunction
from notification_constructs.sender_identity import SenderIdentity, grant_send_email
from notification_constructs.subscription_management import SubscriptionManagement

__all__ = ["BulkEmailSender"]

#: ``POWERTOOLS_SERVICE_NAME`` of the sender: the ``service`` dimension of its metrics.
SENDER_SERVICE = "bulk_email_sender"
FUNCTION_TIMEOUT = Duration.minutes(2)
#: The part of the timeout one page's sends may take at the per-invocation rate.
PAGE_BUDGET_SECONDS = 90
DEFAULT_RECORD_TTL = Duration.days(contracts.DEFAULT_CAMPAIGN_RECORD_TTL_DAYS)
CAMPAIGN_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem")


def _identity_arn(identity: ses.IEmailIdentity) -> str:
    return identity.identity_arn if isinstance(identity, SenderIdentity) else identity.email_identity_arn


class BulkEmailSender(Construct):
    """Campaigns: an SES template sent to the subscribers of one topic of a :class:`SubscriptionManagement`
    contact list, at a configured rate, at most once per campaign and address.

    The application sends ``campaign.send`` requests (schema v1, see README) to :attr:`queue`
    (:meth:`grant_send_campaigns`); :attr:`function` (``lambda_handlers.bulk_email_sender``) lists the
    topic's ``OPT_IN`` contacts a page at a time (queueing the next page on the same queue, so a large
    campaign spreads over invocations), drops the addresses on the suppression table and sends:

    - ``one_click_unsubscribe=True`` (default): SESv2 ``SendEmail`` per recipient with
      ``ListManagementOptions`` - SES adds the RFC 8058 one-click ``List-Unsubscribe`` headers and
      records the opt-out on the topic (SES's ``SendBulkEmail`` has no ``ListManagementOptions``);
    - ``False``: ``SendBulkEmail``, up to 50 recipients a call; the template must carry the application's
      own unsubscribe link.

    Every per-destination result is recorded in :attr:`campaign_table` (partition key ``id`` =
    ``<campaign id>#<address>``): successes and permanent refusals are final, throttled / transient ones
    are retried by redelivering the page (the recorded ones are skipped), a send whose outcome is unknown
    is retried only after its claim expired (never twice at once).

    Rate: ``max_send_rate`` is split evenly over the ``max_concurrency`` execution environments, each
    pacing itself with a token bucket (``SEND_RATE_PER_SECOND`` = rate / concurrency); keep it under the
    account's SES maximum send rate minus what the transactional pipelines need.

    Alarms: the queue's and the function's (DLQ depth, message age, errors, throttles) in :attr:`alarms`.

    Child ids (a public contract): ``Queue``, ``Sender``, ``CampaignTable``, ``DataKey``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        sender: ses.IEmailIdentity,
        configuration_set: ses.IConfigurationSet,
        from_address: str,
        subscriptions: SubscriptionManagement,
        suppression_table: dynamodb.ITable,
        templates: Sequence[str] = (),
        max_send_rate: float = 10,
        max_concurrency: int = 2,
        one_click_unsubscribe: bool = True,
        contacts_page_size: int | None = None,
        record_ttl: Duration = DEFAULT_RECORD_TTL,
        campaign_table: dynamodb.ITable | None = None,
        alarm_topic: sns.ITopic | None = None,
        encryption_key: kms.IKey | None = None,
        backup_plan: backup.BackupPlan | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """
        :param sender: The verified identity campaigns are sent from.
        :param configuration_set: Configuration set of every send (its events reach the bounce pipeline).
        :param from_address: ``news@example.com`` or ``Shop <news@example.com>``; must belong to ``sender``.
        :param subscriptions: The contact list whose topics campaigns go to.
        :param suppression_table: The suppression table (``BounceHandlingPipeline.suppression_table``).
        :param templates: SES template names campaigns may use. Default: - any template of the account and
            Region (``template/*``).
        :param max_send_rate: Messages per second of all invocations together. Default: 10.
        :param max_concurrency: Concurrent invocations (2-1000). Default: 2.
        :param one_click_unsubscribe: ``SendEmail`` with ``ListManagementOptions`` per recipient (True) or
            ``SendBulkEmail`` without them (False). Default: True.
        :param contacts_page_size: Contacts per page (1-1000); one page must be sendable within 90 s at the
            per-invocation rate. Default: - that rate x 60 s, at most 1000.
        :param record_ttl: How long per-destination results are kept (1-3650 days). Default: 90 days.
        :param campaign_table: An existing campaign table (partition key ``id``, string; TTL attribute
            ``expires_at``). Default: - a new one.
        :param alarm_topic: Where the alarms notify. Default: - no alarm actions.
        :param encryption_key: Key of the campaign table and the log group. Default: - a new key
            (``DataKey``, rotation on).
        :param backup_plan: An AWS Backup plan the campaign table (when created here) is added to.
            Default: - none (point-in-time recovery only).
        :param removal_policy: For the campaign table and the key. Default: RETAIN.
        """
        super().__init__(scope, id)
        problems = Problems(self)
        _, address = contracts.split_sender_address(from_address)
        if not is_token(from_address):
            problems.check(
                contracts.sender_address(from_address) is not None,
                f"from_address {from_address!r} is not a valid e-mail address "
                "('news@example.com' or 'Shop <news@example.com>')",
            )
        problems.check(
            is_token(max_concurrency) or 2 <= max_concurrency <= 1000,
            f"max_concurrency {max_concurrency}: must be 2-1000",
        )
        per_invocation = max_send_rate / max_concurrency if max_concurrency else 0
        problems.check(
            0.01 <= per_invocation <= 10_000,
            f"max_send_rate {max_send_rate}: must give each of the {max_concurrency} invocations "
            "0.01-10000 messages per second",
        )
        page_size = contacts_page_size
        if page_size is None:
            page_size = max(1, min(contracts.MAX_CONTACTS_PAGE_SIZE, math.floor(per_invocation * 60)))
        problems.check(
            1 <= page_size <= contracts.MAX_CONTACTS_PAGE_SIZE,
            f"contacts_page_size {page_size}: must be 1-{contracts.MAX_CONTACTS_PAGE_SIZE}",
        )
        if per_invocation > 0:
            problems.check(
                page_size / per_invocation <= PAGE_BUDGET_SECONDS,
                f"contacts_page_size {page_size}: at {per_invocation:g} messages/s per invocation a page "
                f"takes {page_size / per_invocation:g} s, more than {PAGE_BUDGET_SECONDS} s",
            )
        ttl_days = record_ttl.to_days()
        problems.check(
            contracts.MIN_CAMPAIGN_RECORD_TTL_DAYS <= ttl_days <= contracts.MAX_CAMPAIGN_RECORD_TTL_DAYS,
            f"record_ttl {ttl_days:g} days: must be {contracts.MIN_CAMPAIGN_RECORD_TTL_DAYS}-"
            f"{contracts.MAX_CAMPAIGN_RECORD_TTL_DAYS} days",
        )
        for name in templates:
            if not is_token(name):
                problems.check(
                    bool(contracts.SES_NAME_PATTERN.fullmatch(name)),
                    f"templates: {name!r} is not a template name (1-64 characters A-Z a-z 0-9 _ -)",
                )
        problems.raise_if_any()

        self.encryption_key: kms.IKey = encryption_key or new_cmk(
            self,
            "DataKey",
            description=f"Encrypts the campaign table and log group of {self.node.path}",
            removal_policy=removal_policy,
        )
        self.campaign_table: dynamodb.ITable = campaign_table or new_table(
            self,
            "CampaignTable",
            partition_key="id",
            time_to_live_attribute="expires_at",
            removal_policy=removal_policy,
            encryption_key=self.encryption_key,
        )
        add_to_backup_plan(
            backup_plan, f"{id}Tables", [self.campaign_table] if campaign_table is None else []
        )
        self.queue = ProcessingQueue(
            self,
            "Queue",
            visibility_timeout=Duration.seconds(FUNCTION_TIMEOUT.to_seconds() * VISIBILITY_TIMEOUT_FACTOR),
            alarm_topic=alarm_topic,
        )
        self.function = QueueConsumerFunction(
            self,
            "Sender",
            queue=self.queue,
            handler="lambda_handlers.bulk_email_sender.handler.handler",
            encryption_key=self.encryption_key,
            description="Sends campaigns to a contact-list topic's subscribers, once per address.",
            environment={
                contracts.SENDER_ADDRESS_ENV: from_address,
                contracts.CONFIGURATION_SET_NAME_ENV: configuration_set.configuration_set_name,
                contracts.CONTACT_LIST_NAME_ENV: subscriptions.contact_list_name,
                contracts.SUPPRESSION_TABLE_NAME_ENV: suppression_table.table_name,
                contracts.CAMPAIGN_TABLE_NAME_ENV: self.campaign_table.table_name,
                contracts.CAMPAIGN_QUEUE_URL_ENV: self.queue.queue_url,
                contracts.SEND_RATE_PER_SECOND_ENV: f"{per_invocation:g}",
                contracts.CONTACTS_PAGE_SIZE_ENV: str(page_size),
                contracts.ONE_CLICK_UNSUBSCRIBE_ENV: "true" if one_click_unsubscribe else "false",
                contracts.CAMPAIGN_RECORD_TTL_DAYS_ENV: str(int(ttl_days)),
            },
            timeout=FUNCTION_TIMEOUT,
            batch_size=1,
            service_name=SENDER_SERVICE,
            max_concurrency=max_concurrency,
            alarm_topic=alarm_topic,
        )
        grant_table(self.campaign_table, self.function, *CAMPAIGN_TABLE_ACTIONS)
        grant_table(suppression_table, self.function, "dynamodb:BatchGetItem")
        subscriptions.grant_read_contacts(self.function)
        # It queues the next page of a campaign on its own queue: only what a send needs
        # (sqs.Queue.grant_send_messages adds kms:ReEncrypt* / kms:GenerateDataKey*).
        iam.Grant.add_to_principal(
            grantee=self.function,
            actions=["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
            resource_arns=[self.queue.queue_arn],
        )
        self.queue.encryption_key.grant(self.function, "kms:GenerateDataKey", "kms:Decrypt")
        identity_arn = _identity_arn(sender)
        template_names = list(templates) or ["*"]
        if one_click_unsubscribe:
            grant_send_email(
                self,
                self.function,
                identity_arn=identity_arn,
                configuration_set=configuration_set,
                from_address=address,
                templates=template_names,
            )
            # A send with ListManagementOptions names the contact list too.
            self.function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["ses:SendEmail"],
                    resources=[subscriptions.contact_list_arn],
                    conditions={"StringEquals": {"ses:FromAddress": address}},
                )
            )
        else:
            stack = Stack.of(self)
            self.function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["ses:SendBulkEmail"],
                    resources=[
                        identity_arn,
                        stack.format_arn(
                            service="ses",
                            resource="configuration-set",
                            resource_name=configuration_set.configuration_set_name,
                        ),
                        *(
                            stack.format_arn(service="ses", resource="template", resource_name=name)
                            for name in template_names
                        ),
                    ],
                    conditions={"StringEquals": {"ses:FromAddress": address}},
                )
            )

    @property
    def alarms(self) -> list[cloudwatch.Alarm]:
        """The queue's and the function's alarms."""
        return [*self.queue.alarms, *self.function.alarms]

    def grant_send_campaigns(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let the application queue campaign requests: ``sqs:SendMessage`` (and the queue key's actions)."""
        return self.queue.grant_send_messages(grantee)

    def metric_sent(
        self, *, period: Duration | None = None, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Campaign messages SES accepted (``CampaignEmailSent``). Period 5 minutes, statistic Sum."""
        return handler_metric(
            contracts.METRIC_CAMPAIGN_EMAIL_SENT,
            service=SENDER_SERVICE,
            period=period,
            statistic=statistic,
            label=label,
        )

    def metric_failed(
        self, *, period: Duration | None = None, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Destinations SES refused for good (``CampaignSendFailed``). Period 5 minutes, statistic Sum."""
        return handler_metric(
            contracts.METRIC_CAMPAIGN_SEND_FAILED,
            service=SENDER_SERVICE,
            period=period,
            statistic=statistic,
            label=label,
        )
