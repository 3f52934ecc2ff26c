"""order_writer decisions with plain values (no AWS, no mocks)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from lambda_handlers.common.order_event import Customer, LineItem, OrderPlaced
from lambda_handlers.order_writer.logic import is_conflict, order_fingerprint, order_item

ORDER = OrderPlaced(
    schema_version="1.0",
    order_id="ord-9",
    placed_at=datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2))),
    customer=Customer(email="Jane@Example.net", name="Jane"),
    items=(LineItem(sku="A-1", name="Mug", quantity=2, unit_price=Decimal("4.50")),),
    currency="EUR",
    total=Decimal("9.00"),
)
RECEIVED = datetime(2024, 5, 1, 12, 31, 5, 123456, tzinfo=UTC)


def test_builds_the_orders_table_item() -> None:
    # GIVEN an order
    # WHEN the item is built
    item = order_item(ORDER, received_at=RECEIVED, source_message_id="m-1")

    # THEN amounts are strings, items a list, the e-mail as given plus metadata
    assert item == {
        "order_id": "ord-9",
        "schema_version": "1.0",
        "event_type": "order.placed",
        "placed_at": "2024-05-01T14:30:00+02:00",
        "customer_email": "Jane@Example.net",
        "customer_name": "Jane",
        "currency": "EUR",
        "total": "9.00",
        "item_count": 1,
        "items": [{"sku": "A-1", "name": "Mug", "quantity": 2, "unit_price": "4.50", "line_total": "9.00"}],
        "received_at": "2024-05-01T12:31:05.123+00:00",
        "source_message_id": "m-1",
        "content_sha256": order_fingerprint(ORDER),
    }


def test_fingerprint_ignores_schema_minor_version_and_trailing_zeros() -> None:
    # GIVEN the same order sent as 1.1 with "9.0" instead of "9.00"
    same = replace(ORDER, schema_version="1.1", total=Decimal("9.0"))

    # THEN the fingerprint is equal; a changed quantity changes it
    assert order_fingerprint(same) == order_fingerprint(ORDER)
    changed = replace(ORDER, items=(replace(ORDER.items[0], quantity=3),), total=Decimal("13.50"))
    assert order_fingerprint(changed) != order_fingerprint(ORDER)


def test_classifies_an_existing_item() -> None:
    assert is_conflict(stored_fingerprint="a", new_fingerprint="a") is False
    assert is_conflict(stored_fingerprint=None, new_fingerprint="a") is False
    assert is_conflict(stored_fingerprint="a", new_fingerprint="b") is True
