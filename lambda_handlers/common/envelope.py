"""Unwrapping SQS record bodies that were delivered by SNS.

An SNS -> SQS subscription delivers either the published message itself (*raw message delivery*) or
SNS's envelope ``{"Type": "Notification", "MessageId": ..., "TopicArn": ..., "Message": "<the published
message as a JSON string>", ...}``
(https://docs.aws.amazon.com/sns/latest/dg/sns-large-payload-raw-message-delivery.html).

A body with SNS's keys (``Type: Notification``, or ``Message`` next to ``TopicArn`` / ``Type``) is an
envelope and must be a well-formed one: its errors are :class:`EnvelopeError` (reason ``SNS envelope:
...``), never errors of the message. JSON numbers with a fraction are parsed as
:class:`~decimal.Decimal` (never ``float``), ``NaN``/``Infinity`` are rejected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lambda_handlers.common.errors import EnvelopeError, InvalidMessageError


@dataclass(frozen=True)
class UnwrappedMessage:
    message: Mapping[str, Any]
    sns_envelope: bool
    sns_message_id: str | None = None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")  # NaN / Infinity: not JSON, Python accepts them


def _loads_object(text: str, what: str, error: type[InvalidMessageError]) -> dict[str, Any]:
    try:
        value = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise error(f"{what} is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise error(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def unwrap_message(body: object) -> UnwrappedMessage:
    """The published message of an SQS record body (raw or inside an SNS envelope); raises
    :class:`InvalidMessageError` (permanent) for anything that does not hold a JSON object."""
    if not isinstance(body, str):
        raise InvalidMessageError(f"record body must be a string, got {type(body).__name__}")
    if not body.strip():
        raise InvalidMessageError("record body is empty")
    outer = _loads_object(body, "record body", InvalidMessageError)
    notification = outer.get("Type") == "Notification"
    if not notification and not ("Message" in outer and ("TopicArn" in outer or "Type" in outer)):
        return UnwrappedMessage(message=outer, sns_envelope=False)
    if not notification:
        raise EnvelopeError('SNS envelope: Type must be "Notification"')
    text, message_id = outer.get("Message"), outer.get("MessageId")
    if not isinstance(text, str):
        raise EnvelopeError("SNS envelope: Message must be a string")
    return UnwrappedMessage(
        message=_loads_object(text, "SNS envelope: Message", EnvelopeError),
        sns_envelope=True,
        sns_message_id=message_id if isinstance(message_id, str) else None,
    )
