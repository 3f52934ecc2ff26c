"""The end-to-end scenario of the example pipelines, written once for the sandbox and for a real account.

It needs only AWS clients and the example stack's outputs (``OrderEventsTopicArn``, ``OrdersTableName``,
...). Everything it checks is observable the same way on AWS: rows in the tables, messages in the DLQs,
and the SES events and support alerts, which it watches through temporary observer queues it subscribes
to the SES-events and alert topics (removed at the end). On the sandbox it also reads the outbox (the
rendered e-mails) and waits for the sandbox to go idle instead of only polling.

Steps:

1. one order to each SES mailbox simulator address (labelled with the run id, so runs never collide),
   plus a malformed event;
2. once the SES events are handled: the first order published again (a redelivered duplicate), a
   different order reusing its id, and a new order to the bounced address (now suppressed).

Expected: every valid order stored once; one e-mail per order except the suppressed one; Send for each
e-mail, Delivery / Bounce / Complaint as the simulator answers; suppressions for the bounce, the
suppression-list bounce and the complaint, with their reasons; a support alert for the complaint; the
malformed event in both order DLQs with a reason, the reused id in both order DLQs with the reason
"order_id reused with different content" (neither stored nor mailed); nothing else in a DLQ.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._inspect import peek_messages, scan_table
from ._observer import TopicObserver, wait_for
from .events import order_placed, publish_order, simulator_address

__all__ = ["Check", "OrderPipelinesScenario", "ScenarioReport", "ScenarioTarget"]

REQUIRED_OUTPUTS = (
    "OrderEventsTopicArn",
    "OrdersTableName",
    "IdempotencyTableName",
    "SuppressionTableName",
    "WriterDeadLetterQueueUrl",
    "EmailDeadLetterQueueUrl",
    "SesEventsDeadLetterQueueUrl",
    "SesEventsTopicArn",
    "AlertTopicArn",
)


class ScenarioTarget(Protocol):
    """Where the scenario runs: a sandbox (:class:`~notification_constructs.testing.Sandbox`) or an account."""

    def client(self, service: str) -> Any: ...


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class ScenarioReport:
    run_id: str
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    emails: list[dict[str, Any]] = field(default_factory=list)
    ses_events: list[dict[str, Any]] = field(default_factory=list)
    suppressions: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def render(self) -> str:
        """A readable summary (what ``make demo`` prints)."""
        lines = [f"Scenario {self.run_id} - {'PASSED' if self.ok else 'FAILED'} in {self.seconds:.1f} s", ""]
        lines.append(f"Orders stored ({len(self.orders)}):")
        lines += [f"  {oid}  {_mask(o.get('customer_email', '?'))}" for oid, o in sorted(self.orders.items())]
        lines.append(f"E-mails sent ({len(self.emails)}):")
        for email in self.emails:
            to = ", ".join(_mask(a) for a in email.get("to", []))
            lines.append(f"  to {to}: {email.get('subject', '(subject unknown)')}")
        tally = Counter(e.get("eventType", "?") for e in self.ses_events)
        lines.append("SES events: " + (", ".join(f"{k} {v}" for k, v in sorted(tally.items())) or "none"))
        lines.append(f"Suppressions ({len(self.suppressions)}):")
        for item in self.suppressions:
            detail = item.get("detail", {})
            source = detail.get("source", "") if isinstance(detail, dict) else ""
            lines.append(f"  {_mask(item.get('address', '?'))}  {item.get('reason', '?')}  {source}".rstrip())
        lines.append(f"Support alerts ({len(self.alerts)}):")
        lines += [f"  {a.get('subject') or ''} {a.get('first_line', '')}".rstrip() for a in self.alerts]
        for queue, messages in sorted(self.dead_letters.items()):
            lines.append(f"DLQ {queue} ({len(messages)}):")
            lines += [f"  {m['reason']}" for m in messages]
        lines += render_checks(self.checks)
        return "\n".join(lines)


def render_checks(checks: list[Check]) -> list[str]:
    """The "Expectations" part of a scenario report: one ``[ok]`` / ``[FAIL]`` line per check."""
    return [
        "",
        "Expectations:",
        *(
            f"  [{'ok' if c.passed else 'FAIL'}] {c.name}" + (f" - {c.detail}" if c.detail else "")
            for c in checks
        ),
    ]


def _mask(address: str) -> str:
    """An address as the reports print it (``j***@example.com``): never a whole address."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _mask_number(number: str) -> str:
    """A phone number as the reports print it (``+1******0100``)."""
    return f"{number[:2]}{'*' * max(len(number) - 6, 0)}{number[-4:]}" if len(number) > 6 else "***"


