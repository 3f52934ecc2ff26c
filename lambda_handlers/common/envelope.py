"""Unwrapping SQS record bodies that were delivered by SNS.

An SNS -> SQS subscription delivers either

- with *raw message delivery*: the SQS body **is** the published message (here: a JSON object), or
- without it: the SNS envelope ``{"Type": "Notification", "MessageId": ..., "TopicArn": ...,
  "Message": "<the published message as a JSON string>", ...}``.

:func:`unwrap_message` accepts both and returns the published message as a ``dict``. A body with SNS's
keys (``Type: Notification``, or ``Message`` next to ``TopicArn`` / ``Type``) is an envelope and must be
a well-formed one: its errors are reported as envelope errors, never as errors of the message. JSON numbers with a
fraction are parsed as :class:`~decimal.Decimal` (never ``float``), ``NaN``/``Infinity`` are rejected.
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
    """The published message plus where it came from."""

    message: Mapping[str, Any]
    sns_envelope: bool
    sns_message_id: str | None = None
    topic_arn: str | None = None


def _loads_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidMessageError(f"{what} is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise InvalidMessageError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def _reject_constant(name: str) -> Any:
    # NaN / Infinity are not JSON; Python accepts them by default.
    raise ValueError(f"invalid JSON constant {name}")


def _looks_like_sns_envelope(value: Mapping[str, Any]) -> bool:
    """SNS's own keys at the top level: a raw order / SES event has none of them."""
    return value.get("Type") == "Notification" or (
        "Message" in value and ("TopicArn" in value or "Type" in value)
    )


def _unwrap_envelope(outer: Mapping[str, Any]) -> UnwrappedMessage:
    if outer.get("Type") != "Notification":
        raise EnvelopeError('SNS envelope: Type must be "Notification"')
    text = outer.get("Message")
    if not isinstance(text, str):
        raise EnvelopeError("SNS envelope: Message must be a string")
    try:
        inner = _loads_object(text, "SNS envelope: Message")
    except InvalidMessageError as exc:
        raise EnvelopeError(exc.reason) from None
    message_id = outer.get("MessageId")
    topic_arn = outer.get("TopicArn")
    return UnwrappedMessage(
        message=inner,
        sns_envelope=True,
        sns_message_id=message_id if isinstance(message_id, str) else None,
        topic_arn=topic_arn if isinstance(topic_arn, str) else None,
    )


def unwrap_message(body: object) -> UnwrappedMessage:
    """Parse an SQS record body into the published message (raw or inside an SNS envelope).

    Raises :class:`InvalidMessageError` (a permanent error) for anything that is not a JSON object, and
    its subclass :class:`EnvelopeError` (reason ``SNS envelope: ...``) for an SNS envelope that is
    malformed (``Type`` other than ``Notification``, ``Message`` missing, not a string, not a JSON object).
    """
    if not isinstance(body, str):
        raise InvalidMessageError(f"record body must be a string, got {type(body).__name__}")
    if not body.strip():
        raise InvalidMessageError("record body is empty")
    outer = _loads_object(body, "record body")
    if not _looks_like_sns_envelope(outer):
        return UnwrappedMessage(message=outer, sns_envelope=False)
    return _unwrap_envelope(outer)
