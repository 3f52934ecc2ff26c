"""Pure decisions of the incident tracker: the lifecycle of an incident, its page and its report.

An incident is ``open`` -> ``acknowledged`` -> ``resolved`` (``open`` -> ``resolved`` too). Every message
becomes a :class:`Change` that :func:`apply` turns into an :class:`Outcome`: the incident's next state
(written with a version condition by the service) or nothing (a duplicate, an ignored change).

Side effects are *pending flags* of the stored state (``page_pending``, ``deadline_pending``,
``report_pending``), set together with the change that causes them and cleared once done: a delivery that
failed after the write finds them still set on its retry and completes them (at least once), while a
duplicate delivery of a completed change does nothing.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from lambda_handlers.common.errors import SchemaError
from lambda_handlers.contracts import CRITICAL_SEVERITY, MAX_SQS_DELAY_SECONDS
from lambda_handlers.incident_tracker.models import (
    Action,
    AlarmNotification,
    AlarmState,
    DeadlineCheck,
    IncidentEvent,
)

MAX_TIMELINE_ENTRIES = 200
"""Entries kept per incident (a DynamoDB item holds at most 400 KB); repeats beyond it are only counted."""
MAX_EVENT_IDS = 300
"""De-duplication ids kept per incident (the most recent ones)."""
CLOUDWATCH_ACTOR = "CloudWatch"
MAX_PAGE_SUBJECT_LENGTH = 100
"""SNS ``Subject``: at most 100 printable ASCII characters, no line breaks."""
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")


class Status(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class EntryKind(StrEnum):
    OPENED = "opened"
    REPEATED = "repeated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    NOTE = "note"
    ESCALATED = "escalated"


class OutcomeKind(StrEnum):
    OPENED = "opened"
    REPEATED = "repeated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    NOTE = "note"
    ESCALATED = "escalated"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    UNKNOWN_INCIDENT = "unknown_incident"


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: EntryKind
    actor: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class Incident:
    """The stored state of one incident."""

    incident_id: str
    status: Status
    severity: str
    service: str
    summary: str
    source: str
    """``alarm`` or ``app``."""
    opened_at: datetime
    timeline: tuple[TimelineEntry, ...]
    event_ids: tuple[str, ...]
    version: int = 0
    alarm_ref: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    repeats: int = 0
    escalations: int = 0
    page_pending: bool = False
    deadline_pending: bool = False
    deadline_due_at: datetime | None = None
    report_pending: bool = False

    @property
    def duration(self) -> timedelta | None:
        return None if self.resolved_at is None else max(self.resolved_at - self.opened_at, timedelta(0))


@dataclass(frozen=True)
class Change:
    """One message, normalised: what happens to which incident."""

    incident_id: str
    action: Action
    at: datetime
    event_id: str
    source: str
    severity: str | None = None
    service: str | None = None
    summary: str | None = None
    actor: str | None = None
    text: str | None = None
    alarm_ref: str | None = None


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    incident: Incident | None
    """The state to write (version incremented); ``None``: nothing to write."""
    reason: str | None = None
    """Why nothing was written (``IGNORED``), safe to log."""


def change_from_event(event: IncidentEvent) -> Change:
    return Change(
        incident_id=event.incident_id,
        action=event.action,
        at=event.at,
        event_id=event.event_id,
        source="app",
        severity=event.severity,
        service=event.service,
        summary=event.summary,
        actor=event.actor,
        text=event.note,
    )


def change_from_alarm(alarm: AlarmNotification, *, incident_id: str, severity: str) -> Change:
    """``ALARM`` opens (or repeats), ``OK`` resolves, ``INSUFFICIENT_DATA`` is a note."""
    action = {
        AlarmState.ALARM: Action.OPEN,
        AlarmState.OK: Action.RESOLVE,
        AlarmState.INSUFFICIENT_DATA: Action.NOTE,
    }[alarm.state]
    return Change(
        incident_id=incident_id,
        action=action,
        at=alarm.changed_at,
        event_id=alarm.event_id,
        source="alarm",
        severity=severity,
        service=alarm.namespace or "CloudWatch",
        summary=f"CloudWatch alarm {alarm.alarm_name}",
        actor=CLOUDWATCH_ACTOR,
        text=f"{alarm.state.value}: {alarm.reason}" if alarm.reason else alarm.state.value,
        alarm_ref=alarm.alarm_ref,
    )


def alarm_severity(alarm_name: str, severities: dict[str, str], default: str) -> str:
    return severities.get(alarm_name, default)


def _recorded(incident: Incident, event_id: str, entry: TimelineEntry, **changes: Any) -> Incident:
    """``incident`` with ``changes``, ``entry`` on its timeline (while there is room) and ``event_id``
    remembered, one version later."""
    timeline = incident.timeline
    if len(timeline) < MAX_TIMELINE_ENTRIES:
        timeline = (*timeline, entry)
    event_ids = (*incident.event_ids, event_id)[-MAX_EVENT_IDS:]
    return replace(incident, timeline=timeline, event_ids=event_ids, version=incident.version + 1, **changes)


def _open(change: Change, *, now: datetime, deadline: timedelta) -> Incident:
    if not (change.severity and change.service and change.summary):  # the parsers require them for open
        raise SchemaError("severity, service and summary: are required to open an incident")
    return Incident(
        incident_id=change.incident_id,
        status=Status.OPEN,
        severity=change.severity,
        service=change.service,
        summary=change.summary,
        source=change.source,
        alarm_ref=change.alarm_ref,
        opened_at=change.at,
        timeline=(TimelineEntry(change.at, EntryKind.OPENED, change.actor, change.text),),
        event_ids=(change.event_id,),
        version=1,
        page_pending=True,
        deadline_pending=True,
        deadline_due_at=(now + deadline).replace(microsecond=0),
    )


def apply(incident: Incident | None, change: Change, *, now: datetime, deadline: timedelta) -> Outcome:
    """The lifecycle rules. ``now`` + ``deadline`` is when an opened incident must be acknowledged."""
    if incident is None:
        if change.action is Action.OPEN:
            return Outcome(OutcomeKind.OPENED, _open(change, now=now, deadline=deadline))
        return Outcome(OutcomeKind.UNKNOWN_INCIDENT, None, "no incident with this id")
    if change.event_id in incident.event_ids:
        return Outcome(OutcomeKind.DUPLICATE, None)
    entry = TimelineEntry(change.at, EntryKind.NOTE, change.actor, change.text)
    if change.action is Action.NOTE:
        return Outcome(OutcomeKind.NOTE, _recorded(incident, change.event_id, entry))
    if incident.status is Status.RESOLVED:
        return Outcome(OutcomeKind.IGNORED, None, f"{change.action.value} of a resolved incident")
    if change.action is Action.OPEN:
        entry = replace(entry, kind=EntryKind.REPEATED)
        return Outcome(
            OutcomeKind.REPEATED,
            _recorded(incident, change.event_id, entry, repeats=incident.repeats + 1),
        )
    if change.action is Action.ACKNOWLEDGE:
        if incident.status is Status.ACKNOWLEDGED:
            return Outcome(OutcomeKind.IGNORED, None, "incident is already acknowledged")
        entry = replace(entry, kind=EntryKind.ACKNOWLEDGED)
        return Outcome(
            OutcomeKind.ACKNOWLEDGED,
            _recorded(
                incident,
                change.event_id,
                entry,
                status=Status.ACKNOWLEDGED,
                acknowledged_at=change.at,
                acknowledged_by=change.actor,
                deadline_pending=False,
            ),
        )
    if change.source == "alarm" and change.at < incident.opened_at:
        # SNS does not keep the order of notifications (standard topics): an OK from before the ALARM that
        # opened this incident arrives late and must not resolve it.
        return Outcome(OutcomeKind.IGNORED, None, "alarm OK older than the incident's opening (out of order)")
    entry = replace(entry, kind=EntryKind.RESOLVED)
    return Outcome(
        OutcomeKind.RESOLVED,
        _recorded(
            incident,
            change.event_id,
            entry,
            status=Status.RESOLVED,
            resolved_at=max(change.at, incident.opened_at),
            resolved_by=change.actor,
            deadline_pending=False,
            report_pending=True,
        ),
    )


def apply_deadline(
    incident: Incident | None, check: DeadlineCheck, *, now: datetime, deadline: timedelta
) -> Outcome:
    """At an acknowledgement deadline: escalate (re-page, next deadline) if the incident is still open."""
    if incident is None:
        return Outcome(OutcomeKind.IGNORED, None, "no incident with this id")
    if check.check_id in incident.event_ids:
        return Outcome(OutcomeKind.DUPLICATE, None)
    if incident.status is not Status.OPEN:
        return Outcome(OutcomeKind.IGNORED, None, f"incident is {incident.status.value}")
    if incident.deadline_due_at is not None and check.due_at != incident.deadline_due_at:
        return Outcome(OutcomeKind.IGNORED, None, "deadline superseded by a later one")
    waited = format_duration(now - incident.opened_at)
    entry = TimelineEntry(now, EntryKind.ESCALATED, None, f"not acknowledged after {waited}: paged again")
    return Outcome(
        OutcomeKind.ESCALATED,
        _recorded(
            incident,
            check.check_id,
            entry,
            escalations=incident.escalations + 1,
            page_pending=True,
            deadline_pending=True,
            deadline_due_at=(now + deadline).replace(microsecond=0),
        ),
    )


def next_delay_seconds(due_at: datetime, now: datetime) -> int:
    """The SQS ``DelaySeconds`` of the next hop towards ``due_at`` (0 = due now; at most 15 minutes)."""
    left = (due_at - now).total_seconds()
    return 0 if left <= 0 else min(MAX_SQS_DELAY_SECONDS, math.ceil(left))


# ------------------------------------------------------------------------------------------- rendering
def format_duration(value: timedelta) -> str:
    """``1 h 02 min 05 s``, ``3 min 10 s``, ``12 s`` (negative durations count as 0)."""
    seconds = max(0, int(value.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def _time(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Page:
    """One publish to the on-call topic (attribute ``severity`` selects SMS and/or e-mail)."""

    subject: str
    message: str
    severity: str

    @property
    def critical(self) -> bool:
        return self.severity == CRITICAL_SEVERITY


def page_for(incident: Incident) -> Page:
    """The page of a newly opened incident, or of an escalation (``escalations`` > 0)."""
    level = incident.severity.upper()
    prefix = f"UNACKNOWLEDGED {level}" if incident.escalations else level
    subject = _NOT_PRINTABLE_ASCII.sub("?", f"[{prefix}] {incident.summary}")
    if len(subject) > MAX_PAGE_SUBJECT_LENGTH:
        subject = subject[: MAX_PAGE_SUBJECT_LENGTH - 3] + "..."
    lines = [
        f"[{prefix}] incident {incident.incident_id}",
        f"Service: {incident.service}",
        f"Summary: {incident.summary}",
        f"Opened: {_time(incident.opened_at)}",
    ]
    if incident.escalations:
        lines.append(f"Not acknowledged yet (reminder {incident.escalations}).")
    lines.append(f"Acknowledge: incident.event action=acknowledge incident_id={incident.incident_id}")
    return Page(subject=subject, message="\n".join(lines), severity=incident.severity)


@dataclass(frozen=True)
class Report:
    subject: str
    text: str
    html: str


def _entry_line(entry: TimelineEntry) -> str:
    parts = [_time(entry.at), entry.kind.value]
    if entry.actor:
        parts.append(f"by {entry.actor}")
    line = " ".join(parts)
    return f"{line}: {entry.text}" if entry.text else line


def report_for(incident: Incident) -> Report:
    """The incident report mailed to the stakeholders once the incident is resolved (text and HTML; every
    value in the HTML part is escaped)."""
    duration = incident.duration
    facts: list[tuple[str, str]] = [
        ("Incident", incident.incident_id),
        ("Severity", incident.severity),
        ("Service", incident.service),
        ("Summary", incident.summary),
        ("Opened", _time(incident.opened_at)),
    ]
    if incident.acknowledged_at is not None:
        ack_after = format_duration(incident.acknowledged_at - incident.opened_at)
        facts.append(("Acknowledged", f"{_time(incident.acknowledged_at)} (after {ack_after})"))
        facts.append(("Acknowledged by", incident.acknowledged_by or "unknown"))
    else:
        facts.append(("Acknowledged", "never"))
    if incident.resolved_at is not None:
        facts.append(("Resolved", _time(incident.resolved_at)))
        facts.append(("Resolved by", incident.resolved_by or "unknown"))
    facts.append(("Duration", format_duration(duration) if duration is not None else "unknown"))
    facts.append(("Repeated alerts", str(incident.repeats)))
    facts.append(("Unacknowledged reminders", str(incident.escalations)))
    timeline = sorted(incident.timeline, key=lambda entry: entry.at)
    actions = [entry for entry in timeline if entry.kind is EntryKind.NOTE and entry.text]

    subject = _NOT_PRINTABLE_ASCII.sub(
        " ", f"[{incident.severity}] Incident {incident.incident_id} resolved: {incident.summary}"
    )[:200]
    text = [f"Incident report: {incident.incident_id}", ""]
    text += [f"{label}: {value}" for label, value in facts]
    text += ["", "Timeline:"] + [f"- {_entry_line(entry)}" for entry in timeline]
    text += ["", "Actions and notes:"]
    text += [f"- {_entry_line(entry)}" for entry in actions] or ["- none recorded"]

    e = html.escape
    rows = "".join(f"<tr><th align='left'>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in facts)
    timeline_items = "".join(f"<li>{e(_entry_line(entry))}</li>" for entry in timeline)
    action_items = (
        "".join(f"<li>{e(_entry_line(entry))}</li>" for entry in actions) or "<li>none recorded</li>"
    )
    html_body = (
        "<!DOCTYPE html><html><body>"
        f"<h1>Incident report: {e(incident.incident_id)}</h1>"
        f"<table>{rows}</table>"
        f"<h2>Timeline</h2><ol>{timeline_items}</ol>"
        f"<h2>Actions and notes</h2><ul>{action_items}</ul>"
        "</body></html>"
    )
    return Report(subject=subject, text="\n".join(text) + "\n", html=html_body)
