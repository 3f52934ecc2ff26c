"""Parsing SES notifications into typed values.

Both formats SES publishes to the events topic are accepted: *identity notifications* (top-level
``notificationType``, https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html) and *event
publishing* through a configuration set (top-level ``eventType``,
https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html). Only the fields
the decisions need are parsed; SES may add fields at any time and unknown ones are ignored.

Parsing is total: any JSON value in any field yields a :class:`SesEvent` or a :class:`SchemaError` whose
reason names the field, never its value. Identifiers that reach logs (``mail.messageId``, the ``order_id``
tag) must match a strict pattern; recipients are validated one by one, so one invalid address does not
void the others (:attr:`SesEvent.invalid_recipients` names the skipped ones); an empty
``bouncedRecipients`` / ``complainedRecipients`` list is malformed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from lambda_handlers.common.addresses import extract_address
from lambda_handlers.common.envelope import unwrap_message
from lambda_handlers.common.errors import SchemaError
from lambda_handlers.contracts import ORDER_ID_PATTERN, is_valid_email


class SesEventType(StrEnum):
    BOUNCE = "Bounce"
    COMPLAINT = "Complaint"
    DELIVERY = "Delivery"
    SEND = "Send"
    REJECT = "Reject"
    OPEN = "Open"
    CLICK = "Click"
    RENDERING_FAILURE = "Rendering Failure"
    DELIVERY_DELAY = "DeliveryDelay"
    SUBSCRIPTION = "Subscription"
    SNS_SUBSCRIPTION_SUCCEEDED = "AmazonSnsSubscriptionSucceeded"  # identity notifications only

    @property
    def metric_name(self) -> str:
        """``SesEvent<Type>`` without spaces, e.g. ``SesEventRenderingFailure``."""
        return "SesEvent" + self.value.replace(" ", "")


class SourceFormat(StrEnum):
    IDENTITY_NOTIFICATION = "notificationType"
    EVENT_PUBLISHING = "eventType"


EVENT_PUBLISHING_TYPES = frozenset(SesEventType) - {SesEventType.SNS_SUBSCRIPTION_SUCCEEDED}
IDENTITY_NOTIFICATION_TYPES = frozenset(
    {
        SesEventType.BOUNCE,
        SesEventType.COMPLAINT,
        SesEventType.DELIVERY,
        SesEventType.SNS_SUBSCRIPTION_SUCCEEDED,
    }
)
BOUNCE_TYPES = frozenset({"Permanent", "Transient", "Undetermined"})
SES_MESSAGE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
"""SES message ids (``0100018f3a1b1a1a-e9aedb9a-...-000000``): logged, so never free text."""
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:/+-]{0,99}$")
"""SES vocabulary such as ``bounceSubType`` / ``complaintFeedbackType`` values (``MailboxFull``, ``abuse``)."""
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_EVENT_TYPES = {member.value: member for member in SesEventType}


@dataclass(frozen=True)
class Mail:
    message_id: str
    timestamp: datetime | None
    destination: tuple[str, ...]
    tags: Mapping[str, tuple[str, ...]]

    @property
    def order_id(self) -> str | None:
        """The ``order_id`` tag if it is a valid order id (it is logged), else ``None``."""
        values = self.tags.get("order_id")
        return values[0] if values and ORDER_ID_PATTERN.fullmatch(values[0]) else None


@dataclass(frozen=True)
class Bounce:
    bounce_type: str
    bounce_sub_type: str
    recipients: tuple[str, ...]
    timestamp: datetime
    feedback_id: str | None
    invalid_recipients: tuple[str, ...] = ()
    """Field paths (``bounce.bouncedRecipients[1].emailAddress``) of the entries that were skipped."""


@dataclass(frozen=True)
class Complaint:
    recipients: tuple[str, ...]
    feedback_type: str | None
    sub_type: str | None
    feedback_id: str | None
    invalid_recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reject:
    reason: str | None


@dataclass(frozen=True)
class RenderingFailure:
    template_name: str | None
    error_message: str | None


@dataclass(frozen=True)
class DeliveryDelay:
    delay_type: str | None
    recipients: tuple[str, ...]
    invalid_recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class SesEvent:
    event_type: SesEventType
    source_format: SourceFormat
    mail: Mail | None
    bounce: Bounce | None = None
    complaint: Complaint | None = None
    reject: Reject | None = None
    rendering_failure: RenderingFailure | None = None
    delivery_delay: DeliveryDelay | None = None

    @property
    def ses_message_id(self) -> str | None:
        return self.mail.message_id if self.mail else None

    @property
    def invalid_recipients(self) -> tuple[str, ...]:
        """Field paths of the recipient entries that were skipped as invalid (not an address)."""
        part = self.bounce or self.complaint or self.delivery_delay
        return part.invalid_recipients if part else ()


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SchemaError(f"{path}: must be an object")
    return value


def _part(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """An optional object (``reject``, ``failure``, ``deliveryDelay``, ``tags``): anything else is empty."""
    value = parent.get(key)
    return value if isinstance(value, Mapping) else {}


def _text(value: Any, max_length: int) -> str | None:
    """Free text (reject reason, template error) for the alert summary: lone surrogates replaced."""
    return _SURROGATES.sub("?", value[:max_length]) if isinstance(value, str) and value else None


def _token(value: Any) -> str | None:
    """An SES vocabulary word (sub type, feedback type); anything else is treated as absent."""
    return value if isinstance(value, str) and _TOKEN.fullmatch(value) else None


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO-8601 timestamp with a time zone, in UTC; ``None`` if absent, invalid or not convertible."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        # Year 9999 ahead of UTC / year 1 behind it cannot be represented in UTC (OverflowError).
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


def _recipients(
    part: Mapping[str, Any], path: str, *, required: bool
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The list at ``path`` (its last key, in ``part``): ``(valid addresses, field paths of invalid
    entries)``; a ``required`` list must hold a valid one."""
    value = part.get(path.rpartition(".")[2])
    if value is None and not required:
        return (), ()
    if not isinstance(value, list):
        raise SchemaError(f"{path}: must be a list")
    if required and not value:
        raise SchemaError(f"{path}: must not be empty")
    addresses: list[str] = []
    invalid: list[str] = []
    for index, entry in enumerate(value):
        raw = entry.get("emailAddress") if isinstance(entry, Mapping) else None
        address = extract_address(raw) if isinstance(raw, str) and len(raw) <= 1000 else None
        if address is not None and is_valid_email(address):
            addresses.append(address)
        else:
            invalid.append(f"{path}[{index}].emailAddress")
    if required and not addresses:
        shown = ", ".join(invalid[:3]) + (f" and {len(invalid) - 3} more" if len(invalid) > 3 else "")
        raise SchemaError(f"{path}: no entry has a valid e-mail address (invalid: {shown})")
    return tuple(addresses), tuple(invalid)


