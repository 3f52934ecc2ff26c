"""Unwrapping SQS record bodies that were delivered by SNS.

An SNS -> SQS subscription delivers either

- with *raw message delivery*: the SQS body **is** the published message (here: a JSON object), or
- without it: the SNS envelope ``{"Type": "Notification", "MessageId": ..., "TopicArn": ...,
  "Message": "<the published message as a JSON string>", ...}``.

:func:`unwrap_message` accepts both and returns the published message as a ``dict``. JSON numbers with a
fraction are parsed as :class:`~decimal.Decimal` (never ``float``), ``NaN``/``Infinity`` are rejected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lambda_handlers.common.errors import InvalidMessageError


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


def _is_sns_envelope(value: Mapping[str, Any]) -> bool:
    return (
        value.get("Type") == "Notification" and isinstance(value.get("Message"), str) and "TopicArn" in value
    )


def unwrap_message(body: object) -> UnwrappedMessage:
    """Parse an SQS record body into the published message (raw or inside an SNS envelope).

    Raises :class:`InvalidMessageError` (a permanent error) for anything that is not a JSON object.
    """
    if not isinstance(body, str):
        raise InvalidMessageError(f"record body must be a string, got {type(body).__name__}")
    if not body.strip():
        raise InvalidMessageError("record body is empty")
    outer = _loads_object(body, "record body")
    if not _is_sns_envelope(outer):
        return UnwrappedMessage(message=outer, sns_envelope=False)
    inner = _loads_object(outer["Message"], "SNS Message")
    message_id = outer.get("MessageId")
    topic_arn = outer.get("TopicArn")
    return UnwrappedMessage(
        message=inner,
        sns_envelope=True,
        sns_message_id=message_id if isinstance(message_id, str) else None,
        topic_arn=topic_arn if isinstance(topic_arn, str) else None,
    )
