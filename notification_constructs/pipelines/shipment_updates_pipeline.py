"""ShipmentUpdatesPipeline: app -> shipment-events topic -> queue -> shipment_notifier -> SMS / SES / partners."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambda_handlers import contracts
from notification_constructs._defaults import at_or_above_alarm, handler_metric, new_cmk
from notification_constructs._tables import add_to_backup_plan, grant_table, new_table
from notification_constructs._validation import Problems, acknowledge, is_token
from notification_constructs.fan_out_topic import FanOutTopic
from notification_constructs.notification_topic import NotificationTopic
from notification_constructs.processing_queue import ProcessingQueue
from notification_constructs.queue_consumer_function import QueueConsumerFunction
from notification_constructs.sender_identity import SenderIdentity, grant_send_email

__all__ = ["ShipmentUpdateTemplate", "ShipmentUpdatesPipeline"]

#: ``POWERTOOLS_SERVICE_NAME`` of the notifier: the ``service`` dimension of its metrics.
NOTIFIER_SERVICE = "shipment_notifier"
#: Publishing an SMS names a phone number, not a resource: ``sns:Publish`` to a phone number (and
#: ``sns:CheckIfPhoneNumberIsOptedOut``) can only be granted on ``*``
#: (https://docs.aws.amazon.com/step-functions/latest/dg/sns-iam.html, "Publish to ... PhoneNumber").
SMS_ACTIONS = ("sns:Publish", "sns:CheckIfPhoneNumberIsOptedOut")

_HTML = contracts.TEMPLATE_HTML_KEY
_KEYS = frozenset(contracts.SHIPMENT_TEMPLATE_VALUE_KEYS)
_VARIABLE_RE = re.compile(r"{{\s*(?![/!])([#A-Za-z_][A-Za-z0-9_. ]*?)\s*}}")
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SENDER_ID_RE = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")
DEFAULT_TEXT = """Hello {{customer_name}},

your order {{order_id}} {{status_text}} ({{carrier}}, {{occurred_at}}).

Track it: {{tracking_url}}
"""
DEFAULT_HTML = """<!DOCTYPE html>
<html><body>
<p>Hello {{html.customer_name}},</p>
<p>your order <strong>{{html.order_id}}</strong> {{html.status_text}} ({{html.carrier}}).</p>
<p><a href="{{html.tracking_url}}">Track your parcel</a></p>
</body></html>
"""


class ShipmentUpdateTemplate(Construct):
    """The SES template of the shipment-update e-mails (subject, HTML and text parts, Handlebars).

    The subject and text part may use the TemplateData the ``shipment_notifier`` sends: ``order_id``,
    ``customer_name``, ``status`` (``shipped`` ...), ``status_text`` (``has shipped`` ...), ``carrier``,
    ``tracking_url``, ``occurred_at``; the HTML part the same values HTML-escaped under ``html``
    (``{{html.carrier}}``): SES does not escape template data. Any other variable, or a plain value in the
    HTML part, fails at synth time.

    Child ids (a public contract): ``Template``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        template_name: str | None = None,
        subject: str = contracts.SHIPMENT_DEFAULT_SUBJECT,
        html: str = DEFAULT_HTML,
        text: str = DEFAULT_TEXT,
    ) -> None:
        """
        :param template_name: Default: - a generated name.
        :param subject: Default: "Your order {{order_id}} {{status_text}}".
        :param html: Default: - a greeting, the status and a tracking link.
        :param text: Default: - the same as text.
        """
        super().__init__(scope, id)
        problems = Problems(self)
        if template_name is not None and not is_token(template_name):
            problems.check(
                bool(_NAME_RE.match(template_name)),
                f"template_name {template_name!r}: 1-64 characters a-z, A-Z, 0-9, '_', '-'",
            )
        for label, part, prefix in (
            ("subject", subject, ""),
            ("html", html, f"{_HTML}."),
            ("text", text, ""),
        ):
            problems.check(bool(part.strip()), f"{label}: must not be empty")
            allowed = {prefix + key for key in _KEYS}
            unknown = sorted(set(_VARIABLE_RE.findall(part)) - allowed)
            problems.check(
                not unknown,
                f"{label} uses {unknown}, which the shipment notifier does not send; available: "
                f"{sorted(allowed)}" + (" (HTML-escaped copies: SES does not escape)" if prefix else ""),
            )
        problems.raise_if_any()
        self.template = ses.CfnTemplate(
            self,
            "Template",
            template=ses.CfnTemplate.TemplateProperty(
                template_name=template_name, subject_part=subject, html_part=html, text_part=text
            ),
        )
        self.template_name: str = self.template.ref


