"""The ``order.placed`` event, schema version 1 (shared by ``order_email_sender`` and ``order_writer``).

Schema v1 (JSON object; unknown extra fields are ignored so producers can add fields in 1.x)::

    {
      "schema_version": "1.0",                 # "1.<minor>[.<patch>]"; other majors are rejected
      "event_type": "order.placed",
      "order_id": "ord-2024-000123",           # ^[A-Za-z0-9_-]{1,64}$
      "placed_at": "2024-05-01T12:30:00Z",     # ISO-8601 with a time zone
      "customer": {"email": "jane@example.com", "name": "Jane Doe"},   # name: 1..200 characters
      "items": [                               # 1..100 items
        {"sku": "SKU-1", "name": "Coffee mug", "quantity": 2, "unit_price": "9.99"}
      ],
      "currency": "EUR",                       # ISO-4217: three upper-case letters
      "total": "19.98"                         # decimal string == sum(quantity * unit_price)
    }

Money is a decimal *string* (``"9.99"``) and is parsed into :class:`~decimal.Decimal`, never ``float``.
Every violation raises :class:`SchemaError` (or :class:`UnsupportedSchemaVersionError`) whose reason names
the field but never contains its value (the value may be personal data).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from lambda_handlers.common import fields
from lambda_handlers.common.envelope import unwrap_message
from lambda_handlers.common.errors import PermanentError, SchemaError
from lambda_handlers.contracts import (
    MAX_NAME_LENGTH,
    MAX_ORDER_ITEMS,
    MAX_QUANTITY,
    MAX_SKU_LENGTH,
    ORDER_ID_PATTERN,
    ORDER_PLACED_EVENT_TYPE,
    ORDER_SCHEMA_MAJOR_VERSION,
    is_valid_email,
)

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DECIMAL = re.compile(r"^[0-9]{1,18}(?:\.[0-9]{1,6})?$")

MIN_PLACED_AT_YEAR = 1970
MAX_PLACED_AT_YEAR = 9998
"""``placed_at`` must fall within these years (in UTC): anything else is a producer bug, and year 9999 or
year 1 with an offset cannot even be converted to UTC."""

ORDER_ID_REUSED_REASON = "order_id reused with different content"


class OrderIdReusedError(PermanentError):
    """The order id was already handled with different content (a producer bug): never overwrite or
    mail it, dead-letter the record. A true duplicate (same :func:`order_fingerprint`) is not an error."""

    def __init__(self) -> None:
        super().__init__(ORDER_ID_REUSED_REASON)


@dataclass(frozen=True)
class Customer:
    email: str
    name: str


@dataclass(frozen=True)
class LineItem:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity

    def as_plain(self) -> dict[str, Any]:
        """The item as stored in the orders table and sent as template data (amounts as strings)."""
        return {
            "sku": self.sku,
            "name": self.name,
            "quantity": self.quantity,
            "unit_price": format_amount(self.unit_price),
            "line_total": format_amount(self.line_total),
        }


@dataclass(frozen=True)
class OrderPlaced:
    """A validated ``order.placed`` event."""

    schema_version: str
    order_id: str
    placed_at: datetime
    customer: Customer
    items: tuple[LineItem, ...]
    currency: str
    total: Decimal

    @property
    def event_type(self) -> str:
        return ORDER_PLACED_EVENT_TYPE


def _require(message: Mapping[str, Any], path: str) -> Any:
    """``message``'s field named by the last part of ``path`` (``customer.email``, ``items[0].sku``)."""
    value = message.get(path.rpartition(".")[2])
    if value is None:
        raise SchemaError(f"{path}: is required")
    return value


def _text(message: Mapping[str, Any], path: str, *, max_length: int) -> str:
    return fields.text(_require(message, path), path, max_length=max_length)


def _decimal(message: Mapping[str, Any], path: str) -> Decimal:
    value = _require(message, path)
    if not isinstance(value, str):
        raise SchemaError(f'{path}: must be a decimal string like "9.99"')
    if not _DECIMAL.fullmatch(value):
        raise SchemaError(f"{path}: must be a non-negative decimal string with at most 6 fraction digits")
    return Decimal(value)


