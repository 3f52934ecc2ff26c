"""The example pipelines on the local sandbox: AWS requests per order, and a burst drained under the SES
send-rate quota.

One sandbox (``notification_constructs.testing``), one ``cdk deploy OrderNotifications`` (the real CDK
CLI, ``cdk.json``), then:

1. *requests per order*: ``--orders`` (default 50) orders to the SES mailbox simulator's success address
   published to the order-events topic; once the sandbox is idle (the orders stored and mailed, their SES
   Send and Delivery events through the bounce pipeline) the sandbox's request log
   (``/_sandbox/requests``: every AWS request, by service, operation and the function that made it) is
   read. The figure is the functions' requests per order, by service and operation, against the minimum
   of 5: one orders-table write, one idempotency write and its completion, one suppression read, one
   SES send.
2. *burst drain*: the SES maximum send rate set to ``--rate`` e-mails per second (the sandbox throttles
   above it with ``TooManyRequestsException``, as SES does), ``--burst`` orders (default 1,000) published
   at once; the figure is the time from the first publish to the last confirmation
   sent, against the limit ``N / R``; the throttled ``SendEmail`` requests; and lost or duplicated
   e-mails (each order has a recipient of its own, so every e-mail names its order).

    .venv/bin/python bench/pipelines.py [--orders 50] [--burst 1000] [--rate 14] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from lambda_handlers.contracts import ORDER_PLACED_EVENT_TYPE  # noqa: E402
from notification_constructs.testing import Sandbox  # noqa: E402
from notification_constructs.testing.events import order_placed, simulator_address  # noqa: E402

STACK = "OrderNotifications"
CONTEXT = {"alert_email": "oncall@example.com"}
MINIMUM = {
    "dynamodb:PutItem (orders table)": 1.0,
    "dynamodb:PutItem (idempotency record)": 1.0,
    "dynamodb:UpdateItem (idempotency completed)": 1.0,
    "dynamodb:GetItem (suppression)": 1.0,
    "sesv2:SendEmail": 1.0,
}
GOAL_REQUESTS_PER_ORDER = 2.5
"""The issue's goal at batch size 10."""


