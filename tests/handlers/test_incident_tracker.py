"""incident_tracker against moto: the real entry point, DynamoDB (incidents), SNS (pages), SQS (deadlines,
DLQ) and SESv2 (reports)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sqs.models import sqs_backends

from lambda_handlers.incident_tracker import handler as tracker
from lambda_handlers.incident_tracker.models import DEADLINE_MESSAGE_TYPE
from lambda_handlers.incident_tracker.service import (
    UNKNOWN_INCIDENT_DELIVERIES,
    IncidentService,
    build_service,
)
from tests.handlers.conftest import (
    CONFIGURATION_SET,
    REGION,
    SENDER_ADDRESS,
    FakeLambdaContext,
    FakeSesExtras,
    create_table,
    emitted_metrics,
    failed_ids,
    load_event,
    receive_all,
    sent_messages,
    sns_envelope,
    sqs_event,
    sqs_record,
)

STAKEHOLDERS = ("cto@example.org", "support-lead@example.org")
OPENED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
TRACKER_ENV = (
    "INCIDENTS_TABLE_NAME",
    "ON_CALL_TOPIC_ARN",
    "ACKNOWLEDGEMENT_DEADLINE_QUEUE_URL",
    "ACKNOWLEDGEMENT_DEADLINE_SECONDS",
    "INCIDENT_REPORT_RECIPIENTS",
    "ALARM_SEVERITIES",
    "DEFAULT_ALARM_SEVERITY",
)


@dataclass
class Tracker:
    """The resources the handler works on, and a clock the test moves."""

    table: str
    pages_url: str
    deadline_url: str
    dlq_url: str
    now: datetime = OPENED

    def clock(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def _fresh_tracker(handler_logs: io.StringIO) -> Iterator[None]:
    """A new service per test; the tracker's log lines go to the ``handler_logs`` buffer too."""
    tracker.shell.reset()
    log_handler: Any = tracker.shell.logger.registered_handler
    previous = log_handler.setStream(handler_logs)
    yield
    log_handler.setStream(previous)
    tracker.shell.reset()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, ses: FakeSesExtras, dlq: str) -> Tracker:
    for name in TRACKER_ENV:
        monkeypatch.delenv(name, raising=False)
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name="on-call")["TopicArn"]
    pages_url = sqs.create_queue(QueueName="pages")["QueueUrl"]
    pages_arn = sqs.get_queue_attributes(QueueUrl=pages_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=pages_arn, Attributes={"RawMessageDelivery": "false"}
    )
    deadline_url = sqs.create_queue(QueueName="ack-deadlines")["QueueUrl"]
    state = Tracker(
        table=create_table("incidents", "incident_id"),
        pages_url=pages_url,
        deadline_url=deadline_url,
        dlq_url=dlq,
    )
    monkeypatch.setenv("INCIDENTS_TABLE_NAME", state.table)
    monkeypatch.setenv("ON_CALL_TOPIC_ARN", topic_arn)
    monkeypatch.setenv("ACKNOWLEDGEMENT_DEADLINE_QUEUE_URL", deadline_url)
    monkeypatch.setenv("INCIDENT_REPORT_RECIPIENTS", ",".join(STAKEHOLDERS))
    monkeypatch.setenv("SENDER_ADDRESS", SENDER_ADDRESS)
    monkeypatch.setenv("CONFIGURATION_SET_NAME", CONFIGURATION_SET)
    monkeypatch.setenv("ALARM_SEVERITIES", json.dumps({"checkout-api-5xx": "critical"}))
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    return state


def install(state: Tracker) -> IncidentService:
    """Build the service as the shell would, with the test's clock."""
    service = build_service(tracker.shell.logger, tracker.shell.count)
    service.clock = state.clock
    tracker.shell.reset(service)
    return service


def invoke(*records: dict[str, Any]) -> dict[str, Any]:
    return tracker.handler(sqs_event(*records), FakeLambdaContext())


def alarm(name: str = "cloudwatch_alarm_alarm.json", **changes: Any) -> str:
    return sns_envelope({**load_event(name), **changes}, topic="incidents")


def app_event(name: str, **changes: Any) -> str:
    return sns_envelope({**load_event(name), **changes}, topic="incidents")