def _schema_version(value: Any) -> str:
    """Any ``1.x`` is accepted, any other major is rejected permanently."""
    return fields.schema_version(value, ORDER_SCHEMA_MAJOR_VERSION)


def _placed_at(value: Any) -> datetime:
    return fields.timestamp(value, "placed_at", min_year=MIN_PLACED_AT_YEAR, max_year=MAX_PLACED_AT_YEAR)


def _customer(value: Any) -> Customer:
    if not isinstance(value, Mapping):
        raise SchemaError("customer: must be an object")
    email = _require(value, "customer.email")
    if not is_valid_email(email):
        raise SchemaError("customer.email: is not a valid e-mail address")
    name = _text(value, "customer.name", max_length=MAX_NAME_LENGTH)
    return Customer(email=email, name=name)


def _item(value: Any, index: int) -> LineItem:
    path = f"items[{index}]"
    if not isinstance(value, Mapping):
        raise SchemaError(f"{path}: must be an object")
    sku = _text(value, f"{path}.sku", max_length=MAX_SKU_LENGTH)
    name = _text(value, f"{path}.name", max_length=MAX_NAME_LENGTH)
    quantity = _require(value, f"{path}.quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise SchemaError(f"{path}.quantity: must be an integer between 1 and {MAX_QUANTITY}")
    unit_price = _decimal(value, f"{path}.unit_price")
    return LineItem(sku=sku, name=name, quantity=quantity, unit_price=unit_price)


def parse_order_placed(message: Mapping[str, Any]) -> OrderPlaced:
    """Validate an ``order.placed`` v1 message and return it as an :class:`OrderPlaced`."""
    if not isinstance(message, Mapping):
        raise SchemaError("message: must be a JSON object")
    schema_version = _schema_version(_require(message, "schema_version"))
    event_type = _require(message, "event_type")
    if event_type != ORDER_PLACED_EVENT_TYPE:
        raise SchemaError(f"event_type: must be {ORDER_PLACED_EVENT_TYPE!r}")
    order_id = _require(message, "order_id")
    if not isinstance(order_id, str) or not ORDER_ID_PATTERN.fullmatch(order_id):
        raise SchemaError(f"order_id: must match {ORDER_ID_PATTERN.pattern}")
    placed_at = _placed_at(_require(message, "placed_at"))
    customer = _customer(_require(message, "customer"))
    raw_items = _require(message, "items")
    if not isinstance(raw_items, list):
        raise SchemaError("items: must be a list")
    if not 1 <= len(raw_items) <= MAX_ORDER_ITEMS:
        raise SchemaError(f"items: must contain between 1 and {MAX_ORDER_ITEMS} items")
    items = tuple(_item(raw, index) for index, raw in enumerate(raw_items))
    currency = _require(message, "currency")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise SchemaError("currency: must be an ISO-4217 code of three upper-case letters")
    total = _decimal(message, "total")
    expected_total = sum((item.line_total for item in items), Decimal(0))
    if total != expected_total:
        raise SchemaError("total: must equal the sum of quantity * unit_price over all items")
    return OrderPlaced(
        schema_version=schema_version,
        order_id=order_id,
        placed_at=placed_at,
        customer=customer,
        items=items,
        currency=currency,
        total=total,
    )


def parse_record_body(body: str) -> OrderPlaced:
    """An SQS record body (the event raw or in an SNS envelope); a :class:`PermanentError` if invalid."""
    return parse_order_placed(unwrap_message(body).message)


def order_fingerprint(order: OrderPlaced) -> str:
    """SHA-256 of the order's content (not of its schema version, envelope or extra fields): equal for a
    redelivered event, different for another order under the same id. Both order consumers compare it."""
    canonical = {
        "order_id": order.order_id,
        "placed_at": order.placed_at.isoformat(),
        "customer": {"email": order.customer.email, "name": order.customer.name},
        "items": [
            [item.sku, item.name, item.quantity, format_amount(item.unit_price.normalize())]
            for item in order.items
        ],
        "currency": order.currency,
        "total": format_amount(order.total.normalize()),
    }
    encoded = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def format_amount(amount: Decimal) -> str:
    """A decimal amount as a plain string without exponent (``Decimal("1E+2")`` -> ``"100"``)."""
    return f"{amount:f}"
