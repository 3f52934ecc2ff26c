"""Pure decisions of the order writer: the stored item and whether an existing one conflicts with it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lambda_handlers.common.order_event import OrderPlaced, format_amount, order_fingerprint


def order_item(order: OrderPlaced, *, received_at: datetime, source_message_id: str) -> dict[str, Any]:
    """The orders table item (partition key ``order_id``): amounts as decimal strings (exactly as sent),
    quantities as numbers, ``content_sha256`` the :func:`order_fingerprint` a redelivery is known by."""
    return {
        "order_id": order.order_id,
        "schema_version": order.schema_version,
        "event_type": order.event_type,
        "placed_at": order.placed_at.isoformat(),
        "customer_email": order.customer.email,
        "customer_name": order.customer.name,
        "currency": order.currency,
        "total": format_amount(order.total),
        "item_count": len(order.items),
        "items": [item.as_plain() for item in order.items],
        "received_at": received_at.astimezone(UTC).isoformat(timespec="milliseconds"),
        "source_message_id": source_message_id,
        "content_sha256": order_fingerprint(order),
    }


def is_conflict(*, stored_fingerprint: str | None, new_fingerprint: str) -> bool:
    """Same order id, other content: a producer bug, never overwrite it. Same content is a redelivery; an
    item without a fingerprint (written by something else) is given the benefit of the doubt."""
    return stored_fingerprint is not None and stored_fingerprint != new_fingerprint
