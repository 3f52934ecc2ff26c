"""No PII out: addresses fed into every field of every event type never reach a log line or a DLQ reason.

Each test puts a unique marker address into one string field at a time (and into all of them at once),
runs the real handler at DEBUG (handler logger, root logger, ``POWERTOOLS_LOG_LEVEL`` / ``LOG_LEVEL``)
and scans everything that was written: the handler's JSON log lines, every record of every logger
(botocore, urllib3, Powertools' own), stdout / stderr (EMF metrics) and the DLQ's ``failure_reason``.
Masked addresses (``l***@pii.example``) are allowed; the local part of a marker never is.
"""

from __future__ import annotations

import copy
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lambda_handlers.bounce_processor import handler as bounces
from lambda_handlers.order_email_sender import handler as sender
from lambda_handlers.order_writer import handler as writer
from tests.handlers.conftest import (
    CONFIGURATION_SET,
    SENDER_ADDRESS,
    SES_EVENTS,
    FakeLambdaContext,
    FakeSesExtras,
    create_table,
    inject_client_error,
    load_event,
    receive_all,
    sns_envelope,
    sqs_event,
    sqs_record,
)


class Markers:
    """Unique marker addresses; ``leaked`` finds any of them (by local part) in a text."""

    def __init__(self) -> None:
        self.local_parts: list[str] = []

    def new(self) -> str:
        local = f"leakmarker{len(self.local_parts):04d}"
        self.local_parts.append(local)
        return f"{local}@pii.example"

    def leaked(self, text: str) -> list[str]:
        return [local for local in self.local_parts if local in text]


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


def _variants(document: dict[str, Any], markers: Markers) -> list[dict[str, Any]]:
    """One copy per string field with a marker in it, a copy with markers everywhere, and copies with
    a marker appended to a field (``"Bounce jane@..."``) so that no exact-match check hides it."""
    paths = list(_string_paths(document))
    variants = [_with(document, path, markers.new()) for path in paths]
    variants += [_with(document, path, f"{document_value(document, path)} {markers.new()}") for path in paths]
    everywhere = document
    for path in paths:
        everywhere = _with(everywhere, path, markers.new())
    return [*variants, everywhere]


def document_value(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


@pytest.fixture
def everything_logged(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], str]]:
    """DEBUG everywhere; returns a function giving every record of every logger as text."""
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("AWS_LAMBDA_LOG_LEVEL", "DEBUG")
    previous = {m: m.shell.logger.log_level for m in (sender, writer, bounces)}
    for module in previous:
        module.shell.logger.setLevel("DEBUG")
    caplog.set_level(logging.DEBUG)

    def text() -> str:
        return "\n".join(
            f"{r.name} {r.getMessage()} {r.exc_text or ''} {json.dumps(r.__dict__, default=str)}"
            for r in caplog.records
        )

    yield text
    for module, level in previous.items():
        module.shell.logger.setLevel(level)


def _assert_nothing_leaked(
    markers: Markers,
    *,
    handler_logs: io.StringIO,
    records_text: str,
    captured: pytest.CaptureResult[str],
    reasons: list[str],
) -> None:
    for name, text in [
        ("handler log", handler_logs.getvalue()),
        ("log records", records_text),
        ("stdout", captured.out),
        ("stderr", captured.err),
        ("DLQ reasons", "\n".join(reasons)),
    ]:
        assert markers.leaked(text) == [], f"addresses leaked into the {name}"


def _run(handler: Callable[..., Any], bodies: list[str]) -> None:
    for start in range(0, len(bodies), 50):
        handler(sqs_event(*(sqs_record(b) for b in bodies[start : start + 50])), FakeLambdaContext())


def _reasons(dlq: str) -> list[str]:
    return [m["MessageAttributes"]["failure_reason"]["StringValue"] for m in receive_all(dlq)]


@pytest.fixture
def bounce_ready(monkeypatch: pytest.MonkeyPatch, suppression_table: str, dlq: str) -> str:
    monkeypatch.setenv("SUPPRESSION_TABLE_NAME", suppression_table)
    monkeypatch.setenv("SOFT_BOUNCE_TABLE_NAME", create_table("soft-bounces", "address"))
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    return dlq


