"""shipment_notifier against moto: the real entry point, SNS (SMS + partner topic), SESv2 with the template,
DynamoDB (shipment state + suppression), SQS (DLQ). Also the fuzz and no-PII properties of the handler."""

from __future__ import annotations

import copy
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from lambda_handlers.common.errors import ConfigError
from lambda_handlers.shipment_notifier import handler as notifier
from tests.handlers.conftest import (
    CONFIGURATION_SET,
    REGION,
    SENDER_ADDRESS,
    FakeLambdaContext,
    FakeSesExtras,
    create_table,
    emitted_metrics,
    failed_ids,
    inject_client_error,
    load_event,
    receive_all,
    sent_messages,
    sns_envelope,
    sqs_event,
    sqs_record,
)

CUSTOMER = "jane.doe@example.net"
PHONE = "+4915112345678"
OPTED_OUT_PHONE = "+4915112345699"  # moto: every number ending in 99 has opted out
SHIPMENT_TEMPLATE = "shipment-update"
NOTIFIER_ENV = (
    "SHIPMENT_STATE_TABLE_NAME",
    "PARTNER_TOPIC_ARN",
    "SMS_SENDER_ID",
    "SENDER_ADDRESS",
    "CONFIGURATION_SET_NAME",
    "TEMPLATE_NAME",
    "SUPPRESSION_TABLE_NAME",
    "DEAD_LETTER_QUEUE_URL",
)


# ------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def _fresh_notifier(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test builds its own service inside its own moto context, with only its own variables."""
    for name in NOTIFIER_ENV:
        monkeypatch.delenv(name, raising=False)
    notifier.shell.reset()
    yield
    notifier.shell.reset()


@pytest.fixture
def notifier_logs(handler_logs: io.StringIO) -> Iterator[io.StringIO]:
    """The notifier's JSON log lines (its Powertools handler pointed at the per-test buffer)."""
    handler: Any = notifier.shell.logger.registered_handler
    previous = handler.setStream(handler_logs)
    yield handler_logs
    handler.setStream(previous)