def _mail(value: Any) -> Mail:
    mail = _object(value, "mail")
    message_id = mail.get("messageId")
    if message_id is None:
        raise SchemaError("mail.messageId: is required")
    if not isinstance(message_id, str) or not SES_MESSAGE_ID_PATTERN.fullmatch(message_id):
        raise SchemaError(f"mail.messageId: must match {SES_MESSAGE_ID_PATTERN.pattern}")
    destination = mail.get("destination")
    destination = destination if isinstance(destination, list) else []
    return Mail(
        message_id=message_id,
        timestamp=parse_timestamp(mail.get("timestamp")),
        destination=tuple(d for d in destination if isinstance(d, str) and is_valid_email(d)),
        tags={
            key: tuple(v for v in values if isinstance(v, str))
            for key, values in _part(mail, "tags").items()
            if isinstance(key, str) and isinstance(values, list)
        },
    )


def _bounce(value: Any, mail: Mail) -> Bounce:
    bounce = _object(value, "bounce")
    bounce_type = bounce.get("bounceType")
    if not isinstance(bounce_type, str) or bounce_type not in BOUNCE_TYPES:
        raise SchemaError("bounce.bounceType: must be Permanent, Transient or Undetermined")
    timestamp = parse_timestamp(bounce.get("timestamp")) or mail.timestamp
    if timestamp is None:
        raise SchemaError("bounce.timestamp: is required (ISO-8601 with time zone)")
    recipients, invalid = _recipients(bounce, "bounce.bouncedRecipients", required=True)
    sub_type = _token(bounce.get("bounceSubType")) or "Undetermined"
    return Bounce(bounce_type, sub_type, recipients, timestamp, _token(bounce.get("feedbackId")), invalid)


