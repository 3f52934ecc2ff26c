"""Example CDK app: a sender identity, a configuration set, the order, bounce, incident and shipment
pipelines, checked by cdk-nag.

Configure with CDK context (all optional)::

    npx cdk synth -c domain=shop.example.com -c hosted_zone_id=Z123 -c hosted_zone_name=example.com \\
        -c sender_address="Shop <orders@shop.example.com>" -c alert_email=oncall@example.com \\
        -c on_call_phone_numbers=+15555550100 -c on_call_emails=oncall@example.com \\
        -c stakeholder_emails=stakeholders@example.com,cto@example.com \\
        -c partner_webhook_url=https://hooks.partner.example/shipments -c partner_id=acme-marketplace \\
        -c order_send_rate=14

``on_call_phone_numbers``, ``on_call_emails`` and ``stakeholder_emails`` are comma-separated (defaults:
``DEFAULTS``; an empty value for the first two pages nobody by that channel). The order e-mail DLQ depth
alarm (critical: SMS and e-mail) and the bounce-rate alarm (high: e-mail) open incidents; their OK resolves
them and mails the stakeholders the incident report from ``incident_sender_address``
(default ``incidents@<domain>``).

Shipment updates go out from the order confirmations' sender, configuration set and suppression table;
the updates naming ``partner_id`` (default ``DEFAULTS``) are POSTed to ``partner_webhook_url`` (default: a
loopback URL the sandbox scenario ``notification_constructs.testing.shipment_scenario`` serves; an empty
value adds no webhook). ``order_send_rate`` (default 14, the SES maximum send rate new production accounts
start with) is what the order confirmations may send per second: the sender paces itself to it.

Without ``hosted_zone_id`` the DNS records to publish are stack outputs. ``account``/``region`` pin the
environment (default: the CLI's current credentials, or env-agnostic).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from aws_cdk import App, CfnOutput, Environment, Stack, Validations
from aws_cdk import aws_route53 as route53
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import Construct

from examples.deliverability import add_deliverability_stack
from notification_constructs import (
    BounceHandlingPipeline,
    EmailConfigurationSet,
    IncidentAlertPipeline,
    OrderConfirmationPipeline,
    PipelinesDashboard,
    SenderIdentity,
    ShipmentUpdatesPipeline,
)

DEFAULTS: dict[str, str] = {
    "domain": "example.com",
    "on_call_phone_numbers": "+15555550100",
    "on_call_emails": "oncall@example.com",
    "stakeholder_emails": "stakeholders@example.com",
    # The port the shipment scenario binds on 127.0.0.1 (fixed: the URL is in the template).
    "partner_webhook_url": "https://127.0.0.1:48443/partner/shipments",
    "partner_id": "demo-partner",
    # E-mails per second the order confirmations may use: the SES maximum send rate a new account with
    # production access starts with (aws sesv2 get-account: SendQuota.MaxSendRate); set yours.
    "order_send_rate": "14",
}


class OrderNotificationsStack(Stack):
    """Identity + configuration set + bounce handling + order confirmation + dashboard + incident alerts +
    shipment updates."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        domain: str,
        sender_address: str,
        hosted_zone_id: str | None = None,
        hosted_zone_name: str | None = None,
        alert_email: str | None = None,
        incident_sender_address: str | None = None,
        stakeholder_emails: Sequence[str] = (DEFAULTS["stakeholder_emails"],),
        on_call_phone_numbers: Sequence[str] = (DEFAULTS["on_call_phone_numbers"],),
        on_call_emails: Sequence[str] = (DEFAULTS["on_call_emails"],),
        partner_webhook_url: str | None = DEFAULTS["partner_webhook_url"],
        partner_id: str = DEFAULTS["partner_id"],
        order_send_rate: float = float(DEFAULTS["order_send_rate"]),
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        zone = (
            route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=hosted_zone_id, zone_name=hosted_zone_name or domain
            )
            if hosted_zone_id
            else None
        )
        configuration_set = EmailConfigurationSet(self, "ConfigurationSet")
        sender = SenderIdentity(
            self, "Sender", domain=domain, hosted_zone=zone, configuration_set=configuration_set
        )
        bounces = BounceHandlingPipeline(
            self, "BounceHandling", configuration_set=configuration_set, alert_email=alert_email
        )
        orders = OrderConfirmationPipeline(
            self,
            "OrderConfirmation",
            sender=sender,
            configuration_set=configuration_set,
            from_address=sender_address,
            suppression_table=bounces.suppression_table,
            alarm_topic=bounces.alert_topic,
            max_send_rate=order_send_rate,
        )
        PipelinesDashboard(self, "Dashboard", order_pipeline=orders, bounce_pipeline=bounces)
        # Undeliverable order confirmations page on-call at once (critical: SMS and e-mail); a bounce rate
        # SES reviews accounts for is urgent but not a wake-up call (high: e-mail).
        email_dlq_alarm = orders.email_queue.dlq_depth_alarm
        incidents = IncidentAlertPipeline(
            self,
            "IncidentAlerts",
            sender=sender,
            configuration_set=configuration_set,
            from_address=incident_sender_address or f"incidents@{domain}",
            stakeholder_emails=stakeholder_emails,
            on_call_phone_numbers=on_call_phone_numbers,
            on_call_emails=on_call_emails,
            alarm_severities={email_dlq_alarm.alarm_name: "critical"},
            alarm_topic=bounces.alert_topic,
        )
        for alarm in (email_dlq_alarm, bounces.bounce_rate_alarm):
            alarm.add_alarm_action(incidents.alarm_action)  # ALARM opens (or repeats) its incident
            alarm.add_ok_action(incidents.alarm_action)  # OK resolves it, and the report is mailed
        # Shipment updates: the order confirmations' identity, configuration set and suppression table.
        shipments = ShipmentUpdatesPipeline(
            self,
            "ShipmentUpdates",
            sender=sender,
            configuration_set=configuration_set,
            from_address=sender_address,
            suppression_table=bounces.suppression_table,
            alarm_topic=bounces.alert_topic,
        )
        if partner_webhook_url:
            shipments.add_partner_webhook("PartnerWebhook", partner_webhook_url, partner=partner_id)
        self.orders = orders
        self.bounces = bounces
        self.incidents = incidents
        self.shipments = shipments
        # What a producer, an operator or the e2e scenario (notification_constructs.testing.scenario) needs.
        for output_id, value in {
            "OrderEventsTopicArn": orders.topic.topic_arn,
            "OrdersTableName": orders.orders_table.table_name,
            "IdempotencyTableName": orders.idempotency_table.table_name,
            "SuppressionTableName": bounces.suppression_table.table_name,
            "SoftBounceTableName": bounces.soft_bounce_table.table_name,
            "WriterDeadLetterQueueUrl": orders.writer_queue.dead_letter_queue.queue_url,
            "EmailDeadLetterQueueUrl": orders.email_queue.dead_letter_queue.queue_url,
            "SesEventsDeadLetterQueueUrl": bounces.queue.dead_letter_queue.queue_url,
            "SesEventsTopicArn": bounces.topic.topic_arn,
            "AlertTopicArn": bounces.alert_topic.topic_arn,
            "ConfigurationSetName": configuration_set.configuration_set_name,
            "SenderAddress": sender_address,
            # The incident scenario (notification_constructs.testing.incident_scenario).
            "IncidentsTopicArn": incidents.topic.topic_arn,
            "IncidentsTableName": incidents.incidents_table.table_name,
            "IncidentDeadLetterQueueUrl": incidents.queue.dead_letter_queue.queue_url,
            "AcknowledgementDeadlineQueueUrl": incidents.deadline_queue.queue_url,
            "OnCallTopicArn": incidents.on_call_topic.topic_arn,
            "CriticalAlarmName": email_dlq_alarm.alarm_name,
            "StakeholderEmails": ",".join(stakeholder_emails),
            "OnCallPhoneNumbers": ",".join(on_call_phone_numbers) or "-",
            "OnCallEmails": ",".join(on_call_emails) or "-",
            # The shipment scenario (notification_constructs.testing.shipment_scenario).
            "ShipmentEventsTopicArn": shipments.topic.topic_arn,
            "ShipmentStateTableName": shipments.state_table.table_name,
            "ShipmentDeadLetterQueueUrl": shipments.queue.dead_letter_queue.queue_url,
            "ShipmentTemplateName": shipments.template.template_name,
            "PartnerWebhooksTopicArn": shipments.partner_topic.topic_arn,
            "PartnerWebhookUrl": partner_webhook_url or "-",
            "PartnerId": partner_id,
        }.items():
            CfnOutput(self, output_id, value=value)