@pytest.fixture
def partner_inbox(aws: None) -> tuple[str, str]:
    """The partner topic and a queue subscribed to it (standing in for the partners' HTTPS endpoints)."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name="partner-webhooks")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="partner-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, queue_url


@pytest.fixture
def notifier_env(
    monkeypatch: pytest.MonkeyPatch,
    ses: FakeSesExtras,
    suppression_table: str,
    partner_inbox: tuple[str, str],
    dlq: str,
) -> str:
    """Everything the notifier needs; returns the DLQ URL."""
    boto3.client("ses", region_name=REGION).create_template(
        Template={
            "TemplateName": SHIPMENT_TEMPLATE,
            "SubjectPart": "Your order {{order_id}} {{status_text}}",
            "TextPart": "Hello {{customer_name}}, {{carrier}}: {{tracking_url}} ({{status}} {{occurred_at}})",
            "HtmlPart": "<p>Hello {{customer_name}}</p>",  # moto renders no dotted names
        }
    )
    monkeypatch.setenv("SENDER_ADDRESS", SENDER_ADDRESS)
    monkeypatch.setenv("CONFIGURATION_SET_NAME", CONFIGURATION_SET)
    monkeypatch.setenv("TEMPLATE_NAME", SHIPMENT_TEMPLATE)
    monkeypatch.setenv("SUPPRESSION_TABLE_NAME", suppression_table)
    monkeypatch.setenv("SHIPMENT_STATE_TABLE_NAME", create_table("shipment-state", "order_id"))
    monkeypatch.setenv("PARTNER_TOPIC_ARN", partner_inbox[0])
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    return dlq


# -------------------------------------------------------------------------------------------- helpers
def update(**changes: Any) -> dict[str, Any]:
    event = load_event("shipment_updated_v1.json")
    customer = {**event["customer"], **changes.pop("customer", {})}
    return {**event, "customer": customer, **changes}


def invoke(*bodies: str) -> dict[str, Any]:
    return notifier.handler(sqs_event(*(sqs_record(body) for body in bodies)), FakeLambdaContext())


def sms_sent() -> list[tuple[str, str]]:
    return list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())


def webhooks(queue_url: str) -> list[dict[str, Any]]:
    """The partner-topic messages: each with its ``attributes`` (SNS message attributes) and ``body``."""
    messages = []
    for message in receive_all(queue_url):
        envelope = json.loads(message["Body"])
        attributes = {k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()}
        messages.append({"attributes": attributes, "body": json.loads(envelope["Message"])})
    return messages


def dlq_reasons(dlq: str) -> list[str]:
    return [m["MessageAttributes"]["failure_reason"]["StringValue"] for m in receive_all(dlq)]


# ------------------------------------------------------------------------------------ every channel
@pytest.mark.parametrize("status", ["shipped", "out_for_delivery", "delivered", "exception"])
def test_each_status_is_delivered_on_every_chosen_channel(
    notifier_env: str,
    ses: FakeSesExtras,
    partner_inbox: tuple[str, str],
    status: str,
    capsys: pytest.CaptureFixture[str],
    notifier_logs: io.StringIO,
) -> None:
    # GIVEN a first update of an order, in an SNS envelope, with all three channels chosen
    body = sns_envelope(update(status=status), topic="shipment-events")

    # WHEN the notifier handles it
    response = invoke(body)

    # THEN one transactional SMS with the tracking link goes to the customer's number
    assert failed_ids(response) == []
    [(number, text)] = sms_sent()
    assert number == PHONE
    assert "https://tracking.example.com/t/JD014600006281230704" in text
    assert "ord-2024-000123" in text and len(text) <= 160
    # AND one e-mail from the template, with the configuration set and the shipment tags
    [sent] = ses.rendered
    params = sent["params"]
    assert params["FromEmailAddress"] == SENDER_ADDRESS
    assert params["Destination"] == {"ToAddresses": [CUSTOMER]}
    assert params["ConfigurationSetName"] == CONFIGURATION_SET
    assert params["Content"]["Template"]["TemplateName"] == SHIPMENT_TEMPLATE
    assert {"Name": "shipment_status", "Value": status} in params["EmailTags"]
    assert "Hello Jane Doe, DHL: https://tracking.example.com/" in sent["rendered"]
    # AND one partner message, filterable by event type, status and partner, without contact data
    [hook] = webhooks(partner_inbox[1])
    assert hook["attributes"] == {
        "event_type": "shipment.updated",
        "status": status,
        "partner": "acme-marketplace",
    }
    assert hook["body"]["status"] == status and hook["body"]["order_id"] == "ord-2024-000123"
    assert CUSTOMER not in json.dumps(hook["body"]) and PHONE not in json.dumps(hook["body"])
    # AND the metrics count each channel; the logs hold neither the address nor the number
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["ShipmentSmsSent"] == metrics["ShipmentEmailSent"] == 1
    assert metrics["ShipmentWebhookPublished"] == 1
    logs = notifier_logs.getvalue()
    assert "Shipment update delivered" in logs
    assert CUSTOMER not in logs and PHONE not in logs


def test_only_the_chosen_channels_are_used(notifier_env: str, partner_inbox: tuple[str, str]) -> None:
    # GIVEN a customer who chose e-mail only (and gave no phone number)
    event = update(channels=["email"], customer={"phone_number": None})

    # WHEN the update is handled
    assert failed_ids(invoke(json.dumps(event))) == []

    # THEN only the e-mail is sent
    assert len(sent_messages()) == 1
    assert sms_sent() == [] and webhooks(partner_inbox[1]) == []


# ------------------------------------------------------------------------------- ordering, duplicates
def test_statuses_in_order_are_each_sent_once(notifier_env: str) -> None:
    # GIVEN an order's updates arriving in delivery order, the SMS channel only
    statuses = ["shipped", "out_for_delivery", "delivered"]

    # WHEN each is handled in its own invocation
    for status in statuses:
        assert failed_ids(invoke(json.dumps(update(status=status, channels=["sms"])))) == []

    # THEN the customer got one SMS per status, in that order
    texts = [text for _, text in sms_sent()]
    assert len(texts) == 3
    assert "has shipped" in texts[0] and "out for delivery" in texts[1] and "delivered" in texts[2]


@pytest.mark.parametrize(
    ("earlier", "late"),
    [
        ("delivered", "shipped"),
        ("out_for_delivery", "shipped"),
        ("delivered", "out_for_delivery"),
        ("delivered", "exception"),
    ],
)
def test_an_update_arriving_after_a_later_status_is_not_sent(
    notifier_env: str, earlier: str, late: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an order whose later status was already delivered
    assert failed_ids(invoke(json.dumps(update(status=earlier, channels=["sms", "email"])))) == []
    capsys.readouterr()

    # WHEN an earlier status (or an exception after the delivery) arrives late
    response = invoke(json.dumps(update(status=late, channels=["sms", "email"])))

    # THEN it is consumed without a regression being sent, and counted as stale
    assert failed_ids(response) == []
    assert len(sms_sent()) == 1 and len(sent_messages()) == 1
    assert emitted_metrics(capsys.readouterr().out)["ShipmentStaleUpdateSkipped"] == 1


def test_an_exception_is_sent_once_and_progress_continues_after_it(notifier_env: str) -> None:
    # GIVEN a shipped order that then has a delivery exception (delivered twice by SQS)
    for status in ("shipped", "exception", "exception", "out_for_delivery"):
        assert failed_ids(invoke(json.dumps(update(status=status, channels=["sms"])))) == []

    # THEN the exception was sent once and the later progress still reached the customer
    texts = [text for _, text in sms_sent()]
    assert [("problem" in t, "out for delivery" in t) for t in texts] == [
        (False, False),
        (True, False),
        (False, True),
    ]


def test_duplicates_send_nothing_again(
    notifier_env: str, partner_inbox: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an update that was delivered on all channels
    assert failed_ids(invoke(json.dumps(update()))) == []
    capsys.readouterr()

    # WHEN SQS delivers it again: raw, SNS-wrapped, and twice within one batch
    assert failed_ids(invoke(json.dumps(update()))) == []
    assert failed_ids(invoke(sns_envelope(update()), json.dumps(update()))) == []

    # THEN every channel still has exactly one message and the duplicates are counted
    assert len(sms_sent()) == 1 and len(sent_messages()) == 1 and len(webhooks(partner_inbox[1])) == 1
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["ShipmentDuplicateSkipped"] == 3
    assert metrics["ShipmentChannelAlreadySent"] == 9


def test_a_retry_after_a_partial_failure_sends_only_the_missing_channel(
    notifier_env: str, partner_inbox: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN SES answers the first send with a 503 (SMS and webhook succeed)
    notifier.shell.service  # noqa: B018 - build the service so its client can be faulted
    inject_client_error(
        notifier.shell.service.email.client,  # type: ignore[attr-defined]
        "SendEmail",
        code="ServiceUnavailable",
        status=503,
    )
    body = json.dumps(update())

    # WHEN the update is handled, then retried by SQS
    first = invoke(body)
    second = invoke(body)

    # THEN the first attempt fails the record (transient: retried) after delivering the other channels
    assert len(failed_ids(first)) == 1
    # AND the retry sends only the e-mail; nothing went twice
    assert failed_ids(second) == []
    assert len(sms_sent()) == 1 and len(sent_messages()) == 1 and len(webhooks(partner_inbox[1])) == 1
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["ShipmentChannelFailed"] == 1 and metrics["TransientFailure"] == 1
    assert metrics["ShipmentChannelAlreadySent"] == 2


def test_a_channel_held_by_another_delivery_waits_for_its_lease(
    notifier_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN another invocation accepted this update and holds its SMS lease right now
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.put_item(
        TableName="shipment-state",
        Item={
            "order_id": {"S": "ord-2024-000123"},
            "progress_rank": {"N": "1"},
            "accepted": {"SS": ["shipped"]},
            "lease_shipped_sms": {"N": str(int(time.time()) + 600)},
        },
    )
    body = json.dumps(update(channels=["sms", "email"]))

    # WHEN the update is handled
    response = invoke(body)

    # THEN the SMS is left to the lease holder, the e-mail is sent, and the record is retried (transient)
    assert len(failed_ids(response)) == 1
    assert sms_sent() == [] and len(sent_messages()) == 1
    assert emitted_metrics(capsys.readouterr().out)["TransientFailure"] == 1

    # WHEN the lease has expired (its holder died) and SQS delivers the record again
    dynamodb.update_item(
        TableName="shipment-state",
        Key={"order_id": {"S": "ord-2024-000123"}},
        UpdateExpression="SET lease_shipped_sms = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    # THEN the SMS is sent once and the e-mail not again
    assert failed_ids(invoke(body)) == []
    assert len(sms_sent()) == 1 and len(sent_messages()) == 1


# ----------------------------------------------------------------------------- opt-outs, suppression
def test_an_opted_out_number_gets_no_sms(
    notifier_env: str, capsys: pytest.CaptureFixture[str], notifier_logs: io.StringIO
) -> None:
    # GIVEN a customer whose number opted out of SMS
    event = update(customer={"phone_number": OPTED_OUT_PHONE}, channels=["sms", "email"])

    # WHEN the update is handled
    assert failed_ids(invoke(json.dumps(event))) == []

    # THEN no SMS is sent, the e-mail is, the opt-out is counted and logged with a masked number
    assert sms_sent() == [] and len(sent_messages()) == 1
    assert emitted_metrics(capsys.readouterr().out)["ShipmentPhoneOptedOut"] == 1
    logs = notifier_logs.getvalue()
    assert OPTED_OUT_PHONE not in logs and '"recipient":"+49*********99"' in logs


def test_a_suppressed_address_gets_no_email(
    notifier_env: str, suppression_table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the customer's address is on the suppression list (stored lower-cased)
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=suppression_table, Item={"address": {"S": CUSTOMER}, "reason": {"S": "BOUNCE"}}
    )
    event = update(customer={"email": "Jane.Doe@Example.NET"}, channels=["email", "sms"])

    # WHEN the update is handled
    assert failed_ids(invoke(json.dumps(event))) == []

    # THEN no e-mail is sent, the SMS is, and the suppression is counted
    assert sent_messages() == [] and len(sms_sent()) == 1
    assert emitted_metrics(capsys.readouterr().out)["ShipmentRecipientSuppressed"] == 1


# --------------------------------------------------------------------------------- malformed input
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (json.dumps(load_event("shipment_updated_v2_unsupported.json")), "major version 2 is not supported"),
        (json.dumps(load_event("shipment_updated_unknown_status.json")), "status: must be one of"),
        (
            json.dumps(update(customer={"phone_number": None})),
            "customer.phone_number: is required for the sms channel",
        ),
        (json.dumps(update(tracking_url="http://tracking.example.com/1")), "tracking_url: must be an https"),
        (json.dumps(update(channels=["sms", "pigeon"])), "channels[1]: must be one of"),
        (json.dumps(update(event_type="order.placed")), "event_type: must be 'shipment.updated'"),
        ("{not json", "record body is not valid JSON"),
    ],
    ids=["v2", "status", "no-phone", "http-url", "channel", "event-type", "not-json"],
)
def test_malformed_updates_go_to_the_dlq_with_their_reason(notifier_env: str, body: str, reason: str) -> None:
    # WHEN a malformed or unsupported update is handled
    response = invoke(body)

    # THEN it is parked in the DLQ with the reason (not retried) and nothing is sent
    assert failed_ids(response) == []
    [forwarded] = dlq_reasons(notifier_env)
    assert reason in forwarded
    assert sms_sent() == [] and sent_messages() == []


def test_fails_if_the_partner_topic_is_not_configured(
    notifier_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no PARTNER_TOPIC_ARN
    monkeypatch.delenv("PARTNER_TOPIC_ARN")

    # WHEN the handler starts   THEN the invocation fails naming the variable
    with pytest.raises(ConfigError, match="PARTNER_TOPIC_ARN"):
        invoke(json.dumps(update()))


# ---------------------------------------------------------------------------------------- fuzzing
SHIPMENT_KEYS = [
    "schema_version",
    "order_id",
    "status",
    "occurred_at",
    "carrier",
    "tracking_url",
    "partner",
    "customer",
    "channels",
]
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=15,
)
sqs_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r"),
    max_size=200,
)
# Objects with the shipment fields but never a valid update (event_type is never "shipment.updated").
broken_updates = st.fixed_dictionaries(
    {"event_type": json_values.filter(lambda value: value != "shipment.updated")},
    optional={key: json_values for key in SHIPMENT_KEYS},
).map(json.dumps)
# A valid update with one field replaced by an arbitrary value (often still valid: then it is sent).
one_field_broken = st.builds(
    lambda key, value: json.dumps({**update(), key: value}), st.sampled_from(SHIPMENT_KEYS), json_values
)
bodies = st.lists(
    st.one_of(sqs_text, broken_updates, broken_updates.map(sns_envelope)), min_size=1, max_size=5
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=bodies)
def test_malformed_bodies_never_fail_the_batch_and_all_reach_the_dlq(
    notifier_env: str, batch: list[str]
) -> None:
    # GIVEN a batch of bodies none of which is a valid update
    records = [sqs_record(body) for body in batch]

    # WHEN the notifier handles it
    response = notifier.handler(sqs_event(*records), FakeLambdaContext())

    # THEN no record fails the batch: every one is in the DLQ with its original body, nothing is sent
    assert failed_ids(response) == []
    forwarded = receive_all(notifier_env)
    assert sorted(m["Body"] for m in forwarded) == sorted(batch)
    assert sms_sent() == []


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=one_field_broken)
def test_any_single_field_value_is_handled_or_dead_lettered(notifier_env: str, body: str) -> None:
    # WHEN an update with one arbitrary field value is handled
    response = notifier.handler(sqs_event(sqs_record(body)), FakeLambdaContext())

    # THEN it is either processed or parked with a reason - never left failing, never raising
    assert failed_ids(response) == []


# ------------------------------------------------------------------------------------------ no PII
def _string_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _string_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _string_paths(item, (*path, index))
    elif isinstance(value, str):
        yield path


def _with(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    copied = copy.deepcopy(document)
    target = copied
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copied


@pytest.fixture
def everything_logged(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], str]]:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    previous = notifier.shell.logger.log_level
    notifier.shell.logger.setLevel("DEBUG")
    caplog.set_level(logging.DEBUG)

    def text() -> str:
        return "\n".join(
            f"{r.name} {r.getMessage()} {r.exc_text or ''} {json.dumps(r.__dict__, default=str)}"
            for r in caplog.records
        )

    yield text
    notifier.shell.logger.setLevel(previous)


def test_no_address_or_number_of_any_field_reaches_a_log_or_a_dlq_reason(
    notifier_env: str,
    everything_logged: Callable[[], str],
    notifier_logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN updates with a marker address in each string field in turn (the customer's own address and
    # number are markers too, so valid updates are sent with them)
    markers = [f"leakmarker{n:04d}" for n in range(200)]
    fresh = iter(markers)
    event = update()
    bodies = []
    for n, path in enumerate(_string_paths(event)):
        variant = _with(event, path, f"{next(fresh)}@pii.example")
        variant["order_id"] = variant["order_id"] if "@" in variant["order_id"] else f"ord-pii-{n}"
        if "@" not in variant["customer"]["email"]:
            variant["customer"]["email"] = f"{next(fresh)}@pii.example"
        bodies.append(json.dumps(variant))
    bodies.append(sns_envelope(update(customer={"email": f"{next(fresh)}@pii.example"})))

    # WHEN the notifier handles them at DEBUG
    for body in bodies:
        invoke(body)

    # THEN no marker and no phone number appears in any log, metrics output or DLQ reason
    captured = capsys.readouterr()
    texts = {
        "handler log": notifier_logs.getvalue(),
        "log records": everything_logged(),
        "stdout": captured.out,
        "stderr": captured.err,
        "DLQ reasons": "\n".join(dlq_reasons(notifier_env)),
    }
    for name, text in texts.items():
        assert [m for m in markers if m in text] == [], f"addresses leaked into the {name}"
        assert PHONE not in text, f"the phone number leaked into the {name}"
    assert len(sent_messages()) >= 1  # the valid variants were really sent