def _identity_name(identity: ses.IEmailIdentity) -> str:
    return identity.identity_name if isinstance(identity, SenderIdentity) else identity.email_identity_name


class ShipmentUpdatesPipeline(Construct):
    """Shipment updates on the channels each customer chose.

    The producing app publishes ``shipment.updated`` events (schema v1, see README) to :attr:`topic` with
    the message attribute ``event_type = shipment.updated``; :attr:`queue` feeds :attr:`notifier`
    (``lambda_handlers.shipment_notifier``), which delivers each update on the event's ``channels``:

    - ``sms``: SNS ``Publish`` to the customer's number (Transactional, a short text with the tracking
      link), unless the number opted out (``CheckIfPhoneNumberIsOptedOut``);
    - ``email``: SESv2 ``SendEmail`` with :attr:`template`, the configuration set, from ``from_address``,
      unless the address is on the suppression table;
    - ``webhook``: a message on :attr:`partner_topic` (attributes ``event_type``, ``status``, ``partner``),
      delivered to the partners' HTTPS endpoints added with :meth:`add_partner_webhook`.

    :attr:`state_table` (partition key ``order_id``) keeps each order's latest status and which channels of
    which update were delivered: an update older than the order's latest status is dropped, a redelivery
    sends only the channels not yet delivered.

    Least privilege: ``dynamodb:UpdateItem`` on the state table, ``dynamodb:GetItem`` on the suppression
    table, ``ses:SendEmail`` for the identity, configuration set and template with
    ``ses:FromAddress`` = the sender address, ``sns:Publish`` on the partner topic (and its key) - and,
    for SMS, ``sns:Publish`` / ``sns:CheckIfPhoneNumberIsOptedOut`` on ``*`` (SNS has no resource for a
    phone number; acknowledged for cdk-nag).

    Alarms: the queue's and the notifier's (DLQ depth, message age, errors, throttles), the partner
    topic's (failed notifications, subscription DLQs) and :attr:`channel_failures_alarm` (a channel the
    notifier could not deliver, ``ShipmentChannelFailed`` >= 1 in 5 minutes). :attr:`all_alarms` lists
    them all.

    Child ids (a public contract): ``ShipmentEvents``, ``Queue``, ``Notifier``, ``StateTable``,
    ``Template``, ``PartnerWebhooks``, ``DataKey``, ``ChannelFailuresAlarm``.
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
        template: ShipmentUpdateTemplate | None = None,
        sms_sender_id: str | None = None,
        max_send_concurrency: int = 2,
        alarm_topic: sns.ITopic | None = None,
        topic: sns.ITopic | None = None,
        state_table: dynamodb.ITable | None = None,
        partner_topic: FanOutTopic | None = None,
        encryption_key: kms.IKey | None = None,
        backup_plan: backup.BackupPlan | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """
        :param sender: The verified identity the e-mails are sent from (the order confirmations' one): a
            :class:`SenderIdentity` or any ``ses.IEmailIdentity``.
        :param configuration_set: Configuration set of every send (the order confirmations' one).
        :param from_address: ``orders@example.com`` or ``Shop <orders@example.com>``; must belong to ``sender``.
        :param suppression_table: The suppression table (``BounceHandlingPipeline.suppression_table``).
        :param template: Default: - a :class:`ShipmentUpdateTemplate` with the default content.
        :param sms_sender_id: Alphanumeric sender id of the SMS (1-11 letters and digits, where the
            destination country supports one). Default: - none (the account's default).
        :param max_send_concurrency: Maximum concurrent notifier invocations (2-1000); keep it under your SES
            send rate and SMS throughput. Default: 2.
        :param alarm_topic: Where the alarms notify. Default: - no alarm actions.
        :param topic: An existing shipment-events topic to subscribe to instead of creating
            ``ShipmentEvents``. Default: - a new :class:`NotificationTopic` only applications publish to.
        :param state_table: An existing state table (partition key ``order_id``, string; TTL attribute
            ``expires_at``). Default: - a new one.
        :param partner_topic: An existing :class:`FanOutTopic` for the partner webhooks. Default: - a new
            one (``PartnerWebhooks``).
        :param encryption_key: Customer-managed key of the state table and the notifier's log group.
            Default: - a new key (``DataKey``, rotation on).
        :param backup_plan: An AWS Backup plan the state table (when created here) is added to.
            Default: - none (point-in-time recovery only).
        :param removal_policy: For the state table, the keys and the partner topic's key. Default: RETAIN.
        """
        super().__init__(scope, id)
        problems = Problems(self)
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
                domain, identity = address.split("@")[1].lower(), identity_name.lower()
                belongs = (
                    address.lower() == identity
                    if "@" in identity
                    else domain == identity or domain.endswith("." + identity)
                )
                problems.check(
                    belongs, f"from_address {address!r} is not covered by the SES identity {identity_name!r}"
                )
        problems.check(
            is_token(max_send_concurrency) or 2 <= max_send_concurrency <= 1000,
            f"max_send_concurrency {max_send_concurrency}: must be 2-1000",
        )
        if sms_sender_id is not None and not is_token(sms_sender_id):
            problems.check(
                bool(_SENDER_ID_RE.match(sms_sender_id)),
                f"sms_sender_id {sms_sender_id!r}: 1-11 letters and digits, at least one letter",
            )
        problems.raise_if_any()

        self.encryption_key: kms.IKey = encryption_key or new_cmk(
            self,
            "DataKey",
            description=f"Encrypts the state table and log group of {self.node.path}",
            removal_policy=removal_policy,
        )
        self.topic: sns.ITopic = topic or NotificationTopic(self, "ShipmentEvents", publishing_services=())
        self.state_table: dynamodb.ITable = state_table or new_table(
            self,
            "StateTable",
            partition_key="order_id",
            time_to_live_attribute="expires_at",
            removal_policy=removal_policy,
            encryption_key=self.encryption_key,
        )
        add_to_backup_plan(backup_plan, f"{id}Tables", [self.state_table] if state_table is None else [])
        self.template = template or ShipmentUpdateTemplate(self, "Template")
        self._owns_partner_topic = partner_topic is None
        self.partner_topic: FanOutTopic = partner_topic or FanOutTopic(
            self,
            "PartnerWebhooks",
            display_name="Shipment updates",
            alarm_topic=alarm_topic,
            removal_policy=removal_policy,
        )

        self.queue = ProcessingQueue(self, "Queue", alarm_topic=alarm_topic)
        self.queue.subscribe_to(
            self.topic,
            filter_policy={
                contracts.EVENT_TYPE_ATTRIBUTE: sns.SubscriptionFilter.string_filter(
                    allowlist=[contracts.SHIPMENT_UPDATED_EVENT_TYPE]
                )
            },
        )
        environment = {
            contracts.SENDER_ADDRESS_ENV: from_address,
            contracts.CONFIGURATION_SET_NAME_ENV: configuration_set.configuration_set_name,
            contracts.TEMPLATE_NAME_ENV: self.template.template_name,
            contracts.SUPPRESSION_TABLE_NAME_ENV: suppression_table.table_name,
            contracts.SHIPMENT_STATE_TABLE_NAME_ENV: self.state_table.table_name,
            contracts.PARTNER_TOPIC_ARN_ENV: self.partner_topic.topic_arn,
        }
        if sms_sender_id is not None:
            environment[contracts.SMS_SENDER_ID_ENV] = sms_sender_id
        self.notifier = QueueConsumerFunction(
            self,
            "Notifier",
            queue=self.queue,
            handler="lambda_handlers.shipment_notifier.handler.handler",
            encryption_key=self.encryption_key,
            description="Delivers shipment updates by SMS, e-mail and partner webhook, once per channel.",
            environment=environment,
            service_name=NOTIFIER_SERVICE,
            max_concurrency=max_send_concurrency,
            alarm_topic=alarm_topic,
        )
        function = self.notifier.function
        grant_table(self.state_table, function, "dynamodb:UpdateItem")
        grant_table(suppression_table, function, "dynamodb:GetItem")
        grant_send_email(
            self,
            function,
            identity_arn=sender.identity_arn
            if isinstance(sender, SenderIdentity)
            else sender.email_identity_arn,
            configuration_set=configuration_set,
            from_address=address,
            templates=[self.template.template_name],
        )
        self.partner_topic.grant_publish(function)
        function.add_to_role_policy(iam.PolicyStatement(actions=list(SMS_ACTIONS), resources=["*"]))
        acknowledge(
            cast(Construct, self.notifier.role),  # always the function's own iam.Role
            "AwsSolutions-IAM5[Resource::*]",
            "SMS: sns:Publish to a phone number and sns:CheckIfPhoneNumberIsOptedOut name no resource, so "
            "IAM can only grant them on '*' (topics on customer-managed keys stay closed: the role may use "
            "only the partner topic's key).",
        )

        self.channel_failures_alarm = at_or_above_alarm(
            self,
            "ChannelFailuresAlarm",
            description=f"{self.node.path}: the notifier could not deliver a channel of a shipment update "
            "(the record is retried, then dead-lettered): see its logs (channel, error code).",
            metric=self.metric_channel_failures(),
            threshold=1,
            alarm_topic=alarm_topic,
        )

    @property
    def all_alarms(self) -> list[cloudwatch.Alarm]:
        """Every alarm of the pipeline: the queue's, the notifier's, the partner topic's (including one per
        webhook added so far; a given ``partner_topic``'s are its own and not listed) and
        :attr:`channel_failures_alarm`."""
        partner_alarms = self.partner_topic.alarms if self._owns_partner_topic else []
        return [*self.queue.alarms, *self.notifier.alarms, *partner_alarms, self.channel_failures_alarm]

    def add_partner_webhook(
        self,
        id: str,
        url: str,
        *,
        statuses: Sequence[str] | None = None,
        partner: str | None = None,
        raw_message_delivery: bool = False,
    ) -> sns.Subscription:
        """POST the shipment updates to a partner's ``https://`` endpoint (a subscription of
        :attr:`partner_topic` with its own DLQ and retry policy; the endpoint must confirm it).

        :param statuses: Only these statuses. Default: - every status.
        :param partner: Only updates whose event names this ``partner``. Default: - every update.
        :param raw_message_delivery: POST the update JSON itself instead of SNS's signed envelope.
            Default: False (partners can verify SNS's signature).
        """
        problems = Problems(self)
        unknown = sorted(set(statuses or ()) - set(contracts.SHIPMENT_STATUSES))
        problems.check(
            not unknown,
            f"add_partner_webhook({id!r}): statuses {unknown} unknown; one of {list(contracts.SHIPMENT_STATUSES)}",
        )
        problems.check(
            statuses is None or bool(statuses), f"add_partner_webhook({id!r}): statuses must not be empty"
        )
        if partner is not None and not is_token(partner):
            problems.check(
                bool(contracts.PARTNER_ID_PATTERN.match(partner)),
                f"add_partner_webhook({id!r}): partner {partner!r} must match "
                f"{contracts.PARTNER_ID_PATTERN.pattern}",
            )
        problems.raise_if_any()
        filters: dict[str, Any] = {
            contracts.EVENT_TYPE_ATTRIBUTE: [contracts.SHIPMENT_UPDATED_EVENT_TYPE],
            contracts.SHIPMENT_STATUS_ATTRIBUTE: list(statuses) if statuses else None,
            contracts.PARTNER_ATTRIBUTE: [partner] if partner else None,
        }
        filter_policy = {
            key: sns.SubscriptionFilter.string_filter(allowlist=values)
            for key, values in filters.items()
            if values
        }
        return self.partner_topic.add_https_subscription(
            id, url, filter_policy=filter_policy, raw_message_delivery=raw_message_delivery
        )

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let the producing app publish shipment events: ``sns:Publish`` plus the topic key's KMS actions."""
        return self.topic.grant_publish(grantee)

    def metric_channel_failures(
        self, *, period: Duration | None = None, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Channels the notifier could not deliver (``ShipmentChannelFailed``). Period 5 minutes, Sum."""
        return handler_metric(
            contracts.METRIC_SHIPMENT_CHANNEL_FAILED,
            service=NOTIFIER_SERVICE,
            period=period,
            statistic=statistic,
            label=label,
        )

    def metric_stale_updates(
        self, *, period: Duration | None = None, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Updates dropped because a later status of the order was already delivered
        (``ShipmentStaleUpdateSkipped``). Period 5 minutes, statistic Sum by default."""
        return handler_metric(
            contracts.METRIC_SHIPMENT_STALE_SKIPPED,
            service=NOTIFIER_SERVICE,
            period=period,
            statistic=statistic,
            label=label,
        )
