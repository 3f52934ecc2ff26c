"""Parsing for the order writer: SQS record body -> :class:`OrderPlaced` (schema v1, raw or SNS envelope)."""

from __future__ import annotations

from lambda_handlers.common.envelope import unwrap_message
from lambda_handlers.common.order_event import Customer, LineItem, OrderPlaced, parse_order_placed


def parse_record_body(body: str) -> OrderPlaced:
    """Raises a :class:`PermanentError` subclass for anything that is not a valid v1 event."""
    return parse_order_placed(unwrap_message(body).message)


__all__ = ["Customer", "LineItem", "OrderPlaced", "parse_order_placed", "parse_record_body"]
