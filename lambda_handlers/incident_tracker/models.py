"""Parsing the three messages the incident tracker receives into typed values.

1. A **CloudWatch alarm notification** (an alarm action publishing to the intake topic; the SNS envelope's
   ``Message`` is a JSON object with ``AlarmName``, ``NewStateValue`` = ``ALARM`` / ``OK`` /
   ``INSUFFICIENT_DATA``, ``NewStateReason``, ``StateChangeTime``, ``AlarmArn``, ``Trigger``, ...:
   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html).
2. An **``incident.event``** of schema v1, published by applications::

       {
         "schema_version": "1.0",            # "1.<minor>"; other majors are rejected
         "event_type": "incident.event",
         "incident_id": "checkout-latency-42", # ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$
         "action": "open",                    # open | acknowledge | resolve | note
         "severity": "critical",              # critical | high | medium | low (required for open)
         "service": "checkout",               # required for open, 1..100 characters
         "summary": "p99 latency above 2 s",  # required for open, 1..1000 characters
         "actor": "alice",                    # who acts (required for acknowledge), 1..200 characters
         "note": "rolled back release 1.4.2", # optional, 1..1000 characters
         "at": "2024-05-01T12:00:00Z",        # ISO-8601 with a time zone
         "event_id": "evt-0001"               # optional: de-duplication key (default: a hash of the event)
       }

3. An **acknowledgement deadline** the tracker sent itself to its deadline queue
   (``message_type = incident.acknowledgement_deadline``).

Parsing is total: any input yields one of :class:`AlarmNotification`, :class:`IncidentEvent`,
:class:`DeadlineCheck` or a :class:`PermanentError` whose reason names the field, never its value.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from lambda_handlers.common import fields
from lambda_handlers.common.envelope import unwrap_message
from lambda_handlers.common.errors import SchemaError, UnsupportedSchemaVersionError
from lambda_handlers.contracts import (
    INCIDENT_ACTIONS,
    INCIDENT_EVENT_TYPE,
    INCIDENT_ID_PATTERN,
    INCIDENT_SCHEMA_MAJOR_VERSION,
    INCIDENT_SEVERITIES,
    MAX_INCIDENT_ACTOR_LENGTH,
    MAX_INCIDENT_SERVICE_LENGTH,
    MAX_INCIDENT_TEXT_LENGTH,
)

DEADLINE_MESSAGE_TYPE = "incident.acknowledgement_deadline"
MAX_ALARM_NAME_LENGTH = 255
_SCHEMA_VERSION = fields.SCHEMA_VERSION
_EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_CONTROL_CHARACTERS = fields.CONTROL_CHARACTERS
_SURROGATES = fields.SURROGATES
_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
MIN_YEAR, MAX_YEAR = 1970, 9998


class Action(StrEnum):
    OPEN = "open"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    NOTE = "note"


class AlarmState(StrEnum):
    ALARM = "ALARM"
    OK = "OK"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class IncidentEvent:
    """A validated ``incident.event`` (v1)."""

    incident_id: str
    action: Action
    at: datetime
    event_id: str
    severity: str | None = None
    service: str | None = None
    summary: str | None = None
    actor: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class AlarmNotification:
    """A CloudWatch alarm state change."""

    alarm_name: str
    alarm_ref: str
    """Stable, log-safe reference of the alarm: ``<name slug>-<hash of its ARN>``."""
    state: AlarmState
    reason: str
    changed_at: datetime
    namespace: str | None
    event_id: str

    def new_incident_id(self) -> str:
        """The id of the incident this ``ALARM`` transition opens (unique per alarm and transition)."""
        return f"alarm-{self.alarm_ref}-{self.changed_at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


@dataclass(frozen=True)
class DeadlineCheck:
    """Check, at ``due_at``, that the incident has been acknowledged."""

    incident_id: str
    due_at: datetime

    @property
    def check_id(self) -> str:
        return f"deadline:{self.due_at.astimezone(UTC).isoformat(timespec='seconds')}"

    def to_body(self) -> str:
        return json.dumps(
            {
                "message_type": DEADLINE_MESSAGE_TYPE,
                "incident_id": self.incident_id,
                "due_at": self.due_at.astimezone(UTC).isoformat(timespec="seconds"),
            },
            separators=(",", ":"),
        )


Message = AlarmNotification | IncidentEvent | DeadlineCheck


def _text(message: Mapping[str, Any], name: str, *, max_length: int, required: bool) -> str | None:
    value = message.get(name)
    if value is None:
        if required:
            raise SchemaError(f"{name}: is required")
        return None
    return fields.text(value, name, max_length=max_length)


def _timestamp(value: Any, name: str) -> datetime:
    return fields.timestamp(value, name, min_year=MIN_YEAR, max_year=MAX_YEAR).astimezone(UTC)


def _incident_id(value: Any) -> str:
    if not isinstance(value, str) or not INCIDENT_ID_PATTERN.fullmatch(value):
        raise SchemaError(f"incident_id: must match {INCIDENT_ID_PATTERN.pattern}")
    return value


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def parse_incident_event(message: Mapping[str, Any]) -> IncidentEvent:
    """Validate an ``incident.event`` v1 message."""
    version = message.get("schema_version")
    if version is None:
        raise SchemaError("schema_version: is required")
    match = _SCHEMA_VERSION.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        raise SchemaError('schema_version: must look like "<major>.<minor>", e.g. "1.0"')
    if int(match.group(1)) != INCIDENT_SCHEMA_MAJOR_VERSION:
        raise UnsupportedSchemaVersionError(
            f"schema_version: major version {match.group(1)} is not supported "
            f"(supported: {INCIDENT_SCHEMA_MAJOR_VERSION}.x)"
        )
    if message.get("event_type") != INCIDENT_EVENT_TYPE:
        raise SchemaError(f"event_type: must be {INCIDENT_EVENT_TYPE!r}")
    incident_id = _incident_id(message.get("incident_id"))
    raw_action = message.get("action")
    if raw_action not in INCIDENT_ACTIONS:
        raise SchemaError(f"action: must be one of {', '.join(INCIDENT_ACTIONS)}")
    action = Action(raw_action)
    opening = action is Action.OPEN
    severity = message.get("severity")
    if (severity is not None or opening) and severity not in INCIDENT_SEVERITIES:
        raise SchemaError(f"severity: must be one of {', '.join(INCIDENT_SEVERITIES)}")
    service = _text(message, "service", max_length=MAX_INCIDENT_SERVICE_LENGTH, required=opening)
    summary = _text(message, "summary", max_length=MAX_INCIDENT_TEXT_LENGTH, required=opening)
    actor = _text(
        message, "actor", max_length=MAX_INCIDENT_ACTOR_LENGTH, required=action is Action.ACKNOWLEDGE
    )
    note = _text(message, "note", max_length=MAX_INCIDENT_TEXT_LENGTH, required=action is Action.NOTE)
    if "at" not in message:
        raise SchemaError("at: is required")
    at = _timestamp(message["at"], "at")
    event_id = message.get("event_id")
    if event_id is None:
        event_id = "evt-" + _digest(incident_id, action.value, at.isoformat(), actor or "", note or "")[:32]
    elif not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise SchemaError(f"event_id: must match {_EVENT_ID.pattern}")
    return IncidentEvent(
        incident_id=incident_id,
        action=action,
        at=at,
        event_id=event_id,
        severity=severity,
        service=service,
        summary=summary,
        actor=actor,
        note=note,
    )


def _one_line(value: str, max_length: int) -> str:
    """Free text from AWS (``NewStateReason``) as one line of at most ``max_length`` characters."""
    cleaned = _SURROGATES.sub("\ufffd", _CONTROL_CHARACTERS.sub(" ", value)).strip()
    return cleaned[:max_length]


def parse_alarm_notification(message: Mapping[str, Any]) -> AlarmNotification:
    """Validate a CloudWatch alarm notification (only the fields the tracker uses)."""
    name = message.get("AlarmName")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_ALARM_NAME_LENGTH:
        raise SchemaError(f"AlarmName: must be a string of 1 to {MAX_ALARM_NAME_LENGTH} characters")
    if _SURROGATES.search(name) or _CONTROL_CHARACTERS.search(name):
        raise SchemaError("AlarmName: must not contain control characters or lone surrogates")
    raw_state = message.get("NewStateValue")
    if not isinstance(raw_state, str) or raw_state not in {state.value for state in AlarmState}:
        raise SchemaError("NewStateValue: must be ALARM, OK or INSUFFICIENT_DATA")
    state = AlarmState(raw_state)
    changed_at = _timestamp(message.get("StateChangeTime"), "StateChangeTime")
    reason = message.get("NewStateReason")
    if reason is not None and not isinstance(reason, str):
        raise SchemaError("NewStateReason: must be a string")
    arn = message.get("AlarmArn")
    if arn is not None and not (isinstance(arn, str) and arn.startswith("arn:") and len(arn) <= 2048):
        raise SchemaError("AlarmArn: must be an ARN")
    account, region = message.get("AWSAccountId"), message.get("Region")
    identity = arn if isinstance(arn, str) else f"{account!s}:{region!s}:{name}"
    slug = _SLUG_UNSAFE.sub("-", name).strip("-._")[:64] or "alarm"
    trigger = message.get("Trigger")
    namespace = trigger.get("Namespace") if isinstance(trigger, Mapping) else None
    if not (
        isinstance(namespace, str) and 0 < len(namespace) <= 255 and not _CONTROL_CHARACTERS.search(namespace)
    ):
        namespace = None
    return AlarmNotification(
        alarm_name=name,
        alarm_ref=f"{slug}-{_digest(identity)[:10]}",
        state=state,
        reason=_one_line(reason or "", MAX_INCIDENT_TEXT_LENGTH),
        changed_at=changed_at,
        namespace=namespace,
        event_id="alarm-" + _digest(identity, state.value, changed_at.isoformat())[:32],
    )


def parse_deadline_check(message: Mapping[str, Any]) -> DeadlineCheck:
    return DeadlineCheck(
        incident_id=_incident_id(message.get("incident_id")),
        due_at=_timestamp(message.get("due_at"), "due_at"),
    )


def parse_message(message: Mapping[str, Any]) -> Message:
    """Which of the three messages ``message`` is, validated."""
    if "AlarmName" in message or "NewStateValue" in message:
        return parse_alarm_notification(message)
    if message.get("message_type") == DEADLINE_MESSAGE_TYPE:
        return parse_deadline_check(message)
    return parse_incident_event(message)


def parse_record_body(body: str) -> Message:
    """An SQS record body (raw, or the SNS envelope around the message)."""
    return parse_message(unwrap_message(body).message)
