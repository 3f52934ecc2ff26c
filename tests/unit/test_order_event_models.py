"""Parsing of the order.placed v1 event (shared by order_email_sender and order_writer), plain values only."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_handlers.common.errors import (
    InvalidMessageError,
    PermanentError,
    SchemaError,
    UnsupportedSchemaVersionError,
)
from lambda_handlers.common.order_event import parse_order_placed, parse_record_body
from lambda_handlers.common.order_event import parse_record_body as parse_writer_record_body

EVENTS = Path(__file__).resolve().parent.parent / "events"


def event(name: str = "order_placed_v1.json", **changes: Any) -> dict[str, Any]:
    return {**json.loads((EVENTS / name).read_text()), **changes}


def test_parses_a_valid_v1_event() -> None:
    # GIVEN the documented example
    # WHEN it is parsed
    order = parse_order_placed(event())

    # THEN every field is typed, money is Decimal
    assert order.order_id == "ord-2024-000123"
    assert order.placed_at == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert order.customer.email == "jane.doe@example.net"
    assert [item.quantity for item in order.items] == [2, 1]
    assert order.items[0].unit_price == Decimal("9.99")
    assert order.items[0].line_total == Decimal("19.98")
    assert order.total == Decimal("32.48")
    assert order.event_type == "order.placed"


def test_accepts_any_1x_minor_version_and_ignores_unknown_fields() -> None:
    # GIVEN a 1.3 event with extra fields at every level
    # WHEN it is parsed
    order = parse_order_placed(event("order_placed_v1_minor_with_extra_fields.json"))

    # THEN it is accepted as is
    assert order.schema_version == "1.3"
    assert order.placed_at.utcoffset() == timedelta(hours=2)
    assert order.customer.name == "Max Mustermann & Söhne <GmbH>"


def test_total_equality_is_numeric() -> None:
    # GIVEN a total written with more trailing zeros than the prices
    # WHEN / THEN it is accepted ("32.480" == 32.48)
    assert parse_order_placed(event(total="32.480")).total == Decimal("32.48")


def test_raw_and_sns_wrapped_bodies_give_the_same_order() -> None:
    # GIVEN the same event raw and inside an SNS envelope
    raw = json.dumps(event())
    wrapped = json.dumps({"Type": "Notification", "TopicArn": "arn:aws:sns:eu-west-1:1:t", "Message": raw})

    # WHEN / THEN both parse to the same order
    assert parse_record_body(raw) == parse_record_body(wrapped) == parse_writer_record_body(wrapped)


@pytest.mark.parametrize("version", ["2.0", "0.9", "10.1"])
def test_fails_if_major_version_is_not_1(version: str) -> None:
    with pytest.raises(UnsupportedSchemaVersionError, match="is not supported"):
        parse_order_placed(event(schema_version=version))


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"schema_version": 1.0}, "schema_version: must be a string"),
        ({"schema_version": "v1"}, "schema_version: must look like"),
        ({"event_type": "order.cancelled"}, "event_type"),
        ({"order_id": "ord 1"}, "order_id"),
        ({"order_id": "x" * 65}, "order_id"),
        ({"order_id": "ord-1\n"}, "order_id"),
        ({"currency": "EUR\n"}, "currency"),
        ({"placed_at": "2024-05-01T12:30:00"}, "placed_at: must include a time zone"),
        ({"placed_at": "yesterday"}, "placed_at: must be an ISO-8601"),
        ({"customer": "jane"}, "customer: must be an object"),
        ({"customer": {"email": "jane@example.net"}}, "customer.name: is required"),
        (
            {"customer": {"email": "jane@example.net", "name": "x" * 201}},
            "customer.name: must be at most 200",
        ),
        ({"customer": {"email": "jane@example.net", "name": "   "}}, "customer.name: must not be empty"),
        ({"customer": {"email": "jane@example.net", "name": "a\nb"}}, "control characters"),
        ({"customer": {"email": "jane example.net", "name": "J"}}, "customer.email: is not a valid"),
        ({"items": []}, "items: must contain between 1 and 100"),
        ({"items": [{"sku": "A", "name": "a", "quantity": 1, "unit_price": "1"}] * 101}, "between 1 and 100"),
        ({"items": {"sku": "A"}}, "items: must be a list"),
        ({"items": [{"sku": "A", "name": "a", "quantity": 0, "unit_price": "1"}]}, r"items\[0\].quantity"),
        ({"items": [{"sku": "A", "name": "a", "quantity": True, "unit_price": "1"}]}, r"items\[0\].quantity"),
        ({"items": [{"sku": "A", "name": "a", "quantity": 1.5, "unit_price": "1"}]}, r"items\[0\].quantity"),
        (
            {"items": [{"sku": "A", "name": "a", "quantity": 1, "unit_price": 1.5}]},
            r"unit_price: must be a dec",
        ),
        ({"items": [{"sku": "A", "name": "a", "quantity": 1, "unit_price": "-1"}]}, r"non-negative decimal"),
        ({"items": [{"sku": "A", "name": "a", "quantity": 1, "unit_price": "NaN"}]}, r"non-negative decimal"),
        ({"items": [{"sku": "A", "name": "a", "quantity": 1, "unit_price": "1e3"}]}, r"non-negative decimal"),
        ({"items": [{"name": "a", "quantity": 1, "unit_price": "1"}]}, r"items\[0\].sku: is required"),
        ({"currency": "eur"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"total": "32.49"}, "total: must equal"),
        ({"total": 32.48}, "total: must be a decimal string"),
    ],
)
def test_fails_if_the_event_violates_the_schema(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(SchemaError, match=match):
        parse_order_placed(event(**changes))


@pytest.mark.parametrize(
    "field", ["schema_version", "event_type", "order_id", "placed_at", "customer", "items"]
)
def test_fails_if_a_required_field_is_missing(field: str) -> None:
    message = event()
    del message[field]
    with pytest.raises(SchemaError, match=f"{field}: is required"):
        parse_order_placed(message)


def test_fails_if_reason_would_contain_the_address() -> None:
    # GIVEN an invalid address
    # WHEN it is rejected
    with pytest.raises(SchemaError) as raised:
        parse_order_placed(event(customer={"email": "secret-person@", "name": "S"}))

    # THEN the reason names the field but never the value
    assert "secret-person" not in raised.value.reason


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("", "record body is empty"),
        ("{", "record body is not valid JSON"),
        ("[]", "record body must be a JSON object, got list"),
        ('{"total": NaN}', "not valid JSON"),
        ('{"Type": "Notification", "TopicArn": "arn", "Message": "nope"}', "Message is not valid JSON"),
    ],
)
def test_fails_if_the_body_is_not_a_json_object(body: str, match: str) -> None:
    with pytest.raises(InvalidMessageError, match=match):
        parse_record_body(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "schema_version",
                "event_type",
                "order_id",
                "placed_at",
                "customer",
                "items",
                "currency",
                "total",
            ]
        ),
        json_values,
    )
)
def test_random_messages_only_ever_raise_permanent_errors(message: dict[str, Any]) -> None:
    # GIVEN any JSON object built from the schema's field names
    # WHEN it is parsed
    # THEN it is either valid or rejected with a PermanentError (never another exception)
    try:
        parse_order_placed({**event(), **message})
    except PermanentError as exc:
        assert exc.reason


# -- total parsing: lone surrogates and out-of-range timestamps (permanent errors, never a crash) -------
LONE_SURROGATE = "\ud800"


def _with_surrogate(path: str) -> dict[str, Any]:
    message = event()
    if path.startswith("customer."):
        message["customer"] = {**message["customer"], path.split(".")[1]: f"x{LONE_SURROGATE}y"}
    elif path.startswith("items[0]."):
        message["items"] = [{**message["items"][0], path.split(".")[1]: f"x{LONE_SURROGATE}y"}]
    else:
        message[path] = f"x{LONE_SURROGATE}y"
    return message


@pytest.mark.parametrize(
    "path",
    [
        "schema_version",
        "event_type",
        "order_id",
        "placed_at",
        "customer.email",
        "customer.name",
        "items[0].sku",
        "items[0].name",
        "items[0].unit_price",
        "currency",
        "total",
    ],
)
def test_fails_if_a_string_field_holds_a_lone_surrogate(path: str) -> None:
    # GIVEN an event with a lone surrogate (valid JSON "\ud800", not encodable as UTF-8) in one field
    message = _with_surrogate(path)
    # sanity: the body is valid JSON, as a producer may really send it
    body = json.dumps(message)
    assert "\\ud800" in body

    # WHEN / THEN parsing fails permanently and the reason names that field (and never holds the value)
    with pytest.raises(SchemaError, match="^" + re.escape(path)) as raised:
        parse_record_body(body)
    assert LONE_SURROGATE not in raised.value.reason


def test_fails_if_the_customer_name_holds_a_lone_surrogate_with_the_unicode_reason() -> None:
    # GIVEN the writer's old crash: a surrogate in an otherwise valid name
    body = json.dumps(event(customer={"email": "jane@example.com", "name": f"Poison {LONE_SURROGATE} Pill"}))

    # WHEN / THEN the reason says what is wrong
    with pytest.raises(SchemaError, match=r"customer\.name: must be valid Unicode \(no lone surrogates\)"):
        parse_writer_record_body(body)


@pytest.mark.parametrize(
    "placed_at",
    [
        "9999-12-31T23:59:59-01:00",  # OverflowError when converted to UTC
        "0001-01-01T00:00:00+01:00",  # OverflowError the other way
        "9999-12-31T23:59:59Z",  # representable, but no real order is placed then
        "1969-12-31T23:59:59Z",
    ],
)
def test_fails_if_placed_at_is_out_of_range(placed_at: str) -> None:
    # GIVEN an event whose timestamp parses but lies outside the years orders are placed in
    message = event(placed_at=placed_at)

    # WHEN / THEN a permanent schema error with a reason, not an OverflowError
    with pytest.raises(SchemaError, match=r"placed_at: must be between the years 1970 and 9998"):
        parse_order_placed(message)


def test_accepts_placed_at_at_the_edges_of_the_range() -> None:
    # GIVEN the first and last accepted instants (in UTC), written with offsets
    for placed_at in ("1970-01-01T01:00:00+01:00", "9998-12-31T23:59:59+00:30"):
        # WHEN parsed THEN the offset is kept
        assert parse_order_placed(event(placed_at=placed_at)).placed_at.isoformat() == placed_at