def _event_type(message: Mapping[str, Any]) -> tuple[SesEventType, SourceFormat]:
    if "eventType" in message:
        source_format, allowed = SourceFormat.EVENT_PUBLISHING, EVENT_PUBLISHING_TYPES
    elif "notificationType" in message:
        source_format, allowed = SourceFormat.IDENTITY_NOTIFICATION, IDENTITY_NOTIFICATION_TYPES
    else:
        raise SchemaError("message: neither eventType nor notificationType is present (not an SES event)")
    raw = message[source_format.value]
    event_type = _EVENT_TYPES.get(raw) if isinstance(raw, str) else None
    if event_type is None:
        # Never the value itself: it is input text (it may be anything, an address included).
        raise SchemaError(f"{source_format.value}: unknown SES event type")
    if event_type not in allowed:
        raise SchemaError(f"{source_format.value}: SES does not send {event_type.value} in this format")
    return event_type, source_format


def parse_ses_event(message: Mapping[str, Any]) -> SesEvent:
    """Parse one SES notification / event record; raises :class:`SchemaError` if it is not one."""
    if not isinstance(message, Mapping):
        raise SchemaError("message: must be a JSON object")
    event_type, source_format = _event_type(message)
    if event_type is SesEventType.SNS_SUBSCRIPTION_SUCCEEDED:
        return SesEvent(event_type, source_format, mail=None)
    mail = _mail(message.get("mail"))
    event = SesEvent(event_type, source_format, mail)
    match event_type:
        case SesEventType.BOUNCE:
            return replace(event, bounce=_bounce(message.get("bounce"), mail))
        case SesEventType.COMPLAINT:
            complaint = _object(message.get("complaint"), "complaint")
            recipients, invalid = _recipients(complaint, "complaint.complainedRecipients", required=True)
            feedback_type, sub_type, feedback_id = (
                _token(complaint.get(key))
                for key in ("complaintFeedbackType", "complaintSubType", "feedbackId")
            )
            return replace(
                event, complaint=Complaint(recipients, feedback_type, sub_type, feedback_id, invalid)
            )
        case SesEventType.REJECT:
            return replace(event, reject=Reject(_text(_part(message, "reject").get("reason"), 500)))
        case SesEventType.RENDERING_FAILURE:
            failure = _part(message, "failure")
            return replace(
                event,
                rendering_failure=RenderingFailure(
                    _text(failure.get("templateName"), 200), _text(failure.get("errorMessage"), 500)
                ),
            )
        case SesEventType.DELIVERY_DELAY:
            delay = _part(message, "deliveryDelay")
            delayed, invalid = _recipients(delay, "deliveryDelay.delayedRecipients", required=False)
            return replace(
                event, delivery_delay=DeliveryDelay(_token(delay.get("delayType")), delayed, invalid)
            )
    return event


def parse_record_body(body: str) -> SesEvent:
    """SQS record body (raw SES JSON or the SNS envelope around it) -> :class:`SesEvent`."""
    return parse_ses_event(unwrap_message(body).message)
