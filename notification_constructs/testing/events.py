"""Builders for the events the pipelines consume, for tests and scenarios (pure, no AWS)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from lambda_handlers.contracts import ORDER_PLACED_EVENT_TYPE

__all__ = ["ORDER_PLACED_EVENT_TYPE", "SIMULATOR", "order_placed", "publish_order", "simulator_address"]

#: The SES mailbox simulator's outcomes (https://docs.aws.amazon.com/ses/latest/dg/send-an-email-from-console.html).
SIMULATOR = ("success", "bounce", "complaint", "suppressionlist", "ooto")


def simulator_address(outcome: str, label: str | None = None) -> str:
    """``success@simulator.amazonses.com``, or with a label (``success+run1@...``): SES accepts labels on
    the simulator addresses, which keeps runs against one account apart."""
    if outcome not in SIMULATOR:
        raise ValueError(f"outcome {outcome!r}: one of {', '.join(SIMULATOR)}")
    local = f"{outcome}+{label}" if label else outcome
    return f"{local}@simulator.amazonses.com"


def order_placed(
    order_id: str,
    *,
    email: str,
    name: str = "Jane Doe",
    items: Sequence[tuple[str, str, int, str]] = (("MUG-001", "Coffee mug", 2, "9.99"),),
    currency: str = "EUR",
    placed_at: datetime | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A valid ``order.placed`` v1 event; ``items`` are ``(sku, name, quantity, unit_price)``; the total is
    computed. Keyword ``overrides`` replace top-level fields (to build invalid events on purpose)."""
    total = sum((Decimal(price) * quantity for _, _, quantity, price in items), Decimal("0"))
    event: dict[str, Any] = {
        "schema_version": "1.0",
        "event_type": ORDER_PLACED_EVENT_TYPE,
        "order_id": order_id,
        "placed_at": (placed_at or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "customer": {"email": email, "name": name},
        "items": [
            {"sku": sku, "name": item_name, "quantity": quantity, "unit_price": price}
            for sku, item_name, quantity, price in items
        ],
        "currency": currency,
        "total": f"{total:.2f}",
    }
    event.update(overrides)
    return event


def publish_order(sns: Any, topic_arn: str, event: dict[str, Any] | str) -> str:
    """Publish as a producing app does (message attribute ``event_type``); returns the SNS message id."""
    body = event if isinstance(event, str) else json.dumps(event)
    response = sns.publish(
        TopicArn=topic_arn,
        Message=body,
        MessageAttributes={"event_type": {"DataType": "String", "StringValue": ORDER_PLACED_EVENT_TYPE}},
    )
    return str(response["MessageId"])