def build_app(context: Mapping[str, str] | None = None, *, outdir: str | None = None) -> App:
    app = App(context=dict(context or {}), outdir=outdir)

    def ctx(key: str) -> str | None:
        value = app.node.try_get_context(key)
        return str(value) if value not in (None, "") else DEFAULTS.get(key)

    def ctx_list(key: str) -> list[str]:
        """A comma-separated key; given but empty (``-c on_call_emails=``) is no one."""
        value = app.node.try_get_context(key)
        text = DEFAULTS[key] if value is None else str(value)
        return [part.strip() for part in text.split(",") if part.strip()]

    def ctx_or_none(key: str) -> str | None:
        """A key whose empty value (``-c partner_webhook_url=``) means none, not the default."""
        value = app.node.try_get_context(key)
        return DEFAULTS[key] if value is None else (str(value).strip() or None)

    domain = ctx("domain") or DEFAULTS["domain"]
    account = ctx("account") or os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = ctx("region") or os.environ.get("CDK_DEFAULT_REGION")
    orders = OrderNotificationsStack(
        app,
        "OrderNotifications",
        domain=domain,
        sender_address=ctx("sender_address") or f"orders@{domain}",
        hosted_zone_id=ctx("hosted_zone_id"),
        hosted_zone_name=ctx("hosted_zone_name"),
        alert_email=ctx("alert_email"),
        incident_sender_address=ctx("incident_sender_address"),
        stakeholder_emails=ctx_list("stakeholder_emails"),
        on_call_phone_numbers=ctx_list("on_call_phone_numbers"),
        on_call_emails=ctx_list("on_call_emails"),
        partner_webhook_url=ctx_or_none("partner_webhook_url"),
        partner_id=ctx("partner_id") or DEFAULTS["partner_id"],
        order_send_rate=float(ctx("order_send_rate") or DEFAULTS["order_send_rate"]),
        env=Environment(account=account, region=region) if account and region else None,
        description=(
            "notification-constructs example: order confirmation, bounce/complaint handling, incident alerts, "
            "shipment updates"
        ),
    )
    # Event archive, delivery monitoring, SMTP credentials, subscriptions + campaigns, inbound replies.
    add_deliverability_stack(app, orders, ctx)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
