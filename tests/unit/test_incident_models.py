"""incident_tracker without AWS: parsing the three messages, the lifecycle rules, pages, reports, config."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lambda_handlers.common.errors import ConfigError, SchemaError, UnsupportedSchemaVersionError
from lambda_handlers.incident_tracker import logic
from lambda_handlers.incident_tracker.config import load_config
from lambda_handlers.incident_tracker.gateways import incident_from_item, incident_to_item
from lambda_handlers.incident_tracker.models import (
    Action,
    AlarmNotification,
    AlarmState,
    DeadlineCheck,
    IncidentEvent,
    parse_message,
    parse_record_body,
)

EVENTS = Path(__file__).resolve().parents[1] / "events"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DEADLINE = timedelta(minutes=15)


def event(name: str, **changes: Any) -> dict[str, Any]:
    return {**json.loads((EVENTS / name).read_text()), **changes}


def opened(**changes: Any) -> logic.Incident:
    parsed = parse_message(event("incident_open_v1.json", **changes))
    assert isinstance(parsed, IncidentEvent)
    outcome = logic.apply(None, logic.change_from_event(parsed), now=NOW, deadline=DEADLINE)
    assert outcome.incident is not None
    return outcome.incident


def change(name: str, **changes: Any) -> logic.Change:
    parsed = parse_message(event(name, **changes))
    assert isinstance(parsed, IncidentEvent)
    return logic.change_from_event(parsed)


# ------------------------------------------------------------------------------------------- parsing
def test_parses_a_cloudwatch_alarm_notification() -> None:
    # GIVEN the documented alarm notification, inside an SNS envelope
    body = json.dumps({"Type": "Notification", "Message": json.dumps(event("cloudwatch_alarm_alarm.json"))})

    # WHEN it is parsed
    alarm = parse_record_body(body)

    # THEN state, time, namespace and a stable alarm reference are taken from it
    assert isinstance(alarm, AlarmNotification)
    assert alarm.state is AlarmState.ALARM
    assert alarm.changed_at == NOW
    assert alarm.namespace == "AWS/ApiGateway"
    assert (
        alarm.alarm_ref.startswith("checkout-api-5xx-")
        and len(alarm.alarm_ref) == len("checkout-api-5xx-") + 10
    )
    assert alarm.new_incident_id() == f"alarm-{alarm.alarm_ref}-20240501T120000Z"
    # AND the OK notification of the same alarm has the same reference, another event id
    ok = parse_message(event("cloudwatch_alarm_ok.json"))
    assert isinstance(ok, AlarmNotification)
    assert ok.alarm_ref == alarm.alarm_ref and ok.event_id != alarm.event_id


def test_alarm_names_of_any_text_become_safe_ids() -> None:
    # GIVEN an alarm name with spaces and symbols, and a control character in its reason
    parsed = parse_message(
        event("cloudwatch_alarm_alarm.json", AlarmName="Prod: API / 5xx > 5%", NewStateReason="a\nb")
    )

    # THEN the incident id still matches the contract pattern and the reason is one line
    assert isinstance(parsed, AlarmNotification)
    assert parsed.alarm_ref.startswith("Prod-API-5xx-5-")
    assert parsed.reason == "a b"


def test_parses_app_events_with_derived_event_ids() -> None:
    # GIVEN an acknowledgement without an event_id
    message = event("incident_acknowledge_v1.json")
    del message["event_id"]

    # WHEN it is parsed twice
    first, second = parse_message(message), parse_message(dict(message))

    # THEN its de-duplication id is derived from its content, the same both times
    assert isinstance(first, IncidentEvent)
    assert first.action is Action.ACKNOWLEDGE and first.actor == "alice"
    assert first.event_id == second.event_id  # type: ignore[union-attr]
    assert first.event_id.startswith("evt-")


def test_parses_a_deadline_check_and_round_trips_it() -> None:
    # GIVEN a deadline check   WHEN its body is parsed   THEN it is the same check
    check = DeadlineCheck("inc-1", NOW)
    assert parse_record_body(check.to_body()) == check


@pytest.mark.parametrize(
    ("message", "error", "reason"),
    [
        (
            event("incident_v2_unsupported.json"),
            UnsupportedSchemaVersionError,
            "schema_version: major version 2",
        ),
        (event("incident_open_v1.json", schema_version=1), SchemaError, "schema_version: must look like"),
        (event("incident_open_v1.json", event_type="incident"), SchemaError, "event_type: must be"),
        (event("incident_open_v1.json", action="close"), SchemaError, "action: must be one of"),
        (event("incident_open_v1.json", severity=None), SchemaError, "severity: must be one of"),
        (event("incident_open_v1.json", summary=""), SchemaError, "summary: must not be empty"),
        (event("incident_open_v1.json", summary="x" * 1001), SchemaError, "summary: must be at most 1000"),
        (event("incident_open_v1.json", service="a\tb"), SchemaError, "service: must not contain control"),
        (
            event("incident_open_v1.json", at="2024-05-01T09:00:00"),
            SchemaError,
            "at: must include a time zone",
        ),
        (event("incident_open_v1.json", at="0001-01-01T00:00:00+01:00"), SchemaError, "at: must be between"),
        (event("incident_open_v1.json", event_id="has space"), SchemaError, "event_id: must match"),
        (event("incident_note_v1.json", note=None), SchemaError, "note: is required"),
        (event("cloudwatch_alarm_alarm.json", AlarmName=""), SchemaError, "AlarmName"),
        (event("cloudwatch_alarm_alarm.json", AlarmArn=5), SchemaError, "AlarmArn: must be an ARN"),
        (
            event("cloudwatch_alarm_alarm.json", NewStateReason=[]),
            SchemaError,
            "NewStateReason: must be a string",
        ),
    ],
)
def test_fails_on_malformed_messages_naming_the_field(
    message: dict[str, Any], error: type[Exception], reason: str
) -> None:
    # GIVEN a malformed message   WHEN parsed   THEN the error names the field, not its value
    with pytest.raises(error, match=reason.replace("(", r"\(")):
        parse_message(message)


# ----------------------------------------------------------------------------------------- lifecycle
def test_open_sets_page_and_deadline_pending() -> None:
    # GIVEN an open event for a new incident   WHEN applied   THEN page and deadline are pending
    incident = opened()
    assert incident.status is logic.Status.OPEN and incident.version == 1
    assert incident.page_pending and incident.deadline_pending and not incident.report_pending
    assert incident.deadline_due_at == NOW + DEADLINE


def test_acknowledge_then_resolve_then_everything_else_is_ignored() -> None:
    # GIVEN an open incident, acknowledged
    ack = logic.apply(opened(), change("incident_acknowledge_v1.json"), now=NOW, deadline=DEADLINE)
    assert ack.kind is logic.OutcomeKind.ACKNOWLEDGED and ack.incident is not None
    assert ack.incident.acknowledged_by == "alice" and not ack.incident.deadline_pending

    # WHEN it is acknowledged again (another event), then resolved
    again = logic.apply(
        ack.incident, change("incident_acknowledge_v1.json", event_id="evt-ack-2"), now=NOW, deadline=DEADLINE
    )
    resolved = logic.apply(ack.incident, change("incident_resolve_v1.json"), now=NOW, deadline=DEADLINE)

    # THEN the second acknowledgement is ignored, the resolve sets the report pending
    assert again.kind is logic.OutcomeKind.IGNORED and again.incident is None
    assert resolved.kind is logic.OutcomeKind.RESOLVED and resolved.incident is not None
    assert resolved.incident.report_pending and resolved.incident.version == 3
    assert resolved.incident.duration == timedelta(minutes=31, seconds=15)
    # AND a late open of the resolved incident is ignored, a note is still recorded
    late = logic.apply(
        resolved.incident, change("incident_open_v1.json", event_id="evt-open-2"), now=NOW, deadline=DEADLINE
    )
    note = logic.apply(resolved.incident, change("incident_note_v1.json"), now=NOW, deadline=DEADLINE)
    assert late.kind is logic.OutcomeKind.IGNORED
    assert note.kind is logic.OutcomeKind.NOTE


def test_redelivered_events_are_duplicates_and_other_opens_are_repeats() -> None:
    # GIVEN an open incident whose page went out
    incident = replace(opened(), page_pending=False)
    # THEN its redelivered open is a duplicate, another open a repeat that pages nobody
    assert logic.apply(incident, change("incident_open_v1.json"), now=NOW, deadline=DEADLINE).kind is (
        logic.OutcomeKind.DUPLICATE
    )
    repeat = logic.apply(
        incident, change("incident_open_v1.json", event_id="evt-open-2"), now=NOW, deadline=DEADLINE
    )
    assert repeat.kind is logic.OutcomeKind.REPEATED and repeat.incident is not None
    assert repeat.incident.repeats == 1 and not repeat.incident.page_pending


def test_changes_of_unknown_incidents_are_reported() -> None:
    # GIVEN no incident   WHEN a resolve arrives   THEN nothing is written, the id is unknown
    outcome = logic.apply(None, change("incident_resolve_v1.json"), now=NOW, deadline=DEADLINE)
    assert outcome.kind is logic.OutcomeKind.UNKNOWN_INCIDENT and outcome.incident is None


def test_timeline_and_event_ids_are_bounded() -> None:
    # GIVEN an incident   WHEN it repeats more often than the limits   THEN they are kept, all counted
    incident = opened()
    for number in range(logic.MAX_EVENT_IDS + 10):
        outcome = logic.apply(
            incident, change("incident_open_v1.json", event_id=f"evt-{number}"), now=NOW, deadline=DEADLINE
        )
        assert outcome.incident is not None
        incident = outcome.incident
    assert len(incident.timeline) == logic.MAX_TIMELINE_ENTRIES
    assert len(incident.event_ids) == logic.MAX_EVENT_IDS
    assert incident.repeats == logic.MAX_EVENT_IDS + 10


def test_deadline_escalates_only_an_open_incident_at_its_current_deadline() -> None:
    # GIVEN an open incident past its deadline   THEN only its current deadline escalates, once
    incident = opened()
    due = incident.deadline_due_at
    assert due is not None
    later = due + timedelta(seconds=5)

    escalated = logic.apply_deadline(
        incident, DeadlineCheck(incident.incident_id, due), now=later, deadline=DEADLINE
    )
    assert escalated.kind is logic.OutcomeKind.ESCALATED and escalated.incident is not None
    assert escalated.incident.escalations == 1 and escalated.incident.page_pending
    assert escalated.incident.deadline_due_at == (later + DEADLINE).replace(microsecond=0)

    stale = DeadlineCheck(incident.incident_id, due - timedelta(minutes=1))
    assert (
        logic.apply_deadline(incident, stale, now=later, deadline=DEADLINE).kind is logic.OutcomeKind.IGNORED
    )
    again = DeadlineCheck(incident.incident_id, due)
    assert logic.apply_deadline(escalated.incident, again, now=later, deadline=DEADLINE).kind is (
        logic.OutcomeKind.DUPLICATE
    )
    acknowledged = replace(incident, status=logic.Status.ACKNOWLEDGED)
    assert (
        logic.apply_deadline(acknowledged, again, now=later, deadline=DEADLINE).kind
        is logic.OutcomeKind.IGNORED
    )


@pytest.mark.parametrize(
    ("left", "delay"),
    [(timedelta(hours=1), 900), (timedelta(seconds=100.2), 101), (timedelta(0), 0), (-DEADLINE, 0)],
)
def test_next_delay_is_at_most_one_sqs_delay(left: timedelta, delay: int) -> None:
    # GIVEN time left to a deadline   THEN the next hop's delay is capped at 900 s
    assert logic.next_delay_seconds(NOW + left, NOW) == delay


# ----------------------------------------------------------------------------------- page and report
def test_page_subject_is_short_printable_ascii() -> None:
    # GIVEN a long non-ASCII summary   WHEN paged   THEN the SNS subject is <= 100 printable ASCII
    page = logic.page_for(opened(summary="Überlast " + "x" * 200, severity="high"))
    assert len(page.subject) == logic.MAX_PAGE_SUBJECT_LENGTH and page.subject.isascii()
    assert page.subject.startswith("[HIGH] ?berlast") and not page.critical
    assert "incident_id=payments-db-latency-42" in page.message


def test_report_has_timeline_duration_acknowledger_notes_and_escapes_html() -> None:
    # GIVEN a resolved incident with an acknowledgement and a note holding markup
    incident = opened(summary="<script>alert(1)</script>")
    for name in ("incident_acknowledge_v1.json", "incident_note_v1.json", "incident_resolve_v1.json"):
        outcome = logic.apply(incident, change(name), now=NOW, deadline=DEADLINE)
        assert outcome.incident is not None
        incident = outcome.incident

    # WHEN the report is rendered
    report = logic.report_for(incident)

    # THEN both parts carry the facts; the HTML part escapes every value
    for part in (report.text, report.html):
        assert "31 min 15 s" in part and "after 4 min 00 s" in part and "alice" in part and "bob" in part
    assert "Failed over to the replica <db-2> & restarted the pool" in report.text
    assert "<script>" not in report.html and "&lt;script&gt;" in report.html
    assert "replica &lt;db-2&gt; &amp; restarted" in report.html
    assert (
        report.text.index(" opened")
        < report.text.index(" acknowledged by")
        < report.text.index(" resolved by")
    )
    assert "\n" not in report.subject


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=5), "5 s"),
        (timedelta(minutes=3), "3 min 00 s"),
        (timedelta(hours=25, seconds=1), "25 h 00 min 01 s"),
    ],
)
def test_format_duration(value: timedelta, text: str) -> None:
    # GIVEN a duration   THEN it reads as hours, minutes, seconds
    assert logic.format_duration(value) == text


def test_stored_item_round_trips() -> None:
    # GIVEN an acknowledged incident   WHEN stored and read back   THEN nothing is lost
    incident = opened()
    outcome = logic.apply(incident, change("incident_acknowledge_v1.json"), now=NOW, deadline=DEADLINE)
    assert outcome.incident is not None
    assert incident_from_item(incident_to_item(outcome.incident)) == outcome.incident


# ------------------------------------------------------------------------------------------- config
BASE_ENV = {
    "INCIDENTS_TABLE_NAME": "incidents",
    "ON_CALL_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:on-call",
    "ACKNOWLEDGEMENT_DEADLINE_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/deadlines",
    "INCIDENT_REPORT_RECIPIENTS": "a@example.com, b@example.com",
    "SENDER_ADDRESS": "incidents@example.com",
    "CONFIGURATION_SET_NAME": "incidents",
}


def test_config_defaults() -> None:
    # GIVEN the required variables only   WHEN loaded   THEN the defaults apply
    config = load_config(BASE_ENV)
    assert config.report_recipients == ("a@example.com", "b@example.com")
    assert config.acknowledgement_deadline == timedelta(minutes=15)
    assert config.default_alarm_severity == "high" and config.alarm_severities == {}


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"INCIDENT_REPORT_RECIPIENTS": "a@example.com,nobody"}, r"entries \[1\] are not valid"),
        ({"ALARM_SEVERITIES": '{"x": "urgent"}'}, "ALARM_SEVERITIES"),
        ({"ALARM_SEVERITIES": "[1]"}, "must be a JSON object"),
        ({"ACKNOWLEDGEMENT_DEADLINE_SECONDS": "10"}, "between 60 and 86400"),
        ({"ON_CALL_TOPIC_ARN": ""}, "ON_CALL_TOPIC_ARN is required"),
        ({"ACKNOWLEDGEMENT_DEADLINE_QUEUE_URL": "deadlines"}, "must be an SQS queue URL"),
    ],
)
def test_fails_on_bad_configuration(changes: dict[str, str], match: str) -> None:
    # GIVEN one bad variable   WHEN loaded   THEN a ConfigError names it
    with pytest.raises(ConfigError, match=match):
        load_config({**BASE_ENV, **changes})


def test_config_errors_do_not_repeat_addresses() -> None:
    # GIVEN an invalid recipient   WHEN loaded   THEN the error (logged) does not quote addresses
    with pytest.raises(ConfigError) as raised:
        load_config({**BASE_ENV, "INCIDENT_REPORT_RECIPIENTS": "jane.doe@example.com,jane.doe@"})
    assert "jane.doe" not in str(raised.value)


def test_an_alarm_ok_older_than_the_opening_alarm_does_not_resolve_it() -> None:
    # GIVEN an incident opened by an ALARM notification
    alarm = parse_message(event("cloudwatch_alarm_alarm.json"))
    assert isinstance(alarm, AlarmNotification)
    opening = logic.change_from_alarm(alarm, incident_id="inc-1", severity="critical")
    incident = logic.apply(None, opening, now=NOW, deadline=DEADLINE).incident
    assert incident is not None
    # WHEN an OK from before that ALARM arrives late (SNS does not keep the order of notifications)
    ok = parse_message(
        event(
            "cloudwatch_alarm_ok.json",
            StateChangeTime=(alarm.changed_at - timedelta(seconds=5)).isoformat(),
        )
    )
    assert isinstance(ok, AlarmNotification)
    late = logic.apply(
        incident,
        logic.change_from_alarm(ok, incident_id="inc-1", severity="critical"),
        now=NOW,
        deadline=DEADLINE,
    )
    # THEN it is ignored; an OK after the opening resolves the incident
    assert late.kind is logic.OutcomeKind.IGNORED and "out of order" in (late.reason or "")
    later = parse_message(
        event(
            "cloudwatch_alarm_ok.json", StateChangeTime=(alarm.changed_at + timedelta(minutes=3)).isoformat()
        )
    )
    assert isinstance(later, AlarmNotification)
    resolved = logic.apply(
        incident,
        logic.change_from_alarm(later, incident_id="inc-1", severity="critical"),
        now=NOW,
        deadline=DEADLINE,
    )
    assert resolved.kind is logic.OutcomeKind.RESOLVED
