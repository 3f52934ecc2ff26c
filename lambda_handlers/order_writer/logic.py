"""Pure decisions of the order writer: the stored item and how to treat an existing one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from lambda_handlers.common.order_event import OrderPlaced, format_amount, order_fingerprint


class ExistingOrder(StrEnum):
    DUPLICATE = "duplicate"
    """Same content: a redelivery of the event - nothing to do."""
    CONFLICT = "conflict"
    """Same order id, different content: a producer bug - never overwrite, dead-letter it."""


@dataclass(frozen=True)
class OrderRecord:
    """The orders table item (partition key ``order_id``), as plain Python values."""

    item: dict[str, Any]
    fingerprint: str


def order_record(order: OrderPlaced, *, received_at: datetime, source_message_id: str) -> OrderRecord:
    """Amounts are stored as decimal strings (exactly as sent), quantities as numbers."""
    fingerprint = order_fingerprint(order)
    item: dict[str, Any] = {
        "order_id": order.order_id,
        "schema_version": order.schema_version,
        "event_type": order.event_type,
        "placed_at": order.placed_at.isoformat(),
        "customer_email": order.customer.email,
        "customer_name": order.customer.name,
        "currency": order.currency,
        "total": format_amount(order.total),
        "item_count": len(order.items),
        "items": [
            {
                "sku": item.sku,
                "name": item.name,
                "quantity": item.quantity,
                "unit_price": format_amount(item.unit_price),
                "line_total": format_amount(item.line_total),
            }
            for item in order.items
        ],
        "received_at": received_at.astimezone(UTC).isoformat(timespec="milliseconds"),
        "source_message_id": source_message_id,
        "content_sha256": fingerprint,
    }
    return OrderRecord(item=item, fingerprint=fingerprint)


def classify_existing(*, stored_fingerprint: str | None, new_fingerprint: str) -> ExistingOrder:
    """An item without a fingerprint (written by something else) is given the benefit of the doubt."""
    if stored_fingerprint is None or stored_fingerprint == new_fingerprint:
        return ExistingOrder.DUPLICATE
    return ExistingOrder.CONFLICT
