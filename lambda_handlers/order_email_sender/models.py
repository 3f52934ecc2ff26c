"""Parsing for the order e-mail sender: SQS record body -> :class:`OrderPlaced`.

The record body is the ``order.placed`` event (schema v1, see :mod:`lambda_handlers.common.order_event`),
either raw (SNS raw message delivery) or wrapped in the SNS notification envelope.
"""

from __future__ import annotations

from lambda_handlers.common.envelope import unwrap_message
from lambda_handlers.common.order_event import Customer, LineItem, OrderPlaced, parse_order_placed


def parse_record_body(body: str) -> OrderPlaced:
    """Raises a :class:`PermanentError` subclass for anything that is not a valid v1 event."""
    return parse_order_placed(unwrap_message(body).message)


__all__ = [
    "Customer",
    "LineItem",
    "OrderPlaced",
    "parse_order_placed",
    "parse_record_body",
]
