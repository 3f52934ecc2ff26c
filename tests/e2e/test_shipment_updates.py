"""The example's shipment updates on the sandbox: the shipment scenario (SMS, e-mail and a partner webhook
per each customer's channels, once, in order, never to a suppressed address) and the partner webhook's
HTTPS (the sandbox delivers only to endpoints whose certificate it trusts, as SNS does)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from examples.app import DEFAULTS
from notification_constructs.testing import (
    PartnerWebhookReceiver,
    Sandbox,
    ShipmentUpdatesScenario,
    shipment_updated,
)
from notification_constructs.testing.shipment_scenario import REQUIRED_SHIPMENT_OUTPUTS

STACK = "OrderNotifications"
CONTEXT = {"alert_email": "oncall@example.com"}  # as tests/e2e/test_example_app.py deploys it


@pytest.fixture(scope="module")
def receiver(sandbox: Sandbox) -> Iterator[PartnerWebhookReceiver]:
    """The partner's endpoint at the example's default webhook URL, its certificate trusted by the sandbox;
    listening before a deploy, so a new subscription's SubscriptionConfirmation reaches it."""
    with PartnerWebhookReceiver(DEFAULTS["partner_webhook_url"]) as receiver:
        sandbox.trust_certificate(receiver.certificate_pem)
        yield receiver


@pytest.fixture(scope="module")
def outputs(sandbox: Sandbox, receiver: PartnerWebhookReceiver) -> dict[str, str]:
    # GIVEN the example stack in this session's sandbox: the deployment already there when one is (with the
    # shipment outputs), else deployed now with the CDK CLI from cdk.json
    outputs = _deployed_outputs(sandbox)
    if outputs is None:
        sandbox.deploy(stacks=STACK, context=CONTEXT)
        outputs = sandbox.stack_outputs(STACK)
    return outputs


def _deployed_outputs(sandbox: Sandbox) -> dict[str, str] | None:
    cfn = sandbox.client("cloudformation")
    live = {s["StackName"]: s["StackStatus"] for s in cfn.describe_stacks()["Stacks"]}
    if live.get(STACK) not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        return None
    outputs = sandbox.stack_outputs(STACK)
    return outputs if all(outputs.get(k) for k in REQUIRED_SHIPMENT_OUTPUTS) else None


def test_the_shipment_scenario_holds_end_to_end(
    sandbox: Sandbox, outputs: dict[str, str], receiver: PartnerWebhookReceiver
) -> None:
    # WHEN the scenario runs: shipped by SMS + e-mail + webhook, e-mail only, delivered then a late shipped,
    # a duplicate, a bouncing address suppressed before its next update, another partner's update, a
    # malformed event
    report = ShipmentUpdatesScenario(sandbox, outputs, receiver=receiver, timeout=90).run()
    # THEN every expectation held
    assert report.ok, report.render()
    # and the e-mails came from the order confirmations' sender address
    assert {e["from_address"] for e in report.emails} == {outputs["SenderAddress"]}
    # and each SMS of the run carries its order's tracking link
    assert report.sms and all(
        f"https://tracking.example.com/t/{sms['message'].split()[2]}" in sms["message"] for sms in report.sms
    )


def test_the_partner_endpoint_gets_nothing_until_the_sandbox_trusts_its_certificate(
    sandbox: Sandbox, outputs: dict[str, str]
) -> None:
    # GIVEN a second partner endpoint with its own self-signed certificate, subscribed to the partner topic
    sns = sandbox.client("sns")
    with PartnerWebhookReceiver("https://127.0.0.1:48444/other-partner") as other:
        subscription = sns.subscribe(
            TopicArn=outputs["PartnerWebhooksTopicArn"],
            Protocol="https",
            Endpoint=other.url,
            Attributes={"FilterPolicy": json.dumps({"partner": ["e2e-tls"]})},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        try:
            # WHEN an update for it is published before and after the sandbox trusts the certificate
            _publish_partner_update(sns, outputs, "shp-e2e-tls-untrusted")
            sandbox.wait_until_idle(timeout=30)
            untrusted = [r for r in other.requests() if "shp-e2e-tls" in r.body]
            sandbox.trust_certificate(other.certificate_pem)
            _publish_partner_update(sns, outputs, "shp-e2e-tls-trusted")
            sandbox.wait_until_idle(timeout=30)
            deadline = time.monotonic() + 10
            while not other.requests("Notification") and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            sns.unsubscribe(SubscriptionArn=subscription)
    # THEN the untrusted endpoint got nothing (the outbox records the TLS failure), the trusted one the update
    assert untrusted == []
    failed = [
        h
        for h in sandbox.outbox("http")
        if h["url"] == other.url and h["message_type"] == "Notification" and h["status"] is None
    ]
    assert failed and "shp-e2e-tls-untrusted" in failed[0]["body"]
    [received] = other.requests("Notification")
    assert json.loads(received.json()["Message"])["order_id"] == "shp-e2e-tls-trusted"


def _publish_partner_update(sns: Any, outputs: dict[str, str], order_id: str) -> None:
    # Straight to the partner topic, as the notifier publishes (the shipment facts, attribute partner).
    event = shipment_updated(order_id, "shipped", channels=("webhook",), partner="e2e-tls")
    facts = {k: v for k, v in event.items() if k not in ("customer", "channels")}
    sns.publish(
        TopicArn=outputs["PartnerWebhooksTopicArn"],
        Message=json.dumps(facts),
        MessageAttributes={
            "event_type": {"DataType": "String", "StringValue": "shipment.updated"},
            "status": {"DataType": "String", "StringValue": "shipped"},
            "partner": {"DataType": "String", "StringValue": "e2e-tls"},
        },
    )