def _publish(sandbox: Sandbox, topic_arn: str, recipients: list[str], label: str) -> float:
    """Publish one order per recipient as a producer does (message attribute ``event_type``), 10 per SNS
    ``PublishBatch`` and 4 batches at a time; returns when the first was published (epoch s)."""
    sns = sandbox.client("sns")
    attributes = {"event_type": {"DataType": "String", "StringValue": ORDER_PLACED_EVENT_TYPE}}
    entries = [
        {
            "Id": str(index),
            "Message": json.dumps(order_placed(f"{label}-{index:05d}", email=address)),
            "MessageAttributes": attributes,
        }
        for index, address in enumerate(recipients)
    ]
    started = time.time()

    def batch(start: int) -> None:
        response = sns.publish_batch(
            TopicArn=topic_arn, PublishBatchRequestEntries=entries[start : start + 10]
        )
        if response.get("Failed"):
            raise RuntimeError(f"publish failed: {response['Failed']}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(batch, range(0, len(entries), 10)))
    return started


def _function_requests(sandbox: Sandbox) -> Counter[tuple[str, str, str]]:
    """The requests the deployed functions made (the caller ``-`` is this script and the sandbox)."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for row in sandbox.request_counts():
        if row["caller"] != "-":
            counts[(row["caller"], row["service"], row["operation"])] += int(row["count"])
    return counts


def _role(function_name: str) -> str:
    for marker, role in (("Writer", "order_writer"), ("Sender", "order_email_sender")):
        if marker in function_name:
            return role
    return "bounce_processor" if "Bounce" in function_name or "SesEvent" in function_name else function_name


def requests_per_order(sandbox: Sandbox, topic_arn: str, orders: int, timeout: float) -> dict[str, Any]:
    label = uuid.uuid4().hex[:8]
    recipients = [simulator_address("success", f"r{label}{i}") for i in range(orders)]
    sandbox.control("DELETE", "requests")
    _publish(sandbox, topic_arn, recipients, f"req-{label}")
    sandbox.wait_until_idle(timeout=timeout, quiet_period=1.0)
    counts = _function_requests(sandbox)
    by_operation: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    for (caller, service, operation), count in counts.items():
        by_operation[f"{service}:{operation} [{_role(caller)}]"] += count
        by_function[_role(caller)] += count
    total = sum(counts.values())
    mailed = {a.lower() for e in sandbox.emails() for a in e.get("to", [])} & {r.lower() for r in recipients}
    return {
        "orders": orders,
        "mailed": len(mailed),
        "requests": total,
        "per_order": total / orders,
        "minimum": sum(MINIMUM.values()),
        "ratio": total / orders / sum(MINIMUM.values()),
        "goal": GOAL_REQUESTS_PER_ORDER,
        "by_operation": {key: count / orders for key, count in sorted(by_operation.items())},
        "by_function": {key: count / orders for key, count in sorted(by_function.items())},
    }


def burst(sandbox: Sandbox, topic_arn: str, orders: int, rate: float, timeout: float) -> dict[str, Any]:
    label = uuid.uuid4().hex[:8]
    recipients = [simulator_address("success", f"b{label}{i}") for i in range(orders)]
    wanted = {r.lower() for r in recipients}
    sandbox.set_ses_max_send_rate(rate)
    sandbox.control("DELETE", "requests")
    try:
        started = _publish(sandbox, topic_arn, recipients, f"burst-{label}")
        published = time.time()
        deadline = time.monotonic() + timeout
        emails: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            emails = [e for e in sandbox.emails() if {a.lower() for a in e.get("to", [])} & wanted]
            if len({a.lower() for e in emails for a in e["to"]} & wanted) >= orders:
                break
            time.sleep(0.5)
        sandbox.wait_until_idle(timeout=max(30.0, deadline - time.monotonic()), quiet_period=1.0)
        emails = [e for e in sandbox.emails() if {a.lower() for a in e.get("to", [])} & wanted]
    finally:
        sandbox.set_ses_max_send_rate(None)
    per_recipient = Counter(a.lower() for e in emails for a in e["to"] if a.lower() in wanted)
    sends = sum(
        count
        for (caller, service, operation), count in _function_requests(sandbox).items()
        if (service, operation) == ("sesv2", "SendEmail") and _role(caller) == "order_email_sender"
    )
    sent_at = sorted(e["at"] for e in emails)
    drain = (sent_at[-1] if sent_at else time.time()) - started
    limit = orders / rate
    return {
        "orders": orders,
        "rate": rate,
        "publish_s": published - started,
        "first_email_s": sent_at[0] - started if sent_at else None,
        "drain_s": drain,
        "limit_s": limit,
        "ratio": drain / limit,
        "send_requests": sends,
        "throttled": sends - len(emails),
        "lost": orders - len(per_recipient),
        "duplicated": sum(count - 1 for count in per_recipient.values()),
    }


def run(orders: int, burst_orders: int, rate: float, timeout: float, log_dir: Path) -> dict[str, Any]:
    log_dir.mkdir(parents=True, exist_ok=True)
    with Sandbox(log_file=log_dir / "sandbox.log") as sandbox:
        started = time.monotonic()
        sandbox.deploy(stacks=STACK, context=CONTEXT)
        topic_arn = sandbox.stack_outputs(STACK)["OrderEventsTopicArn"]
        print(f"sandbox: deployed {STACK} in {time.monotonic() - started:.0f} s", flush=True)
        requests = requests_per_order(sandbox, topic_arn, orders, timeout)
        print(
            f"\nAWS requests per order ({requests['orders']} orders, {requests['mailed']} mailed): "
            f"{requests['per_order']:.2f} against the minimum {requests['minimum']:.0f} "
            f"(ratio {requests['ratio']:.2f}; goal <= {GOAL_REQUESTS_PER_ORDER})"
        )
        for key, per_order in requests["by_operation"].items():
            print(f"  {per_order:6.2f}  {key}")
        drained = burst(sandbox, topic_arn, burst_orders, rate, timeout)
        print(
            f"\nBurst of {drained['orders']} orders at {drained['rate']:g} e-mails/s: last confirmation after "
            f"{drained['drain_s']:.1f} s against the limit N/R = {drained['limit_s']:.1f} s "
            f"(ratio {drained['ratio']:.2f}); {drained['send_requests']} SendEmail requests, "
            f"{drained['throttled']} throttled; {drained['lost']} lost, {drained['duplicated']} duplicated"
        )
    return {"requests_per_order": requests, "burst": drained}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=50, help="orders for the request count (default 50)")
    parser.add_argument("--burst", type=int, default=1000, help="orders in the burst (default 1000)")
    parser.add_argument("--full", action="store_true", help="a burst of 1,000 orders (the default)")
    parser.add_argument("--rate", type=float, default=14.0, help="SES max send rate, e-mails/s (default 14)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for each phase")
    parser.add_argument("--log-dir", type=Path, default=ROOT / "build" / "bench", help="sandbox logs")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    figures = run(args.orders, 1000 if args.full else args.burst, args.rate, args.timeout, args.log_dir)
    if args.json:
        args.json.write_text(json.dumps({"pipelines": figures}, indent=2))


if __name__ == "__main__":
    main()
