"""Example CDK app: a sender identity, a configuration set and both pipelines, checked by cdk-nag.

Configure with CDK context (all optional)::

    npx cdk synth -c domain=shop.example.com -c hosted_zone_id=Z123 -c hosted_zone_name=example.com \\
        -c sender_address="Shop <orders@shop.example.com>" -c alert_email=oncall@example.com

Without ``hosted_zone_id`` the DNS records to publish are stack outputs. ``account``/``region`` pin the
environment (default: the CLI's current credentials, or env-agnostic).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from aws_cdk import App, CfnOutput, Environment, Stack, Validations
from aws_cdk import aws_route53 as route53
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import Construct

from notification_constructs import (
    BounceHandlingPipeline,
    EmailConfigurationSet,
    OrderConfirmationPipeline,
    PipelinesDashboard,
    SenderIdentity,
)

DEFAULTS: dict[str, str] = {"domain": "example.com"}


class OrderNotificationsStack(Stack):
    """Identity + configuration set + bounce handling + order confirmation + dashboard."""

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
        )
        PipelinesDashboard(self, "Dashboard", order_pipeline=orders, bounce_pipeline=bounces)
        self.orders = orders
        self.bounces = bounces
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
        }.items():
            CfnOutput(self, output_id, value=value)


def build_app(context: Mapping[str, str] | None = None, *, outdir: str | None = None) -> App:
    app = App(context=dict(context or {}), outdir=outdir)

    def ctx(key: str) -> str | None:
        value = app.node.try_get_context(key)
        return str(value) if value not in (None, "") else DEFAULTS.get(key)

    domain = ctx("domain") or DEFAULTS["domain"]
    account = ctx("account") or os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = ctx("region") or os.environ.get("CDK_DEFAULT_REGION")
    OrderNotificationsStack(
        app,
        "OrderNotifications",
        domain=domain,
        sender_address=ctx("sender_address") or f"orders@{domain}",
        hosted_zone_id=ctx("hosted_zone_id"),
        hosted_zone_name=ctx("hosted_zone_name"),
        alert_email=ctx("alert_email"),
        env=Environment(account=account, region=region) if account and region else None,
        description="notification-constructs example: order confirmation and bounce/complaint handling",
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
