"""The ``shipment.updated`` event, schema version 1 (published by the app, read by ``shipment_notifier``).

Schema v1 (JSON object; unknown extra fields are ignored so producers can add fields in 1.x)::

    {
      "schema_version": "1.0",                       # "1.<minor>[.<patch>]"; other majors are rejected
      "event_type": "shipment.updated",
      "order_id": "ord-2024-000123",                 # ^[A-Za-z0-9_-]{1,64}$
      "status": "shipped",                           # shipped | out_for_delivery | delivered | exception
      "occurred_at": "2024-05-02T08:15:00Z",         # ISO-8601 with a time zone
      "carrier": "DHL",                              # 1..100 characters
      "tracking_url": "https://track.example.com/1", # https, at most 2048 characters
      "partner": "acme-marketplace",                 # optional, ^[A-Za-z0-9_-]{1,64}$ (webhook filter)
      "customer": {
        "name": "Jane Doe",                          # 1..200 characters
        "email": "jane.doe@example.net",             # required with the email channel
        "phone_number": "+4915112345678"             # E.164, required with the sms channel
      },
      "channels": ["sms", "email", "webhook"]        # the customer's choice: any of them, each once
    }

Every violation raises :class:`SchemaError` (or :class:`UnsupportedSchemaVersionError`) whose reason names
the field but never contains its value (the value may be personal data).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from lambda_handlers.common import fields
from lambda_handlers.common.envelope import unwrap_message
from lambda_handlers.common.errors import SchemaError
from lambda_handlers.contracts import (
    E164_PATTERN,
    MAX_CARRIER_LENGTH,
    MAX_NAME_LENGTH,
    MAX_TRACKING_URL_LENGTH,
    ORDER_ID_PATTERN,
    PARTNER_ID_PATTERN,
    SHIPMENT_CHANNELS,
    SHIPMENT_PROGRESS,
    SHIPMENT_SCHEMA_MAJOR_VERSION,
    SHIPMENT_STATUSES,
    SHIPMENT_UPDATED_EVENT_TYPE,
    is_valid_email,
)

_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f<>\"'\\`{}|^]")
"""Whitespace, control characters and the characters RFC 3986 never allows unencoded (also keeps the URL
inert in the HTML part and the SMS)."""
MIN_YEAR, MAX_YEAR = 1970, 9998


@dataclass(frozen=True)
class ShipmentCustomer:
    name: str
    email: str | None
    phone_number: str | None


@dataclass(frozen=True)
class ShipmentUpdate:
    """A validated ``shipment.updated`` event."""

    schema_version: str
    order_id: str
    status: str
    occurred_at: datetime
    carrier: str
    tracking_url: str
    partner: str | None
    customer: ShipmentCustomer
    channels: tuple[str, ...]

    @property
    def event_type(self) -> str:
        return SHIPMENT_UPDATED_EVENT_TYPE

    @property
    def progress_rank(self) -> int:
        """1-3 for shipped / out_for_delivery / delivered, 0 for exception (it changes no progress)."""
        return status_rank(self.status)


def status_rank(status: str) -> int:
    return SHIPMENT_PROGRESS.index(status) + 1 if status in SHIPMENT_PROGRESS else 0


def _require(message: Mapping[str, Any], path: str) -> Any:
    value = message.get(path.rpartition(".")[2])
    if value is None:
        raise SchemaError(f"{path}: is required")
    return value


def _text(message: Mapping[str, Any], path: str, *, max_length: int) -> str:
    return fields.text(_require(message, path), path, max_length=max_length)


def _schema_version(value: Any) -> str:
    return fields.schema_version(value, SHIPMENT_SCHEMA_MAJOR_VERSION)


def _occurred_at(value: Any) -> datetime:
    return fields.timestamp(value, "occurred_at", min_year=MIN_YEAR, max_year=MAX_YEAR)


def _tracking_url(value: Any) -> str:
    if not isinstance(value, str):
        raise SchemaError("tracking_url: must be a string")
    if not value or len(value) > MAX_TRACKING_URL_LENGTH:
        raise SchemaError(f"tracking_url: must be 1-{MAX_TRACKING_URL_LENGTH} characters")
    if not value.isascii() or _URL_FORBIDDEN.search(value):
        raise SchemaError("tracking_url: must be an encoded URL (ASCII, no spaces, quotes or brackets)")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise SchemaError("tracking_url: must be an https URL") from None
    if parts.scheme != "https" or not host or parts.username is not None or parts.password is not None:
        raise SchemaError("tracking_url: must be an https URL with a host and no credentials")
    return value


def _customer(value: Any) -> ShipmentCustomer:
    if not isinstance(value, Mapping):
        raise SchemaError("customer: must be an object")
    name = _text(value, "customer.name", max_length=MAX_NAME_LENGTH)
    email, phone = value.get("email"), value.get("phone_number")
    if email is not None and not is_valid_email(email):
        raise SchemaError("customer.email: is not a valid e-mail address")
    if phone is not None and not (isinstance(phone, str) and E164_PATTERN.fullmatch(phone)):
        raise SchemaError("customer.phone_number: must be an E.164 number like +15555550100")
    return ShipmentCustomer(name=name, email=email, phone_number=phone)


def _channels(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise SchemaError("channels: must be a list")
    channels: list[str] = []
    for index, channel in enumerate(value):
        if channel not in SHIPMENT_CHANNELS:
            raise SchemaError(f"channels[{index}]: must be one of {', '.join(SHIPMENT_CHANNELS)}")
        if channel in channels:
            raise SchemaError(f"channels[{index}]: names a channel twice")
        channels.append(channel)
    return tuple(channels)


def parse_shipment_updated(message: Mapping[str, Any]) -> ShipmentUpdate:
    """Validate a ``shipment.updated`` v1 message and return it as a :class:`ShipmentUpdate`."""
    if not isinstance(message, Mapping):
        raise SchemaError("message: must be a JSON object")
    schema_version = _schema_version(_require(message, "schema_version"))
    if _require(message, "event_type") != SHIPMENT_UPDATED_EVENT_TYPE:
        raise SchemaError(f"event_type: must be {SHIPMENT_UPDATED_EVENT_TYPE!r}")
    order_id = _require(message, "order_id")
    if not isinstance(order_id, str) or not ORDER_ID_PATTERN.fullmatch(order_id):
        raise SchemaError(f"order_id: must match {ORDER_ID_PATTERN.pattern}")
    status = _require(message, "status")
    if status not in SHIPMENT_STATUSES:
        raise SchemaError(f"status: must be one of {', '.join(SHIPMENT_STATUSES)}")
    occurred_at = _occurred_at(_require(message, "occurred_at"))
    carrier = _text(message, "carrier", max_length=MAX_CARRIER_LENGTH)
    tracking_url = _tracking_url(_require(message, "tracking_url"))
    partner = message.get("partner")
    if partner is not None and not (isinstance(partner, str) and PARTNER_ID_PATTERN.fullmatch(partner)):
        raise SchemaError(f"partner: must match {PARTNER_ID_PATTERN.pattern}")
    customer = _customer(_require(message, "customer"))
    channels = _channels(_require(message, "channels"))
    if "email" in channels and customer.email is None:
        raise SchemaError("customer.email: is required for the email channel")
    if "sms" in channels and customer.phone_number is None:
        raise SchemaError("customer.phone_number: is required for the sms channel")
    return ShipmentUpdate(
        schema_version=schema_version,
        order_id=order_id,
        status=status,
        occurred_at=occurred_at,
        carrier=carrier,
        tracking_url=tracking_url,
        partner=partner,
        customer=customer,
        channels=channels,
    )


def parse_record_body(body: str) -> ShipmentUpdate:
    """An SQS record body (the event raw or in an SNS envelope); a :class:`PermanentError` if invalid."""
    return parse_shipment_updated(unwrap_message(body).message)