@pytest.mark.parametrize("name", SES_EVENTS)
def test_bounce_processor_never_logs_an_address_of_any_field(
    bounce_ready: str,
    name: str,
    everything_logged: Callable[[], str],
    handler_logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN an SES event with a marker address in each of its string fields in turn (raw and in an
    # SNS envelope whose own fields carry markers too)
    markers = Markers()
    variants = _variants(load_event(name), markers)
    bodies = [json.dumps(v) for v in variants]
    bodies += [
        json.dumps(_with(json.loads(sns_envelope(v, topic="ses-events")), ("Subject",), markers.new()))
        for v in variants[-3:]
    ]

    # WHEN the bounce processor handles all of them at DEBUG
    _run(bounces.handler, bodies)

    # THEN no marker appears in any log line, in the metrics output or in a DLQ reason
    _assert_nothing_leaked(
        markers,
        handler_logs=handler_logs,
        records_text=everything_logged(),
        captured=capsys.readouterr(),
        reasons=_reasons(bounce_ready),
    )


def test_unexpected_aws_error_messages_are_not_logged(
    bounce_ready: str,
    everything_logged: Callable[[], str],
    handler_logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN DynamoDB answers the suppression write with an error whose message names the address
    markers = Markers()
    address = markers.new()
    inject_client_error(
        bounces.shell.service.suppressions.client,  # type: ignore[attr-defined]
        "PutItem",
        code="AccessDeniedException",
        status=400,
        message=f"User is not authorized to write item {address}",
    )
    event = load_event("ses_event_bounce.json")
    event["bounce"]["bouncedRecipients"] = [{"emailAddress": address}]

    # WHEN the bounce is processed
    response = bounces.handler(sqs_event(sqs_record(json.dumps(event))), FakeLambdaContext())

    # THEN the record is retried and the log names the error code and the frames, not the message
    assert len(response["batchItemFailures"]) == 1
    log = handler_logs.getvalue()
    assert "AccessDeniedException" in log and "Traceback (most recent call last)" in log
    _assert_nothing_leaked(
        markers,
        handler_logs=handler_logs,
        records_text=everything_logged(),
        captured=capsys.readouterr(),
        reasons=[],
    )


def test_sdk_loggers_stay_at_info_even_when_everything_else_is_at_debug(
    bounce_ready: str, everything_logged: Callable[[], str], caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN DEBUG logging everywhere
    # WHEN a bounce is processed (DynamoDB and SQS calls through botocore / urllib3)
    bounces.handler(
        sqs_event(sqs_record(json.dumps(load_event("ses_event_bounce.json")))), FakeLambdaContext()
    )

    # THEN no SDK or Powertools-internal record below INFO was emitted
    sdk_debug = [
        r
        for r in caplog.records
        if r.name.split(".")[0] in {"boto3", "botocore", "urllib3", "s3transfer", "aws_lambda_powertools"}
        and r.levelno < logging.INFO
    ]
    assert sdk_debug == []
    assert logging.getLogger("botocore").getEffectiveLevel() == logging.INFO


ORDER_PATHS_EXCLUDED = {("customer", "email")}


@pytest.fixture
def order_handlers_ready(
    monkeypatch: pytest.MonkeyPatch, ses: FakeSesExtras, suppression_table: str, dlq: str
) -> str:
    monkeypatch.setenv("SENDER_ADDRESS", SENDER_ADDRESS)
    monkeypatch.setenv("CONFIGURATION_SET_NAME", CONFIGURATION_SET)
    monkeypatch.setenv("SUPPRESSION_TABLE_NAME", suppression_table)
    monkeypatch.setenv(
        "IDEMPOTENCY_TABLE_NAME", create_table("idempotency", "id", ttl_attribute="expiration")
    )
    monkeypatch.setenv("ORDERS_TABLE_NAME", create_table("orders", "order_id"))
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    return dlq


@pytest.mark.parametrize(
    "handler", [sender.handler, writer.handler], ids=["order_email_sender", "order_writer"]
)
def test_order_handlers_never_log_an_address_of_any_field(
    order_handlers_ready: str,
    handler: Callable[..., Any],
    everything_logged: Callable[[], str],
    handler_logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN order.placed events with a marker address in each field in turn; the customer's own address
    # (a valid one, so the order is sent / stored) is a marker as well
    markers = Markers()
    order = load_event("order_placed_v1.json")
    variants = _variants(order, markers)
    for n, variant in enumerate(variants):
        variant["order_id"] = variant["order_id"] if "@" in variant["order_id"] else f"ord-pii-{n}"
        if "@" not in variant["customer"]["email"] or " " in variant["customer"]["email"]:
            variant["customer"]["email"] = markers.new()
    bodies = [json.dumps(v) for v in variants] + [sns_envelope(v) for v in variants[:5]]

    # WHEN the handler processes them at DEBUG
    _run(handler, bodies)

    # THEN no marker appears anywhere
    _assert_nothing_leaked(
        markers,
        handler_logs=handler_logs,
        records_text=everything_logged(),
        captured=capsys.readouterr(),
        reasons=_reasons(order_handlers_ready),
    )