class OrderPipelinesScenario:
    """Run with :meth:`run`; ``outputs`` are the example stack's outputs."""

    def __init__(
        self,
        target: ScenarioTarget,
        outputs: Mapping[str, str],
        *,
        run_id: str | None = None,
        timeout: float = 120.0,
        settle: float = 3.0,
        progress: Callable[[str], None] = lambda _: None,
    ) -> None:
        missing = [k for k in REQUIRED_OUTPUTS if not outputs.get(k)]
        if missing:
            raise ValueError(f"stack outputs missing: {', '.join(missing)} (deploy examples/app.py)")
        self.target = target
        self.outputs = dict(outputs)
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.timeout = timeout
        self.settle = settle
        self.progress = progress
        self.sns = target.client("sns")
        self.sqs = target.client("sqs")
        self.dynamodb = target.client("dynamodb")
        self._observers: dict[str, TopicObserver] = {}
        self._observed: dict[str, list[dict[str, Any]]] = {"ses": [], "alerts": []}

    # -- the run -----------------------------------------------------------------------------------------
    def run(self) -> ScenarioReport:
        started = time.monotonic()
        report = ScenarioReport(run_id=self.run_id)
        self._outbox_before = len(self._outbox("email"))
        try:
            self._observe("ses", self.outputs["SesEventsTopicArn"])
            self._observe("alerts", self.outputs["AlertTopicArn"])
            self._run(report)
        finally:
            self._remove_observers()
            report.seconds = time.monotonic() - started
        return report

    def _run(self, report: ScenarioReport) -> None:
        rid = self.run_id
        topic = self.outputs["OrderEventsTopicArn"]
        addresses = {
            outcome: simulator_address(outcome, rid)
            for outcome in ("success", "bounce", "complaint", "suppressionlist", "ooto")
        }
        orders = {
            outcome: order_placed(f"demo-{rid}-{outcome}", email=address, name=f"Demo {outcome}")
            for outcome, address in addresses.items()
        }

        self.progress(
            f"1/4 publishing {len(orders)} orders (one per SES mailbox simulator address) "
            "and a malformed event"
        )
        for order in orders.values():
            publish_order(self.sns, topic, order)
        malformed = order_placed(f"demo-{rid}-malformed", email=addresses["success"], total="999.99")
        publish_order(self.sns, topic, malformed)

        self.progress("2/4 waiting for the orders, the e-mails and the SES events to be handled")
        self._wait_for(
            "every order stored and bounce/complaint suppressions written",
            lambda: (
                len(self._orders()) >= len(orders)
                and len(self._suppressions(addresses)) >= 3
                and len(self._dead_letters("WriterDeadLetterQueueUrl")) >= 1
                and len(self._dead_letters("EmailDeadLetterQueueUrl")) >= 1
            ),
        )

        self.progress(
            "3/4 publishing a redelivered duplicate, a reused order id and an order to a suppressed address"
        )
        publish_order(self.sns, topic, orders["success"])
        reused = order_placed(
            orders["success"]["order_id"],
            email=addresses["success"],
            name="Someone Else",
            items=(("TEA-9", "Green tea", 3, "4.00"),),
        )
        publish_order(self.sns, topic, reused)
        suppressed_order = order_placed(f"demo-{rid}-after-bounce", email=addresses["bounce"])
        publish_order(self.sns, topic, suppressed_order)

        self.progress("4/4 waiting for the pipelines to settle")
        self._wait_for(
            "the second wave handled",
            lambda: (
                len(self._orders()) >= len(orders) + 1
                and len(self._dead_letters("WriterDeadLetterQueueUrl")) >= 2
                and len(self._dead_letters("EmailDeadLetterQueueUrl")) >= 2
                and self._idempotency_records() >= len(orders) + 1
            ),
        )
        self._settle()

        report.orders = self._orders()
        report.ses_events = self._drain("ses")
        report.alerts = [self._alert_summary(m) for m in self._drain("alerts")]
        report.suppressions = self._suppressions(addresses)
        report.emails = self._emails(report.ses_events)
        report.dead_letters = {
            name: self._dead_letters(key)
            for name, key in (
                ("writer", "WriterDeadLetterQueueUrl"),
                ("email", "EmailDeadLetterQueueUrl"),
                ("ses-events", "SesEventsDeadLetterQueueUrl"),
            )
        }
        report.checks = self._checks(report, orders, addresses, suppressed_order["order_id"])

    # -- expectations ------------------------------------------------------------------------------------
    def _checks(
        self,
        report: ScenarioReport,
        orders: Mapping[str, dict[str, Any]],
        addresses: Mapping[str, str],
        suppressed_order_id: str,
    ) -> list[Check]:
        checks: list[Check] = []

        def check(name: str, passed: bool, detail: str = "") -> None:
            checks.append(Check(name, passed, "" if passed else detail))

        expected_ids = {o["order_id"] for o in orders.values()} | {suppressed_order_id}
        check(
            "every valid order stored once",
            set(report.orders) == expected_ids,
            f"stored {sorted(report.orders)}, expected {sorted(expected_ids)}",
        )
        first = orders["success"]
        stored_first = report.orders.get(first["order_id"], {})
        check(
            "a reused order id does not overwrite the stored order",
            stored_first.get("customer_name") in (None, first["customer"]["name"]),
            f"stored name {stored_first.get('customer_name')!r}",
        )

        # Each e-mail to one recipient ends in exactly one Delivery or Bounce event (the configuration set
        # publishes no Send events by default); the sandbox's outbox shows the sends themselves.
        outcomes = [e for e in report.ses_events if e.get("eventType") in ("Delivery", "Bounce")]
        per_order = Counter(_tag(e, "order_id") for e in outcomes)
        mailed = {o["order_id"] for o in orders.values()}
        check(
            "one e-mail per order, none twice (duplicate and reused id not mailed again)",
            set(per_order) == mailed and all(n == 1 for n in per_order.values()),
            f"Delivery/Bounce events per order: {dict(per_order)}",
        )
        check(
            "no e-mail to the suppressed address",
            suppressed_order_id not in per_order,
            f"{suppressed_order_id} was mailed",
        )
        if self._has_outbox():
            sent = Counter(str(e.get("tags", {}).get("order_id")) for e in report.emails)
            check(
                "the outbox holds exactly those e-mails, rendered from the template",
                set(sent) == mailed
                and all(n == 1 for n in sent.values())
                and all(e.get("subject") and e.get("html") and e.get("text") for e in report.emails),
                f"outbox e-mails per order: {dict(sent)}",
            )

        by_type = Counter(e.get("eventType") for e in report.ses_events)
        check(
            "SES events: Delivery for success, complaint and ooto",
            by_type["Delivery"] == 3,
            f"{by_type['Delivery']} Delivery events",
        )
        check(
            "SES events: a Bounce each for bounce and suppressionlist",
            by_type["Bounce"] == 2,
            f"{by_type['Bounce']} Bounce events",
        )
        check(
            "SES events: one Complaint", by_type["Complaint"] == 1, f"{by_type['Complaint']} Complaint events"
        )

        reasons = {item["address"]: item.get("reason") for item in report.suppressions}
        expected_suppressions = {
            addresses["bounce"]: "BOUNCE",
            addresses["suppressionlist"]: "BOUNCE",
            addresses["complaint"]: "COMPLAINT",
        }
        check(
            "suppressions: the hard bounces and the complaint, with their reasons",
            reasons == expected_suppressions,
            f"got {reasons}",
        )
        check(
            "a support alert for the complaint",
            any("Complaint" in (a.get("subject") or "") + a.get("body", "") for a in report.alerts),
            f"{len(report.alerts)} alert(s)",
        )

        writer = report.dead_letters["writer"]
        email = report.dead_letters["email"]
        check(
            "the malformed event is in both order DLQs with a reason",
            any("total" in m["reason"] for m in writer) and any("total" in m["reason"] for m in email),
            f"writer DLQ {[m['reason'] for m in writer]}, email DLQ {[m['reason'] for m in email]}",
        )
        check(
            "the reused order id is in both order DLQs",
            all(
                any(m["reason"] == "order_id reused with different content" for m in dlq)
                for dlq in (writer, email)
            ),
            f"writer DLQ {[m['reason'] for m in writer]}, email DLQ {[m['reason'] for m in email]}",
        )
        check(
            "nothing else in a DLQ",
            len(writer) == 2 and len(email) == 2 and not report.dead_letters["ses-events"],
            f"writer {len(writer)}, email {len(email)}, ses-events {len(report.dead_letters['ses-events'])}",
        )
        return checks

    # -- observation -------------------------------------------------------------------------------------
    def _observe(self, name: str, topic_arn: str) -> None:
        self._observers[name] = TopicObserver(
            self.sqs, self.sns, queue_name=f"nc-scenario-{self.run_id}-{name}", topic_arn=topic_arn
        )

    def _drain(self, name: str) -> list[dict[str, Any]]:
        for envelope in self._observers[name].drain():
            try:
                payload = json.loads(envelope["Message"])
            except (ValueError, TypeError):
                payload = {"body": envelope.get("Message", "")}
            if isinstance(payload, dict):
                payload.setdefault("subject", envelope.get("Subject"))
                self._observed[name].append(payload)
        return self._observed[name]

    def _remove_observers(self) -> None:
        for observer in self._observers.values():
            observer.close()
        self._observers.clear()

    @staticmethod
    def _alert_summary(message: dict[str, Any]) -> dict[str, Any]:
        body = str(message.get("body", ""))
        return {
            "subject": message.get("subject"),
            "body": body,
            "first_line": body.splitlines()[0] if body else "",
        }

    def _orders(self) -> dict[str, dict[str, Any]]:
        prefix = f"demo-{self.run_id}-"
        items = self._scan(self.outputs["OrdersTableName"])
        orders = {}
        for item in items:
            order_id = item.get("order_id")
            if isinstance(order_id, str) and order_id.startswith(prefix):
                orders[order_id] = item
        return orders

    def _idempotency_records(self) -> int:
        return len(self._scan(self.outputs["IdempotencyTableName"]))

    def _suppressions(self, addresses: Mapping[str, str]) -> list[dict[str, Any]]:
        wanted = {a.lower() for a in addresses.values()}
        return [i for i in self._scan(self.outputs["SuppressionTableName"]) if i.get("address") in wanted]

    def _scan(self, table: str) -> list[dict[str, Any]]:
        return scan_table(self.dynamodb, table)

    def _dead_letters(self, output: str) -> list[dict[str, str]]:
        """The DLQ's messages of this run (left in the queue)."""
        return [
            {
                "reason": m["reason"] or "(no reason: moved by the redrive policy)",
                "message_id": m["MessageId"],
            }
            for m in peek_messages(self.sqs, self.outputs[output])
            if self.run_id in m["Body"]
        ]

    def _emails(self, ses_events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self._has_outbox():
            mine = [e for e in self._outbox("email") if self.run_id in json.dumps(e.get("to", []))]
            return mine
        return [
            {
                "to": e.get("mail", {}).get("destination", []),
                "subject": e.get("mail", {}).get("commonHeaders", {}).get("subject"),
            }
            for e in ses_events
            if e.get("eventType") == "Send"
        ]

    # -- sandbox extras (optional on the target) --------------------------------------------------------
    def _has_outbox(self) -> bool:
        return callable(getattr(self.target, "outbox", None))

    def _outbox(self, kind: str) -> list[dict[str, Any]]:
        outbox = getattr(self.target, "outbox", None)
        return list(outbox(kind)) if callable(outbox) else []

    def _settle(self) -> None:
        wait_idle = getattr(self.target, "wait_until_idle", None)
        if callable(wait_idle):
            wait_idle(timeout=self.timeout)
        else:
            time.sleep(self.settle)

    def _wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        wait_for(what, condition, timeout=self.timeout, progress=self.progress)


def _tag(event: dict[str, Any], name: str) -> str | None:
    values = event.get("mail", {}).get("tags", {}).get(name)
    return values[0] if isinstance(values, list) and values else None
