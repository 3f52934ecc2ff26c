"""Pure decisions of the shipment notifier: which update is new, what each channel sends (no I/O).

Ordering: ``shipped`` < ``out_for_delivery`` < ``delivered``. A progress status is new when it is later
than the latest one accepted for its order; ``exception`` is new once per order while the order is not
delivered, and changes no progress. Anything else is either a redelivery of an accepted update (its
channels not yet delivered are delivered) or *stale*: it arrived after a later status and is never sent.
The state store applies exactly these rules in one conditional write (:func:`is_new`, tested as plain
values, documents them).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lambda_handlers.contracts import (
    EVENT_TYPE_ATTRIBUTE,
    EVENT_TYPE_TAG,
    ORDER_ID_TAG,
    PARTNER_ATTRIBUTE,
    SHIPMENT_EXCEPTION_STATUS,
    SHIPMENT_PROGRESS,
    SHIPMENT_STATUS_ATTRIBUTE,
    SHIPMENT_STATUS_TAG,
    SHIPMENT_STATUS_TEXT,
    SHIPMENT_UPDATED_TAG_VALUE,
    SMS_MAX_GSM_CHARACTERS,
    TEMPLATE_HTML_KEY,
)
from lambda_handlers.order_email_sender.logic import EmailSettings, SendEmailRequest, TemplateContent
from lambda_handlers.shipment_notifier.models import ShipmentUpdate, status_rank

DELIVERED_RANK = status_rank(SHIPMENT_PROGRESS[-1])
MARKER_SEPARATOR = "#"

# GSM 03.38: the basic alphabet (one septet each) and the extension table (two septets each).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")


class Acceptance(StrEnum):
    NEW = "new"
    """First delivery of this (order, status): every chosen channel is delivered."""
    REPEAT = "repeat"
    """This (order, status) was accepted before: only channels not yet delivered are delivered."""
    STALE = "stale"
    """It arrived after a later status of its order (or after the delivery): nothing is sent."""


class ChannelOutcome(StrEnum):
    SENT = "sent"
    OPTED_OUT = "opted_out"
    SUPPRESSED = "suppressed"
    ALREADY_DONE = "already_done"


def is_new(status: str, *, stored_rank: int | None, accepted: frozenset[str]) -> bool:
    """Whether ``status`` is a new update for an order whose latest progress rank is ``stored_rank``
    (``None``: nothing accepted yet) and whose accepted statuses are ``accepted``."""
    if stored_rank is None:
        return True
    if status == SHIPMENT_EXCEPTION_STATUS:
        return stored_rank < DELIVERED_RANK and status not in accepted
    return stored_rank < status_rank(status)


def classify(status: str, *, stored_rank: int | None, accepted: frozenset[str]) -> Acceptance:
    """:attr:`Acceptance.NEW`, or, for an update the state refused, :attr:`~Acceptance.REPEAT` /
    :attr:`~Acceptance.STALE`."""
    if is_new(status, stored_rank=stored_rank, accepted=accepted):
        return Acceptance.NEW
    return Acceptance.REPEAT if status in accepted else Acceptance.STALE


def delivery_marker(status: str, channel: str) -> str:
    """``"shipped#sms"``: one channel of one update of an order, once delivered (or skipped)."""
    return f"{status}{MARKER_SEPARATOR}{channel}"


# --------------------------------------------------------------------------------------------- SMS
def gsm_length(text: str) -> int | None:
    """Septets ``text`` takes in the GSM 03.38 alphabet, ``None`` when it needs UCS-2 (70 per segment)."""
    length = 0
    for character in text:
        if character in _GSM_BASIC:
            length += 1
        elif character in _GSM_EXTENSION:
            length += 2
        else:
            return None
    return length


def fits_one_segment(text: str) -> bool:
    length = gsm_length(text)
    return length is not None and length <= SMS_MAX_GSM_CHARACTERS


def sms_text(update: ShipmentUpdate) -> str:
    """The short text with the tracking link: the most complete variant that fits one GSM segment
    (160 characters); when none does (a very long URL), the shortest one (SNS sends it in parts)."""
    status = SHIPMENT_STATUS_TEXT[update.status]
    variants = [
        f"Your order {update.order_id} {status} ({update.carrier}). Track it: {update.tracking_url}",
        f"Order {update.order_id} {status}. Track: {update.tracking_url}",
        f"Order {update.order_id} {status}: {update.tracking_url}",
    ]
    return next((text for text in variants if fits_one_segment(text)), variants[-1])


@dataclass(frozen=True)
class SmsRequest:
    """One SNS ``Publish`` to a phone number (Transactional: highest delivery reliability)."""

    phone_number: str
    text: str
    sender_id: str | None = None

    def to_sns_params(self) -> dict[str, Any]:
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self.sender_id}
        return {"PhoneNumber": self.phone_number, "Message": self.text, "MessageAttributes": attributes}


def build_sms_request(update: ShipmentUpdate, *, sender_id: str | None = None) -> SmsRequest:
    if update.customer.phone_number is None:  # the parser requires it for the sms channel
        raise ValueError("the update has no phone number")
    return SmsRequest(phone_number=update.customer.phone_number, text=sms_text(update), sender_id=sender_id)


def mask_phone(number: str) -> str:
    """``+4915112345678`` -> ``+49*******78`` for logs (country code and last two digits stay)."""
    if len(number) < 8:
        return "***"
    return number[:3] + "*" * (len(number) - 5) + number[-2:]


# ------------------------------------------------------------------------------------------ e-mail
def template_data(update: ShipmentUpdate) -> dict[str, Any]:
    """The ``TemplateData``: the keys :data:`~lambda_handlers.contracts.SHIPMENT_TEMPLATE_VALUE_KEYS`, and
    the same values HTML-escaped under ``html`` for the HTML part (SES does not escape template data)."""
    values = {
        "order_id": update.order_id,
        "customer_name": update.customer.name,
        "status": update.status,
        "status_text": SHIPMENT_STATUS_TEXT[update.status],
        "carrier": update.carrier,
        "tracking_url": update.tracking_url,
        "occurred_at": update.occurred_at.isoformat(),
    }
    return {**values, TEMPLATE_HTML_KEY: {k: html.escape(v, quote=True) for k, v in values.items()}}


def build_email_request(update: ShipmentUpdate, settings: EmailSettings) -> SendEmailRequest:
    """The update's SESv2 ``SendEmail`` with the template; its tags come back in every SES event."""
    if update.customer.email is None or settings.template_name is None:
        raise ValueError("an e-mail update needs the customer's address and a template")
    data = json.dumps(template_data(update), ensure_ascii=False, separators=(",", ":"))
    return SendEmailRequest(
        from_address=settings.from_address,
        to_address=update.customer.email,
        configuration_set_name=settings.configuration_set_name,
        tags=(
            (ORDER_ID_TAG, update.order_id),
            (EVENT_TYPE_TAG, SHIPMENT_UPDATED_TAG_VALUE),
            (SHIPMENT_STATUS_TAG, update.status),
        ),
        content=TemplateContent(template_name=settings.template_name, template_data=data),
    )


# ----------------------------------------------------------------------------------------- webhook
@dataclass(frozen=True)
class WebhookMessage:
    """One SNS ``Publish`` to the partner topic; its HTTPS subscriptions filter on the attributes."""

    body: str
    attributes: tuple[tuple[str, str], ...]

    def to_sns_params(self, topic_arn: str) -> dict[str, Any]:
        return {
            "TopicArn": topic_arn,
            "Message": self.body,
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": value} for name, value in self.attributes
            },
        }


def build_webhook_message(update: ShipmentUpdate) -> WebhookMessage:
    """The update for partners: the shipment facts only, never the customer's contact data."""
    body = {
        "schema_version": update.schema_version,
        "event_type": update.event_type,
        "order_id": update.order_id,
        "status": update.status,
        "occurred_at": update.occurred_at.isoformat(),
        "carrier": update.carrier,
        "tracking_url": update.tracking_url,
        "partner": update.partner,
    }
    attributes = [(EVENT_TYPE_ATTRIBUTE, update.event_type), (SHIPMENT_STATUS_ATTRIBUTE, update.status)]
    if update.partner is not None:
        attributes.append((PARTNER_ATTRIBUTE, update.partner))
    return WebhookMessage(
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")), attributes=tuple(attributes)
    )
