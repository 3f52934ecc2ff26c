"""Parsing SES notifications into typed values.

Two formats arrive on the SES events topic and both are accepted:

- *identity notifications* (feedback notifications configured on the identity): the top-level key is
  ``notificationType`` with ``Bounce``, ``Complaint`` or ``Delivery`` (plus the one-off
  ``AmazonSnsSubscriptionSucceeded`` when the topic is attached);
- *event publishing* through a configuration set: the top-level key is ``eventType`` with ``Bounce``,
  ``Complaint``, ``Delivery``, ``Send``, ``Reject``, ``Open``, ``Click``, ``Rendering Failure``
  (with a space), ``DeliveryDelay`` or ``Subscription``.

Only the fields the decisions need are parsed; SES may add fields at any time and unknown ones are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from lambda_handlers.common.addresses import extract_address
from lambda_handlers.common.envelope import unwrap_message
from lambda_handlers.common.errors import SchemaError


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
    SNS_SUBSCRIPTION_SUCCEEDED = "AmazonSnsSubscriptionSucceeded"

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


@dataclass(frozen=True)
class Mail:
    message_id: str
    timestamp: datetime | None
    destination: tuple[str, ...]
    tags: Mapping[str, tuple[str, ...]]

    @property
    def order_id(self) -> str | None:
        values = self.tags.get("order_id")
        return values[0] if values else None


@dataclass(frozen=True)
class Bounce:
    bounce_type: str
    bounce_sub_type: str
    recipients: tuple[str, ...]
    timestamp: datetime
    feedback_id: str | None


@dataclass(frozen=True)
class Complaint:
    recipients: tuple[str, ...]
    feedback_type: str | None
    sub_type: str | None
    feedback_id: str | None


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


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SchemaError(f"{path}: must be an object")
    return value


def _optional_str(value: Any, max_length: int = 1000) -> str | None:
    return value[:max_length] if isinstance(value, str) and value else None


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _recipients(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise SchemaError(f"{path}: must be a list")
    addresses: list[str] = []
    for index, entry in enumerate(value):
        raw = entry.get("emailAddress") if isinstance(entry, Mapping) else None
        address = extract_address(raw) if isinstance(raw, str) else None
        if address is None:
            raise SchemaError(f"{path}[{index}].emailAddress: must be an e-mail address")
        addresses.append(address)
    return tuple(addresses)


def _mail(value: Any) -> Mail:
    mail = _object(value, "mail")
    message_id = mail.get("messageId")
    if not isinstance(message_id, str) or not message_id or len(message_id) > 200:
        raise SchemaError("mail.messageId: is required")
    destination_raw = mail.get("destination")
    destination = (
        tuple(d for d in destination_raw if isinstance(d, str)) if isinstance(destination_raw, list) else ()
    )
    tags_raw = mail.get("tags")
    tags: dict[str, tuple[str, ...]] = {}
    if isinstance(tags_raw, Mapping):
        for key, values in tags_raw.items():
            if isinstance(key, str) and isinstance(values, list):
                tags[key] = tuple(v for v in values if isinstance(v, str))
    return Mail(
        message_id=message_id, timestamp=_timestamp(mail.get("timestamp")), destination=destination, tags=tags
    )


def _bounce(value: Any, mail: Mail) -> Bounce:
    bounce = _object(value, "bounce")
    bounce_type = bounce.get("bounceType")
    if bounce_type not in BOUNCE_TYPES:
        raise SchemaError("bounce.bounceType: must be Permanent, Transient or Undetermined")
    timestamp = _timestamp(bounce.get("timestamp")) or mail.timestamp
    if timestamp is None:
        raise SchemaError("bounce.timestamp: is required (ISO-8601 with time zone)")
    return Bounce(
        bounce_type=bounce_type,
        bounce_sub_type=_optional_str(bounce.get("bounceSubType"), 100) or "Undetermined",
        recipients=_recipients(bounce.get("bouncedRecipients"), "bounce.bouncedRecipients"),
        timestamp=timestamp,
        feedback_id=_optional_str(bounce.get("feedbackId"), 200),
    )


def _complaint(value: Any) -> Complaint:
    complaint = _object(value, "complaint")
    return Complaint(
        recipients=_recipients(complaint.get("complainedRecipients"), "complaint.complainedRecipients"),
        feedback_type=_optional_str(complaint.get("complaintFeedbackType"), 100),
        sub_type=_optional_str(complaint.get("complaintSubType"), 100),
        feedback_id=_optional_str(complaint.get("feedbackId"), 200),
    )


def _event_type(message: Mapping[str, Any]) -> tuple[SesEventType, SourceFormat]:
    if "eventType" in message:
        source_format, allowed = SourceFormat.EVENT_PUBLISHING, EVENT_PUBLISHING_TYPES
    elif "notificationType" in message:
        source_format, allowed = SourceFormat.IDENTITY_NOTIFICATION, IDENTITY_NOTIFICATION_TYPES
    else:
        raise SchemaError("message: neither eventType nor notificationType is present (not an SES event)")
    raw = message[source_format.value]
    try:
        event_type = SesEventType(raw) if isinstance(raw, str) else None
    except ValueError:
        event_type = None
    if event_type is None or event_type not in allowed:
        shown = repr(raw)[:60]
        raise SchemaError(f"{source_format.value}: unknown SES event type {shown}")
    return event_type, source_format


def parse_ses_event(message: Mapping[str, Any]) -> SesEvent:
    """Parse one SES notification / event record; raises :class:`SchemaError` if it is not one."""
    if not isinstance(message, Mapping):
        raise SchemaError("message: must be a JSON object")
    event_type, source_format = _event_type(message)
    if event_type is SesEventType.SNS_SUBSCRIPTION_SUCCEEDED:
        return SesEvent(event_type=event_type, source_format=source_format, mail=None)
    mail = _mail(message.get("mail"))
    event = SesEvent(event_type=event_type, source_format=source_format, mail=mail)
    if event_type is SesEventType.BOUNCE:
        return replace(event, bounce=_bounce(message.get("bounce"), mail))
    if event_type is SesEventType.COMPLAINT:
        return replace(event, complaint=_complaint(message.get("complaint")))
    if event_type is SesEventType.REJECT:
        reject = message.get("reject")
        reason = _optional_str(reject.get("reason"), 500) if isinstance(reject, Mapping) else None
        return replace(event, reject=Reject(reason=reason))
    if event_type is SesEventType.RENDERING_FAILURE:
        failure = message.get("failure")
        failure = failure if isinstance(failure, Mapping) else {}
        return replace(
            event,
            rendering_failure=RenderingFailure(
                template_name=_optional_str(failure.get("templateName"), 200),
                error_message=_optional_str(failure.get("errorMessage"), 500),
            ),
        )
    if event_type is SesEventType.DELIVERY_DELAY:
        delay = message.get("deliveryDelay")
        delay = delay if isinstance(delay, Mapping) else {}
        return replace(
            event,
            delivery_delay=DeliveryDelay(
                delay_type=_optional_str(delay.get("delayType"), 100),
                recipients=_recipients(delay.get("delayedRecipients"), "deliveryDelay.delayedRecipients"),
            ),
        )
    return event


def parse_record_body(body: str) -> SesEvent:
    """SQS record body (raw SES JSON or the SNS envelope around it) -> :class:`SesEvent`."""
    return parse_ses_event(unwrap_message(body).message)
