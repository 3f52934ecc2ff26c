"""Total parsing, property-based: valid events with any node replaced, deleted or added never crash.

Starting from the valid events in ``tests/events`` (order.placed, SES event publishing records, SES
identity notifications), Hypothesis replaces any node of the WHOLE body - inside the message and inside
the SNS envelope around it - with an arbitrary JSON value, deletes keys and adds keys. With a DLQ
configured, every record must end either processed or forwarded to the DLQ with a reason: the batch
never reports a failure and no unexpected or transient error is counted.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    emitted_metrics,
    failed_ids,
    load_event,
    receive_all,
    sns_envelope,
    sqs_event,
    sqs_record,
)

MUTATION_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ORDER_EVENTS = ["order_placed_v1.json", "order_placed_v1_minor_with_extra_fields.json"]

# Arbitrary JSON, biased towards values that break naive code: huge / negative numbers, floats, the
# edges of datetime, lone surrogates, deep nesting, SES / order vocabulary in the wrong place.
edge_strings = st.sampled_from(
    [
        "",
        " ",
        "Permanent",
        "Transient",
        "Bounce",
        "Complaint",
        "Notification",
        "order.placed",
        "1.0",
        "2.0",
        "9999-12-31T23:59:59-05:00",
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59Z",
        "2024-05-01T12:30:00",
        "\ud800",
        "a\udfffb",
        "jane@example.net",
        '"Jane" <jane@example.net>',
        "x" * 5000,
        "{}",
        '{"eventType": "Bounce"}',
        "NaN",
        "1e999",
        "\x00",
    ]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([10**400, -(10**30), 2**63])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | edge_strings
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every node below the root (dict keys and list indices)."""
    found: list[tuple[Any, ...]] = []
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    for key, child in children:
        found.append((*path, key))
        found.extend(_paths(child, (*path, key)))
    return found


def _containers(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if isinstance(value, dict | list) else []
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    for key, child in children:
        found.extend(_containers(child, (*path, key)))
    return found


def _node(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


def mutate(document: dict[str, Any], data: st.DataObject, *, max_mutations: int = 3) -> dict[str, Any]:
    """Apply 1..max_mutations random replace / delete / add operations anywhere in ``document``."""
    document = copy.deepcopy(document)
    for _ in range(data.draw(st.integers(1, max_mutations), label="mutations")):
        operation = data.draw(st.sampled_from(["replace", "delete", "add"]), label="operation")
        paths = _paths(document)
        if operation in {"replace", "delete"} and paths:
            path = data.draw(st.sampled_from(paths), label="path")
            parent = _node(document, path[:-1])
            if operation == "replace":
                parent[path[-1]] = data.draw(json_values, label="value")
            else:
                del parent[path[-1]]
        else:
            container = _node(document, data.draw(st.sampled_from(_containers(document)), label="container"))
            value = data.draw(json_values, label="added")
            if isinstance(container, dict):
                container[data.draw(st.text(max_size=12), label="key")] = value
            else:
                container.insert(data.draw(st.integers(0, len(container)), label="index"), value)
    return document


def mutated_bodies(names: list[str], data: st.DataObject) -> list[str]:
    """1..5 record bodies: mutated events, raw or inside an SNS envelope that may be mutated too."""
    bodies: list[str] = []
    for _ in range(data.draw(st.integers(1, 5), label="records")):
        message = mutate(load_event(data.draw(st.sampled_from(names), label="event")), data)
        style = data.draw(st.sampled_from(["raw", "envelope", "mutated-envelope"]), label="style")
        if style == "raw":
            bodies.append(json.dumps(message))
            continue
        envelope = json.loads(sns_envelope(message, topic="events"))
        if style == "mutated-envelope":
            envelope = mutate(envelope, data, max_mutations=2)
        bodies.append(json.dumps(envelope))
    return bodies


def check_batch(
    handler: Callable[..., Any], bodies: list[str], dlq: str, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [sqs_record(body) for body in bodies]
    ids = {record["messageId"] for record in records}
    capsys.readouterr()

    response = handler(sqs_event(*records), FakeLambdaContext())

    assert failed_ids(response) == [], "a record was neither processed nor dead-lettered"
    metrics = emitted_metrics(capsys.readouterr().out)
    assert "UnexpectedFailure" not in metrics
    assert "TransientFailure" not in metrics
    for forwarded in receive_all(dlq):
        attributes = forwarded["MessageAttributes"]
        assert attributes["source_message_id"]["StringValue"] in ids
        assert attributes["failure_reason"]["StringValue"] not in {"", "unknown"}


@pytest.fixture
def bounces_ready(monkeypatch: pytest.MonkeyPatch, suppression_table: str, dlq: str) -> str:
    monkeypatch.setenv("SUPPRESSION_TABLE_NAME", suppression_table)
    monkeypatch.setenv("SOFT_BOUNCE_TABLE_NAME", create_table("soft-bounces", "address"))
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    return dlq


@pytest.fixture
def sender_ready(
    monkeypatch: pytest.MonkeyPatch, ses: FakeSesExtras, suppression_table: str, dlq: str
) -> str:
    monkeypatch.setenv("SENDER_ADDRESS", SENDER_ADDRESS)
    monkeypatch.setenv("CONFIGURATION_SET_NAME", CONFIGURATION_SET)
    monkeypatch.setenv("SUPPRESSION_TABLE_NAME", suppression_table)
    monkeypatch.setenv(
        "IDEMPOTENCY_TABLE_NAME", create_table("idempotency", "id", ttl_attribute="expiration")
    )
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    return dlq


@pytest.fixture
def writer_ready(monkeypatch: pytest.MonkeyPatch, dlq: str) -> str:
    monkeypatch.setenv("ORDERS_TABLE_NAME", create_table("orders", "order_id"))
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    return dlq


@MUTATION_SETTINGS
@given(data=st.data())
def test_bounce_processor_handles_any_mutation_of_ses_events(
    bounces_ready: str, capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    check_batch(bounces.handler, mutated_bodies(SES_EVENTS, data), bounces_ready, capsys)


@MUTATION_SETTINGS
@given(data=st.data())
def test_order_email_sender_handles_any_mutation_of_orders(
    sender_ready: str, capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    check_batch(sender.handler, mutated_bodies(ORDER_EVENTS, data), sender_ready, capsys)


@MUTATION_SETTINGS
@given(data=st.data())
def test_order_writer_handles_any_mutation_of_orders(
    writer_ready: str, capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    check_batch(writer.handler, mutated_bodies(ORDER_EVENTS, data), writer_ready, capsys)
