"""The incident scenario of the example stack: an alarm going to ALARM, on-call paged by SMS and e-mail,
an acknowledgement, the alarm going OK, the incident report in the stakeholders' inbox.

It needs AWS clients and the example stack's outputs (``CriticalAlarmName``, ``IncidentsTopicArn``,
``IncidentsTableName``, ...). It drives the alarm with CloudWatch ``SetAlarmState`` and watches what
CloudWatch publishes to the incidents topic and what the tracker pages through temporary observer queues
subscribed to the incidents and on-call topics (removed at the end); the incident itself is read from the
incidents table. On the sandbox it also reads the outbox: the SMS, the on-call e-mails and the SES report.
It is written for the sandbox, where alarms change state only when told to: on an account the alarm's own
evaluation may set it back between the steps.

Steps:

1. the alarm to ``OK`` (a reset: it may be in any state), then to ``ALARM`` - twice: CloudWatch notifies
   on state changes only, so the second changes nothing;
2. once the incident is open and paged: ``INSUFFICIENT_DATA`` (no action) and ``ALARM`` again, a repeat
   while the incident is open;
3. an application acknowledges the incident (``incident.event``, the id from the page), adds a note, and
   publishes a malformed event (an acknowledge without ``actor``);
4. the alarm to ``OK``.

Expected: three CloudWatch notifications (ALARM, ALARM, OK) in the documented JSON; one incident, critical,
opened by the alarm, paged once (the repeat is on its timeline, nobody is paged again): one SMS per
on-call number and one e-mail per on-call address; acknowledged by the actor, resolved by CloudWatch; one
incident report to the stakeholders with the timeline, the duration, who acknowledged and the note; the
malformed event in the incident DLQ with the reason ``actor: is required``; nothing else of the run there.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ._inspect import peek_messages, scan_table
from ._observer import TopicObserver, wait_for
from .scenario import Check, ScenarioTarget, _mask, _mask_number, render_checks

__all__ = ["REQUIRED_INCIDENT_OUTPUTS", "IncidentAlertsScenario", "IncidentScenarioReport", "incident_event"]

REQUIRED_INCIDENT_OUTPUTS = (
    "CriticalAlarmName",
    "IncidentsTopicArn",
    "IncidentsTableName",
    "IncidentDeadLetterQueueUrl",
    "OnCallTopicArn",
    "StakeholderEmails",
)
#: The documented fields of a CloudWatch alarm notification the scenario checks for.
NOTIFICATION_FIELDS = (
    "AlarmName",
    "AlarmDescription",
    "AWSAccountId",
    "NewStateValue",
    "NewStateReason",
    "StateChangeTime",
    "Region",
    "AlarmArn",
    "OldStateValue",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "Trigger",
)


def incident_event(incident_id: str, action: str, **fields: Any) -> dict[str, Any]:
    """An ``incident.event`` v1 (README "Incident alerts"); ``at`` defaults to now. A field given as
    ``None`` is left out (to build invalid events)."""
    event: dict[str, Any] = {
        "schema_version": "1.0",
        "event_type": "incident.event",
        "incident_id": incident_id,
        "action": action,
        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        **fields,
    }
    return {key: value for key, value in event.items() if value is not None}


@dataclass
class IncidentScenarioReport:
    run_id: str
    alarm_name: str = ""
    incident: dict[str, Any] = field(default_factory=dict)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    pages: list[dict[str, Any]] = field(default_factory=list)
    sms: list[dict[str, Any]] = field(default_factory=list)
    page_emails: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, str]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def render(self) -> str:
        """A readable summary (what ``make demo`` prints)."""
        incident = self.incident
        lines = [
            f"Incident scenario {self.run_id} - {'PASSED' if self.ok else 'FAILED'} in {self.seconds:.1f} s",
            "",
            f"Alarm {self.alarm_name}: CloudWatch notified "
            + (", ".join(_transition(n) for n in self.notifications) or "nothing"),
        ]
        if incident:
            lines.append(
                f"Incident {incident.get('incident_id')}: {incident.get('status')}, "
                f"severity {incident.get('severity')}, repeats {incident.get('repeats')}"
            )
            for entry in incident.get("timeline", []):
                actor = f" by {entry['actor']}" if entry.get("actor") else ""
                text = f": {entry['text']}" if entry.get("text") else ""
                lines.append(f"  {entry.get('at')} {entry.get('kind')}{actor}{text}")
        else:
            lines.append("Incident: none found")
        lines.append(f"Pages published to on-call ({len(self.pages)}):")
        lines += [f"  [{p.get('severity')}] {p.get('subject')}" for p in self.pages]
        lines.append(f"SMS sent ({len(self.sms)}):")
        lines += [f"  to {_mask_number(s.get('phone_number', ''))}: {_first_line(s)}" for s in self.sms]
        lines.append(f"On-call e-mails ({len(self.page_emails)}):")
        lines += [f"  to {_mask(e.get('to', ''))}: {e.get('subject')}" for e in self.page_emails]
        lines.append(f"Incident reports mailed ({len(self.reports)}):")
        for report in self.reports:
            to = ", ".join(_mask(a) for a in report.get("to", []))
            lines.append(f"  to {to}: {report.get('subject')}")
            lines += [
                f"    {line}"
                for line in str(report.get("text", "")).splitlines()
                if line.startswith(("Duration:", "Acknowledged", "Resolved"))
            ]
        lines.append(f"DLQ incidents ({len(self.dead_letters)}):")
        lines += [f"  {m['reason']}" for m in self.dead_letters]
        lines += render_checks(self.checks)
        return "\n".join(lines)


def _transition(notification: Mapping[str, Any]) -> str:
    return f"{notification.get('OldStateValue')} -> {notification.get('NewStateValue')}"


def _first_line(entry: Mapping[str, Any]) -> str:
    text = str(entry.get("message", ""))
    return text.splitlines()[0] if text else ""


def _addresses(value: str | None) -> list[str]:
    """A comma-separated output (``-`` for none)."""
    return [a.strip() for a in (value or "").split(",") if a.strip() and a.strip() != "-"]


class IncidentAlertsScenario:
    """Run with :meth:`run`; ``outputs`` are the example stack's outputs."""

    def __init__(
        self,
        target: ScenarioTarget,
        outputs: Mapping[str, str],
        *,
        run_id: str | None = None,
        actor: str = "alice",
        timeout: float = 120.0,
        settle: float = 2.0,
        progress: Callable[[str], None] = lambda _: None,
    ) -> None:
        missing = [k for k in REQUIRED_INCIDENT_OUTPUTS if not outputs.get(k)]
        if missing:
            raise ValueError(f"stack outputs missing: {', '.join(missing)} (deploy examples/app.py)")
        self.target = target
        self.outputs = dict(outputs)
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.actor = actor
        self.timeout = timeout
        self.settle = settle
        self.progress = progress
        self.alarm_name = self.outputs["CriticalAlarmName"]
        self.stakeholders = _addresses(self.outputs["StakeholderEmails"])
        self.phone_numbers = _addresses(self.outputs.get("OnCallPhoneNumbers"))
        self.on_call_emails = _addresses(self.outputs.get("OnCallEmails"))
        self.sns = target.client("sns")
        self.sqs = target.client("sqs")
        self.dynamodb = target.client("dynamodb")
        self.cloudwatch = target.client("cloudwatch")
        self._observers: dict[str, TopicObserver] = {}
        self._observed: dict[str, list[dict[str, Any]]] = {"incidents": [], "on-call": []}
        self._outbox_after = 0

    # -- the run -----------------------------------------------------------------------------------------
    def run(self) -> IncidentScenarioReport:
        started = time.monotonic()
        report = IncidentScenarioReport(run_id=self.run_id, alarm_name=self.alarm_name)
        self._outbox_after = max((e.get("seq", 0) for e in self._outbox(None)), default=0)
        try:
            self._observe("incidents", self.outputs["IncidentsTopicArn"])
            self._observe("on-call", self.outputs["OnCallTopicArn"])
            self._run(report)
        finally:
            self._remove_observers()
            report.seconds = time.monotonic() - started
        return report

    def _run(self, report: IncidentScenarioReport) -> None:
        rid = self.run_id
        self.progress(f"1/4 alarm {self.alarm_name} to OK (reset), then to ALARM twice (SetAlarmState)")
        (previous,) = self.cloudwatch.describe_alarms(AlarmNames=[self.alarm_name])["MetricAlarms"]
        self._set_state("OK", f"Scenario {rid}: reset before the run")
        # A state change notifies: the reset's notification must be handled before the ALARM (SNS keeps no
        # order between them). An alarm already in OK sends nothing.
        if previous["StateValue"] != "OK":
            self._wait_for(
                "the reset notification",
                lambda: any(
                    n.get("NewStateValue") == "OK" and rid in str(n.get("NewStateReason"))
                    for n in self._drain("incidents")
                ),
            )
        wait_idle = getattr(self.target, "wait_until_idle", None)
        if callable(wait_idle):
            wait_idle(timeout=self.timeout)
        self._wait_for("no open incident of the alarm", lambda: not self._open_incidents_of_alarm())
        self._set_state("ALARM", f"Scenario {rid}: threshold crossed")
        self._set_state("ALARM", f"Scenario {rid}: still breaching (no state change)")
        self._wait_for(
            "the incident opened and paged",
            lambda: (
                (incident := self._incident()) is not None
                and not incident.get("page_pending")
                and bool(self._pages_seen())
            ),
        )
        incident_id = self._incident_id()

        self.progress("2/4 INSUFFICIENT_DATA, then ALARM again while the incident is open (a repeat)")
        self._set_state("INSUFFICIENT_DATA", f"Scenario {rid}: no datapoints")
        self._set_state("ALARM", f"Scenario {rid}: breaching again")
        self._wait_for("the repeat recorded", lambda: int((self._incident() or {}).get("repeats", 0)) >= 1)

        self.progress(f"3/4 {self.actor} acknowledges {incident_id}, adds a note; a malformed event")
        note = f"Scenario {rid}: redrove the order e-mail DLQ after the template fix"
        for event in (
            incident_event(incident_id, "acknowledge", actor=self.actor, event_id=f"scn-{rid}-ack"),
            incident_event(incident_id, "note", actor=self.actor, note=note, event_id=f"scn-{rid}-note"),
            incident_event(incident_id, "acknowledge", note=f"Scenario {rid}: who acknowledges?"),
        ):
            self.sns.publish(TopicArn=self.outputs["IncidentsTopicArn"], Message=json.dumps(event))
        self._wait_for(
            "the acknowledgement, the note and the malformed event handled",
            lambda: (
                (incident := self._incident()) is not None
                and incident.get("status") == "acknowledged"
                and any(e.get("text") == note for e in incident.get("timeline", []))
                and bool(self._dead_letters())
            ),
        )

        self.progress(f"4/4 alarm {self.alarm_name} to OK: resolved, the report to the stakeholders")
        self._set_state("OK", f"Scenario {rid}: back below the threshold")
        self._wait_for(
            "the incident resolved and its report sent",
            lambda: (
                (incident := self._incident()) is not None
                and incident.get("status") == "resolved"
                and not incident.get("report_pending")
                and (not self._has_outbox() or bool(self._reports(incident_id)))
            ),
        )
        time.sleep(self.settle)  # a second page or report would show up now

        report.incident = self._incident() or {}
        report.notifications = [
            n
            for n in self._drain("incidents")
            if rid in str(n.get("NewStateReason")) and "reset" not in str(n.get("NewStateReason"))
        ]
        report.pages = [p for p in self._drain("on-call") if incident_id and incident_id in p["body"]]
        if self._has_outbox():
            report.sms = [
                e for e in self._outbox("sms") if incident_id and incident_id in str(e.get("message"))
            ]
            report.page_emails = [
                e
                for e in self._outbox("sns-email")
                if e.get("message_type") == "Notification"
                and incident_id
                and incident_id in str(e.get("message"))
            ]
            report.reports = self._reports(incident_id)
        report.dead_letters = self._dead_letters()
        report.checks = self._checks(report, incident_id, note)

    # -- expectations ------------------------------------------------------------------------------------
    def _checks(self, report: IncidentScenarioReport, incident_id: str, note: str) -> list[Check]:
        checks: list[Check] = []

        def check(name: str, passed: bool, detail: str = "") -> None:
            checks.append(Check(name, passed, "" if passed else detail))

        states = [n.get("NewStateValue") for n in report.notifications]
        check(
            "CloudWatch notified on state changes only: ALARM, ALARM (after INSUFFICIENT_DATA), OK",
            states == ["ALARM", "ALARM", "OK"],
            f"notifications {states}",
        )
        missing = sorted({f for n in report.notifications for f in NOTIFICATION_FIELDS if f not in n})
        check(
            "each notification is CloudWatch's documented JSON for this alarm",
            bool(report.notifications)
            and not missing
            and all(n.get("AlarmName") == self.alarm_name for n in report.notifications),
            f"fields missing: {missing}",
        )
        incident = report.incident
        check(
            "the alarm opened one critical incident",
            bool(incident_id)
            and incident.get("source") == "alarm"
            and incident.get("severity") == "critical"
            and len(self._incidents_of_run()) == 1,
            f"incident {incident_id or 'none'}: {incident.get('source')}, {incident.get('severity')}",
        )
        check(
            "on-call paged once, critical (the repeat pages nobody)",
            len(report.pages) == 1 and report.pages[0].get("severity") == "critical",
            f"{len(report.pages)} page(s): {[p.get('severity') for p in report.pages]}",
        )
        check(
            "the repeated ALARM is on the incident's timeline",
            int(incident.get("repeats", 0)) == 1
            and any(e.get("kind") == "repeated" for e in incident.get("timeline", [])),
            f"repeats {incident.get('repeats')}",
        )
        if self._has_outbox():
            sms_to = sorted(s.get("phone_number", "") for s in report.sms)
            check(
                "one SMS per on-call number, naming the incident",
                sms_to == sorted(self.phone_numbers),
                f"SMS to {[_mask_number(n) for n in sms_to]}",
            )
            mails_to = sorted(str(e.get("to", "")).lower() for e in report.page_emails)
            check(
                "one e-mail per on-call address, naming the incident",
                mails_to == sorted(a.lower() for a in self.on_call_emails),
                f"e-mails to {[_mask(a) for a in mails_to]}",
            )
        check(
            f"acknowledged by {self.actor} (incident.event from an application)",
            incident.get("acknowledged_by") == self.actor and bool(incident.get("acknowledged_at")),
            f"acknowledged_by {incident.get('acknowledged_by')!r}",
        )
        check(
            "the alarm's OK resolved the incident",
            incident.get("status") == "resolved" and bool(incident.get("resolved_at")),
            f"status {incident.get('status')!r}",
        )
        if self._has_outbox():
            [mail] = report.reports if len(report.reports) == 1 else [{}]
            text, html = str(mail.get("text", "")), str(mail.get("html", ""))
            recipients = sorted(a.lower() for a in mail.get("to", []))
            check(
                "one incident report to the stakeholders, with timeline, duration, acknowledgement and note",
                len(report.reports) == 1
                and recipients == sorted(a.lower() for a in self.stakeholders)
                and incident_id in str(mail.get("subject", ""))
                and "Duration:" in text
                and "Timeline:" in text
                and f"Acknowledged by: {self.actor}" in text
                and note in text
                and "<h2>Timeline</h2>" in html,
                f"{len(report.reports)} report(s)",
            )
        else:
            check(
                "the incident report was sent (report no longer pending)",
                incident.get("report_pending") is False,
                f"report_pending {incident.get('report_pending')!r}",
            )
        reasons = [m["reason"] for m in report.dead_letters]
        check(
            "the malformed incident event is in the incident DLQ with its reason, nothing else of the run",
            reasons == ["actor: is required"],
            f"DLQ reasons {reasons}",
        )
        return checks

    # -- CloudWatch --------------------------------------------------------------------------------------
    def _set_state(self, state: str, reason: str) -> None:
        self.cloudwatch.set_alarm_state(AlarmName=self.alarm_name, StateValue=state, StateReason=reason)

    # -- the incidents table -----------------------------------------------------------------------------
    def _items(self) -> list[dict[str, Any]]:
        return [
            item
            for item in scan_table(self.dynamodb, self.outputs["IncidentsTableName"])
            if isinstance(item.get("timeline"), list)  # not an alarm pointer (alarm#<ref>)
        ]

    def _incidents_of_run(self) -> list[dict[str, Any]]:
        return [
            item
            for item in self._items()
            if any(self.run_id in str(entry.get("text", "")) for entry in item["timeline"])
        ]

    def _incident(self) -> dict[str, Any] | None:
        found = self._incidents_of_run()
        return found[0] if found else None

    def _incident_id(self) -> str:
        incident = self._incident()
        return str(incident["incident_id"]) if incident else ""

    def _open_incidents_of_alarm(self) -> list[dict[str, Any]]:
        summary = f"CloudWatch alarm {self.alarm_name}"
        return [i for i in self._items() if i.get("summary") == summary and i.get("status") != "resolved"]

    def _dead_letters(self) -> list[dict[str, str]]:
        return [
            {
                "reason": m["reason"] or "(no reason: moved by the redrive policy)",
                "message_id": m["MessageId"],
            }
            for m in peek_messages(self.sqs, self.outputs["IncidentDeadLetterQueueUrl"])
            if self.run_id in m["Body"]
        ]

    # -- observation -------------------------------------------------------------------------------------
    def _observe(self, name: str, topic_arn: str) -> None:
        self._observers[name] = TopicObserver(
            self.sqs, self.sns, queue_name=f"nc-incident-scenario-{self.run_id}-{name}", topic_arn=topic_arn
        )

    def _drain(self, name: str) -> list[dict[str, Any]]:
        """What the observer queue ``name`` received so far: alarm notifications (the parsed JSON) for the
        incidents topic, pages (``subject``, ``body``, ``severity``) for the on-call topic."""
        for envelope in self._observers[name].drain():
            body = str(envelope.get("Message", ""))
            if name == "incidents":
                try:
                    payload = json.loads(body)
                except ValueError:
                    continue
                if isinstance(payload, dict) and "NewStateValue" in payload:
                    self._observed[name].append(payload)
            else:
                severity = (envelope.get("MessageAttributes") or {}).get("severity", {}).get("Value")
                self._observed[name].append(
                    {"subject": envelope.get("Subject"), "body": body, "severity": severity}
                )
        return self._observed[name]

    def _pages_seen(self) -> list[dict[str, Any]]:
        incident_id = self._incident_id()
        return [p for p in self._drain("on-call") if incident_id and incident_id in p["body"]]

    def _remove_observers(self) -> None:
        for observer in self._observers.values():
            observer.close()
        self._observers.clear()

    # -- sandbox extras (optional on the target) --------------------------------------------------------
    def _has_outbox(self) -> bool:
        return callable(getattr(self.target, "outbox", None))

    def _outbox(self, kind: str | None) -> list[dict[str, Any]]:
        """Outbox entries since the run started."""
        outbox = getattr(self.target, "outbox", None)
        entries = list(outbox(kind)) if callable(outbox) else []
        return [e for e in entries if e.get("seq", 0) > self._outbox_after]

    def _reports(self, incident_id: str) -> list[dict[str, Any]]:
        return [e for e in self._outbox("email") if incident_id and incident_id in str(e.get("subject", ""))]

    def _wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        wait_for(what, condition, timeout=self.timeout, progress=self.progress)
