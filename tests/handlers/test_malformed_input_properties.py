"""Property-based: malformed bodies never raise out of a handler; each record comes back as a batch item
failure, or - with DEAD_LETTER_QUEUE_URL set - is forwarded to the DLQ and counts as processed."""

from __future__ import annotations

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
    FakeLambdaContext,
    FakeSesExtras,
    create_table,
    failed_ids,
    receive_all,
    sns_envelope,
    sqs_event,
    sqs_record,
)

PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SES_TYPE_KEYS = {"eventType", "notificationType"}
ORDER_KEYS = [
    "schema_version",
    "event_type",
    "order_id",
    "placed_at",
    "customer",
    "items",
    "currency",
    "total",
]

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=15,
)


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


# Only characters SQS accepts in a message body (#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | ...).
sqs_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r"),
    max_size=200,
)
not_json_objects = st.one_of(
    sqs_text.filter(lambda text: not _is_json_object(text)),
    json_values.filter(lambda value: not isinstance(value, dict)).map(json.dumps),
    st.sampled_from(["", " ", "{", "null", "[]", '"{}"', "NaN", '{"a": NaN}', "\ufeff{}"]),
)
# Objects with the order fields but never a valid order (event_type is never "order.placed").
broken_orders = st.fixed_dictionaries(
    {"event_type": json_values.filter(lambda value: value != "order.placed")},
    optional={key: json_values for key in ORDER_KEYS if key != "event_type"},
).map(json.dumps)
# Objects that are not SES events (no eventType / notificationType at the top level).
not_ses_events = st.dictionaries(
    st.text(max_size=12).filter(lambda key: key not in SES_TYPE_KEYS), json_values, max_size=5
).map(json.dumps)


def bodies(objects: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    body = st.one_of(not_json_objects, objects, st.one_of(not_json_objects, objects).map(sns_envelope))
    return st.lists(body, min_size=1, max_size=5)


def check_batch(handler: Callable[..., Any], batch: list[str], dlq: str | None) -> None:
    records = [sqs_record(body) for body in batch]
    ids = [record["messageId"] for record in records]

    response = handler(sqs_event(*records), FakeLambdaContext())

    if dlq is None:
        assert sorted(failed_ids(response)) == sorted(ids)
    else:
        assert failed_ids(response) == []
        forwarded = receive_all(dlq)
        assert sorted(
            m["MessageAttributes"]["source_message_id"]["StringValue"] for m in forwarded
        ) == sorted(ids)
        assert sorted(m["Body"] for m in forwarded) == sorted(batch)


@pytest.fixture
def sender_ready(monkeypatch: pytest.MonkeyPatch, ses: FakeSesExtras, suppression_table: str) -> None:
    monkeypatch.setenv("SENDER_ADDRESS", SENDER_ADDRESS)
    monkeypatch.setenv("CONFIGURATION_SET_NAME", CONFIGURATION_SET)
    monkeypatch.setenv("SUPPRESSION_TABLE_NAME", suppression_table)
    monkeypatch.setenv(
        "IDEMPOTENCY_TABLE_NAME", create_table("idempotency", "id", ttl_attribute="expiration")
    )


@pytest.fixture
def writer_ready(monkeypatch: pytest.MonkeyPatch, aws: None) -> None:
    monkeypatch.setenv("ORDERS_TABLE_NAME", create_table("orders", "order_id"))


@pytest.fixture
def bounces_ready(monkeypatch: pytest.MonkeyPatch, suppression_table: str) -> None:
    monkeypatch.setenv("SUPPRESSION_TABLE_NAME", suppression_table)
    monkeypatch.setenv("SOFT_BOUNCE_TABLE_NAME", create_table("soft-bounces", "address"))


@pytest.fixture(params=[False, True], ids=["no-dlq", "dlq"])
def dead_letter_queue(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str | None:
    if not request.param:
        return None
    url: str = request.getfixturevalue("dlq")
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", url)
    return url


@PROPERTY_SETTINGS
@given(batch=bodies(broken_orders))
def test_order_email_sender_survives_malformed_bodies(
    sender_ready: None, dead_letter_queue: str | None, batch: list[str]
) -> None:
    check_batch(sender.handler, batch, dead_letter_queue)


@PROPERTY_SETTINGS
@given(batch=bodies(broken_orders))
def test_order_writer_survives_malformed_bodies(
    writer_ready: None, dead_letter_queue: str | None, batch: list[str]
) -> None:
    check_batch(writer.handler, batch, dead_letter_queue)


@PROPERTY_SETTINGS
@given(batch=bodies(not_ses_events))
def test_bounce_processor_survives_malformed_bodies(
    bounces_ready: None, dead_letter_queue: str | None, batch: list[str]
) -> None:
    check_batch(bounces.handler, batch, dead_letter_queue)
