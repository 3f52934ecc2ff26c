"""``make demo``: the example pipelines deployed and exercised on the local sandbox, no AWS account needed.

1. starts the sandbox (moto's server plus the Lambda runner, SQS pollers, SNS delivery and SES event
   publishing of ``notification_constructs.testing``) on loopback;
2. ``cdk bootstrap`` and ``cdk deploy OrderNotifications`` with the real CDK CLI (``cdk.json``);
3. runs the end-to-end scenario (``notification_constructs.testing.scenario``): orders to each SES mailbox
   simulator address, a malformed event, a redelivered duplicate, a reused order id and an order to a
   suppressed address;
4. runs the incident scenario (``notification_constructs.testing.incident_scenario``): the order e-mail
   DLQ alarm to ALARM (CloudWatch ``SetAlarmState``), on-call paged by SMS and e-mail, a repeat that pages
   nobody, an acknowledgement, a malformed incident event, the alarm OK and the stakeholder report;
5. runs the shipment scenario (``notification_constructs.testing.shipment_scenario``): updates by SMS,
   e-mail and partner webhook per each customer's channels - the webhook is served here on loopback from
   before the deploy, so it gets and confirms the SubscriptionConfirmation - a duplicate, an update out of
   order, an address that bounced (suppressed), a customer with e-mail only and a malformed event;
6. prints what happened and whether every expectation held; exits 0 only if all did; stops the sandbox.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from notification_constructs.testing import (
    DeliverabilityScenario,
    IncidentAlertsScenario,
    OrderPipelinesScenario,
    PartnerWebhookReceiver,
    Sandbox,
    SandboxError,
    ShipmentUpdatesScenario,
)
from notification_constructs.testing.shipment_scenario import PartnerWebhookError

ROOT = Path(__file__).resolve().parents[1]
STACK = "OrderNotifications"
#: The partner webhook is this process's loopback HTTPS receiver (the example's default URL, given here so
#: what is deployed is what is served).
CONTEXT = {
    "alert_email": "oncall@example.com",
    "partner_webhook_url": "https://127.0.0.1:48443/partner/shipments",
    # The sandbox is its own account: activating the reply rule set there switches nobody's mail.
    "activate_receipt_rule_set": "true",
}
DELIVERABILITY_STACK = "Deliverability"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--log-dir", default=str(ROOT / "build" / "demo"), help="sandbox and CLI logs")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each phase")
    args = parser.parse_args(argv)
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)

    def step(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    try:
        with (
            Sandbox(log_file=log_dir / "sandbox.log") as sandbox,
            PartnerWebhookReceiver(CONTEXT["partner_webhook_url"]) as receiver,
        ):
            step(f"sandbox running at {sandbox.endpoint_url} (log: {log_dir / 'sandbox.log'})")
            step(f"partner webhook listening at {receiver.url} (its certificate trusted by the sandbox)")
            sandbox.trust_certificate(receiver.certificate_pem)
            started = time.monotonic()
            step("cdk bootstrap")
            sandbox.bootstrap()
            step(f"cdk deploy {STACK} {DELIVERABILITY_STACK} (the real CDK CLI, app from cdk.json)")
            sandbox.deploy(stacks=[STACK, DELIVERABILITY_STACK], context=CONTEXT)
            outputs = sandbox.stack_outputs(STACK)
            step(f"deployed in {time.monotonic() - started:.1f} s; running the scenario")
            scenario = OrderPipelinesScenario(
                sandbox, outputs, timeout=args.timeout, progress=lambda m: step("  " + m)
            )
            report = scenario.run()
            step("running the incident scenario")
            incidents = IncidentAlertsScenario(
                sandbox, outputs, timeout=args.timeout, progress=lambda m: step("  " + m)
            ).run()
            step("running the shipment scenario")
            shipments = ShipmentUpdatesScenario(
                sandbox,
                outputs,
                receiver=receiver,
                timeout=args.timeout,
                progress=lambda m: step("  " + m),
            ).run()
            step("running the deliverability scenario")
            deliverability = DeliverabilityScenario(
                sandbox,
                {**outputs, **sandbox.stack_outputs(DELIVERABILITY_STACK)},
                timeout=args.timeout,
                progress=lambda m: step("  " + m),
            ).run()
            alerts = sandbox.outbox("sns-email")
    except (SandboxError, PartnerWebhookError) as exc:
        print(f"\nThe demo could not run: {exc}", file=sys.stderr)
        return 2
    print()
    print(report.render())
    print()
    print(incidents.render())
    print()
    print(shipments.render())
    print()
    print(deliverability.render())
    print(
        "\nSNS e-mail deliveries in the outbox (support alerts, on-call pages, subscription confirmations): "
        f"{len(alerts)}"
    )
    passed = report.ok and incidents.ok and shipments.ok and deliverability.ok
    print(
        "\nDemo " + ("PASSED: every expectation held." if passed else "FAILED: see the expectations above.")
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