def pages(state: Tracker) -> list[dict[str, Any]]:
    """The pages published to the on-call topic (the SNS envelopes its SQS subscriber received)."""
    return [json.loads(message["Body"]) for message in receive_all(state.pages_url)]


def deadline_messages(state: Tracker) -> list[tuple[dict[str, Any], int]]:
    """Body and delay (seconds) of every message in the deadline queue, delayed ones included."""
    queue = sqs_backends[DEFAULT_ACCOUNT_ID][REGION].get_queue("ack-deadlines")
    found = []
    for message in list(queue._messages):
        delay = round((message.delayed_until - message.sent_timestamp) / 1000) if message.delayed_until else 0
        found.append((json.loads(message.body), delay))
    queue._messages.clear()
    return found


def incident(state: Tracker, incident_id: str) -> dict[str, Any]:
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=state.table, Key={"incident_id": {"S": incident_id}}
    )["Item"]
    return item


ALARM_INCIDENT = "alarm-checkout-api-5xx-"


def only_incident_id(state: Tracker) -> str:
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=state.table)["Items"]
    [incident_id] = [i["incident_id"]["S"] for i in items if not i["incident_id"]["S"].startswith("alarm#")]
    return incident_id


# ------------------------------------------------------------------------------------------ alarms
def test_alarm_opens_an_incident_and_pages_on_call_by_severity(
    env: Tracker, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a CloudWatch alarm (mapped to "critical") going into ALARM
    install(env)

    # WHEN its notification is processed
    response = invoke(sqs_record(alarm()))

    # THEN an open incident is recorded with the alarm's reason on its timeline
    assert failed_ids(response) == []
    incident_id = only_incident_id(env)
    assert incident_id.startswith(ALARM_INCIDENT) and incident_id.endswith("-20240501T120000Z")
    item = incident(env, incident_id)
    assert item["status"] == {"S": "open"}
    assert item["severity"] == {"S": "critical"}
    assert item["service"] == {"S": "AWS/ApiGateway"}
    assert "Threshold Crossed" in item["timeline"]["L"][0]["M"]["text"]["S"]
    # AND one page goes to the on-call topic with the severity attribute the subscriptions filter on
    [page] = pages(env)
    assert page["MessageAttributes"]["severity"] == {"Type": "String", "Value": "critical"}
    assert page["Subject"] == "[CRITICAL] CloudWatch alarm checkout-api-5xx"
    assert incident_id in page["Message"]
    # AND the acknowledgement deadline is queued (15 minutes by default: one SQS delay of 900 s)
    [(body, delay)] = deadline_messages(env)
    assert body == {
        "message_type": DEADLINE_MESSAGE_TYPE,
        "incident_id": incident_id,
        "due_at": "2024-05-01T12:15:00+00:00",
    }
    assert delay == 900
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["IncidentOpened"] == 1 and metrics["IncidentPaged"] == 1


def test_repeated_and_duplicate_alarms_do_not_page_again(
    env: Tracker, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an open alarm incident
    install(env)
    assert failed_ids(invoke(sqs_record(alarm()))) == []
    pages(env)
    capsys.readouterr()

    # WHEN the same notification is delivered again, and the alarm goes into ALARM once more (later)
    response = invoke(
        sqs_record(alarm()),
        sqs_record(alarm(StateChangeTime="2024-05-01T12:05:00.000+0000")),
    )

    # THEN nobody is paged again: the redelivery is a duplicate, the new ALARM a repeat on the timeline
    assert failed_ids(response) == []
    assert pages(env) == []
    item = incident(env, only_incident_id(env))
    assert item["repeats"] == {"N": "1"}
    assert [entry["M"]["kind"]["S"] for entry in item["timeline"]["L"]] == ["opened", "repeated"]
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["IncidentEventDuplicate"] == 1 and metrics["IncidentRepeated"] == 1
    assert "IncidentPaged" not in metrics


def test_alarm_ok_resolves_and_mails_the_report_with_timeline_and_duration(
    env: Tracker, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an alarm incident that an on-call engineer acknowledged and commented on
    install(env)
    assert failed_ids(invoke(sqs_record(alarm()))) == []
    incident_id = only_incident_id(env)
    ack = app_event("incident_acknowledge_v1.json", incident_id=incident_id, at="2024-05-01T12:03:00Z")
    note = app_event("incident_note_v1.json", incident_id=incident_id, at="2024-05-01T12:20:00Z")
    assert failed_ids(invoke(sqs_record(ack), sqs_record(note))) == []

    # WHEN the alarm returns to OK
    response = invoke(sqs_record(alarm("cloudwatch_alarm_ok.json")))

    # THEN the incident is resolved by CloudWatch
    assert failed_ids(response) == []
    item = incident(env, incident_id)
    assert item["status"] == {"S": "resolved"}
    assert item["acknowledged_by"] == {"S": "alice"}
    assert item["resolved_by"] == {"S": "CloudWatch"}
    # AND one report goes to the stakeholders: duration, who acknowledged, timeline, the (escaped) note
    [report] = sent_messages()
    assert report.destinations == {"ToAddresses": list(STAKEHOLDERS)}
    assert report.source == SENDER_ADDRESS
    assert report.subject == f"[critical] Incident {incident_id} resolved: CloudWatch alarm checkout-api-5xx"
    assert "42 min 30 s" in report.body
    assert "alice" in report.body and "after 3 min 00 s" in report.body
    assert "replica &lt;db-2&gt; &amp; restarted" in report.body
    for kind in ("opened", "acknowledged", "note", "resolved"):
        assert f" {kind} " in report.body
    assert emitted_metrics(capsys.readouterr().out)["IncidentReportSent"] == 1

    # AND the next ALARM of the same alarm opens a new incident (and pages)
    pages(env)
    assert failed_ids(invoke(sqs_record(alarm(StateChangeTime="2024-05-01T14:00:00.000+0000")))) == []
    [page] = pages(env)
    assert "-20240501T140000Z" in page["Message"]


def test_ok_without_open_incident_and_insufficient_data_change_nothing(env: Tracker) -> None:
    # GIVEN no open incident for the alarm
    install(env)

    # WHEN OK and INSUFFICIENT_DATA notifications arrive
    response = invoke(
        sqs_record(alarm("cloudwatch_alarm_ok.json")),
        sqs_record(alarm("cloudwatch_alarm_insufficient_data.json")),
    )

    # THEN they are processed without an incident, a page or a report
    assert failed_ids(response) == []
    assert boto3.client("dynamodb", region_name=REGION).scan(TableName=env.table)["Items"] == []
    assert pages(env) == [] and sent_messages() == []


# ---------------------------------------------------------------------------------------- app events
def test_app_events_drive_the_lifecycle(env: Tracker) -> None:
    # GIVEN an application opening a critical incident
    install(env)
    assert failed_ids(invoke(sqs_record(app_event("incident_open_v1.json")))) == []
    [page] = pages(env)
    assert page["MessageAttributes"]["severity"]["Value"] == "critical"
    assert page["Subject"] == "[CRITICAL] Payment DB p99 latency above 2 s"

    # WHEN it is acknowledged, annotated and resolved (the acknowledgement delivered twice)
    records = [
        sqs_record(app_event("incident_acknowledge_v1.json")),
        sqs_record(json.dumps(load_event("incident_acknowledge_v1.json"))),  # raw message delivery
        sqs_record(app_event("incident_note_v1.json")),
        sqs_record(app_event("incident_resolve_v1.json")),
    ]
    assert failed_ids(invoke(*records)) == []

    # THEN the lifecycle is recorded once per event, and one report is sent
    item = incident(env, "payments-db-latency-42")
    assert item["status"] == {"S": "resolved"}
    assert item["acknowledged_at"] == {"S": "2024-05-01T09:04:00+00:00"}
    assert [e["M"]["kind"]["S"] for e in item["timeline"]["L"]] == [
        "opened",
        "acknowledged",
        "note",
        "resolved",
    ]
    [report] = sent_messages()
    assert "31 min 15 s" in report.body
    assert pages(env) == []


def test_lower_severity_is_paged_with_its_severity(env: Tracker) -> None:
    # GIVEN a "medium" incident
    install(env)

    # WHEN it is opened
    assert failed_ids(invoke(sqs_record(app_event("incident_open_v1.json", severity="medium")))) == []

    # THEN the page carries severity=medium (the pipeline sends SMS only for critical)
    [page] = pages(env)
    assert page["MessageAttributes"]["severity"]["Value"] == "medium"


def test_event_for_an_unknown_incident_is_retried_then_dead_lettered(env: Tracker) -> None:
    # GIVEN an acknowledgement of an incident that was never opened
    install(env)
    body = app_event("incident_acknowledge_v1.json", incident_id="never-opened")

    # WHEN it is delivered (its open may still be on its way), and again after the retries
    first = sqs_record(body, receive_count=1)
    last = sqs_record(body, receive_count=UNKNOWN_INCIDENT_DELIVERIES)
    response = invoke(first, last)

    # THEN the first delivery is retried, the last one goes to the DLQ with the reason
    assert failed_ids(response) == [first["messageId"]]
    [parked] = receive_all(env.dlq_url)
    assert parked["MessageAttributes"]["failure_reason"]["StringValue"].startswith(
        "incident_id: no such incident"
    )


# ----------------------------------------------------------------------------------------- deadlines
def test_unacknowledged_at_the_deadline_emits_the_metric_and_pages_again(
    env: Tracker, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an open, unacknowledged incident whose deadline message is due
    install(env)
    assert failed_ids(invoke(sqs_record(app_event("incident_open_v1.json")))) == []
    pages(env)
    [(check, _)] = deadline_messages(env)
    capsys.readouterr()

    # WHEN the deadline message arrives after the deadline (and once more: SQS delivers at least once)
    env.now = OPENED + timedelta(minutes=15, seconds=1)
    response = invoke(sqs_record(json.dumps(check)), sqs_record(json.dumps(check)))

    # THEN the UnacknowledgedIncident metric is emitted and on-call is paged again, once
    assert failed_ids(response) == []
    assert emitted_metrics(capsys.readouterr().out)["UnacknowledgedIncident"] == 1
    [page] = pages(env)
    assert page["Subject"].startswith("[UNACKNOWLEDGED CRITICAL]")
    # AND the next deadline is queued
    [(next_check, delay)] = deadline_messages(env)
    assert next_check["due_at"] == "2024-05-01T12:30:01+00:00" and delay == 900


def test_acknowledged_before_the_deadline_nothing_happens(
    env: Tracker, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an incident acknowledged before its deadline
    install(env)
    assert failed_ids(invoke(sqs_record(app_event("incident_open_v1.json")))) == []
    assert failed_ids(invoke(sqs_record(app_event("incident_acknowledge_v1.json")))) == []
    pages(env)
    [(check, _)] = deadline_messages(env)
    capsys.readouterr()

    # WHEN the deadline message arrives
    env.now = OPENED + timedelta(minutes=16)
    assert failed_ids(invoke(sqs_record(json.dumps(check)))) == []

    # THEN there is no metric, no page and no further deadline
    assert "UnacknowledgedIncident" not in emitted_metrics(capsys.readouterr().out)
    assert pages(env) == [] and deadline_messages(env) == []


def test_a_deadline_longer_than_one_sqs_delay_is_re_queued(
    env: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a one-hour acknowledgement deadline
    monkeypatch.setenv("ACKNOWLEDGEMENT_DEADLINE_SECONDS", "3600")
    install(env)
    assert failed_ids(invoke(sqs_record(app_event("incident_open_v1.json")))) == []
    [(check, delay)] = deadline_messages(env)
    assert (check["due_at"], delay) == ("2024-05-01T13:00:00+00:00", 900)

    # WHEN the first hop arrives 15 minutes later
    env.now = OPENED + timedelta(minutes=15)
    assert failed_ids(invoke(sqs_record(json.dumps(check)))) == []

    # THEN the same deadline is queued again for the next hop, nobody is paged
    assert deadline_messages(env) == [(check, 900)]
    assert len(pages(env)) == 1  # the opening page only


# ----------------------------------------------------------------------------------- malformed input
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "record body is not valid JSON"),
        (json.dumps(load_event("incident_v2_unsupported.json")), "schema_version: major version 2"),
        (
            json.dumps({**load_event("incident_open_v1.json"), "severity": "urgent"}),
            "severity: must be one of",
        ),
        (
            json.dumps({**load_event("incident_open_v1.json"), "incident_id": "a b"}),
            "incident_id: must match",
        ),
        (json.dumps({**load_event("incident_acknowledge_v1.json"), "actor": None}), "actor: is required"),
        (
            json.dumps({**load_event("cloudwatch_alarm_alarm.json"), "NewStateValue": "BROKEN"}),
            "NewStateValue",
        ),
        (
            json.dumps({**load_event("cloudwatch_alarm_alarm.json"), "StateChangeTime": "yesterday"}),
            "StateChangeTime",
        ),
        (json.dumps({"message_type": DEADLINE_MESSAGE_TYPE, "incident_id": "x"}), "due_at"),
    ],
)
def test_malformed_messages_go_to_the_dlq_with_a_reason(env: Tracker, body: str, reason: str) -> None:
    # GIVEN a malformed message
    install(env)
    record = sqs_record(body)

    # WHEN it is processed
    response = invoke(record)

    # THEN it is parked in the DLQ with the reason (naming the field) and counts as processed
    assert failed_ids(response) == []
    [parked] = receive_all(env.dlq_url)
    assert parked["Body"] == body
    assert reason in parked["MessageAttributes"]["failure_reason"]["StringValue"]
    assert parked["MessageAttributes"]["source_message_id"]["StringValue"] == record["messageId"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)
broken_events = st.fixed_dictionaries(
    {"event_type": st.just("incident.event"), "schema_version": st.just("1.0")},
    optional={
        key: json_values
        for key in (
            "incident_id",
            "action",
            "severity",
            "service",
            "summary",
            "actor",
            "note",
            "at",
            "event_id",
        )
    },
).filter(lambda event: event.get("action") not in ("open", "acknowledge", "resolve", "note"))
broken_alarms = st.fixed_dictionaries(
    {"AlarmName": json_values, "NewStateValue": json_values},
    optional={"StateChangeTime": json_values, "AlarmArn": json_values, "Trigger": json_values},
).filter(lambda alarm: alarm["NewStateValue"] not in ("ALARM", "OK", "INSUFFICIENT_DATA"))


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(st.one_of(broken_events, broken_alarms).map(json.dumps), min_size=1, max_size=4))
def test_fuzzed_malformed_bodies_are_all_dead_lettered(env: Tracker, batch: list[str]) -> None:
    # GIVEN a batch of messages that are never valid (no valid action / alarm state)
    install(env)
    records = [sqs_record(body) for body in batch]

    # WHEN the handler processes it
    response = invoke(*records)

    # THEN nothing raises, and every record is in the DLQ with a reason
    assert failed_ids(response) == []
    parked = receive_all(env.dlq_url)
    assert sorted(m["MessageAttributes"]["source_message_id"]["StringValue"] for m in parked) == sorted(
        r["messageId"] for r in records
    )
    assert all(m["MessageAttributes"]["failure_reason"]["StringValue"] for m in parked)


# ---------------------------------------------------------------------------------------- logs, start
def test_logs_carry_no_personal_data(env: Tracker, handler_logs: io.StringIO) -> None:
    # GIVEN events whose free text holds a phone number and an e-mail address
    install(env)
    phone, email = "+447700900123", "jane.doe@example.net"
    opened = app_event("incident_open_v1.json", summary=f"Call {phone}", actor=email)
    noted = app_event("incident_note_v1.json", note=f"asked {email} / {phone}")
    resolved = app_event("incident_resolve_v1.json", actor=email)

    # WHEN the whole lifecycle is processed (page and report included)
    assert failed_ids(invoke(sqs_record(opened), sqs_record(noted), sqs_record(resolved))) == []

    # THEN neither they nor the stakeholders' addresses appear in the logs
    logs = handler_logs.getvalue()
    assert "payments-db-latency-42" in logs
    for secret in (phone, email, *STAKEHOLDERS, "Call "):
        assert secret not in logs


def test_fails_loudly_on_missing_configuration(env: Tracker, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a deployment without the incidents table name
    monkeypatch.delenv("INCIDENTS_TABLE_NAME")

    # WHEN the first (cold start) invocation runs THEN it fails naming the variable
    with pytest.raises(Exception, match="INCIDENTS_TABLE_NAME"):
        invoke(sqs_record(alarm()))
