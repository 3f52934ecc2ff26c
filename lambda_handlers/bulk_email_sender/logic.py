"""Pure decisions of the bulk e-mail sender: the campaign request, who is subscribed, the SES requests, what
each per-destination status means, and the send-rate token bucket.

The ``campaign.send`` request, schema v1 (the body of an SQS message, raw or in an SNS envelope)::

    {
      "event_type": "campaign.send",
      "schema_version": "1.0",                # "1.<minor>"; other majors are rejected
      "campaign_id": "spring-sale-2025",      # 1-64 of A-Z a-z 0-9 _ - (an SES tag value)
      "template_name": "spring-sale",         # the SES template sent
      "topic": "newsletter",                  # a topic of the sender's contact list
      "template_data": {"headline": "..."},   # optional: the TemplateData of every message
      "page_number": 3, "page_token": "..."   # only in the next-page messages the sender queues itself
    }
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from typing import Any

from lambda_handlers.common.addresses import normalize_address
from lambda_handlers.common.envelope import unwrap_message
from lambda_handlers.common.errors import SchemaError, UnsupportedSchemaVersionError
from lambda_handlers.contracts import (
    CAMPAIGN_ID_PATTERN,
    CAMPAIGN_ID_TAG,
    CAMPAIGN_SCHEMA_MAJOR_VERSION,
    CAMPAIGN_SEND_EVENT_TYPE,
    CAMPAIGN_TAG_VALUE,
    EVENT_TYPE_TAG,
    MAX_BULK_DESTINATIONS,
    OPT_IN,
    SES_NAME_PATTERN,
    is_valid_email,
)

_SCHEMA_VERSION = re.compile(r"^(\d+)\.\d+(?:\.\d+)?$")
MAX_TEMPLATE_DATA_BYTES = 30_000
"""A generous bound on the serialized ``template_data`` (SES limits the whole request, about 10 MB)."""
MAX_PAGE_TOKEN_LENGTH = 4096


# --- The request --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CampaignPage:
    """One page of a campaign: the request itself is page 0 (no token)."""

    campaign_id: str
    template_name: str
    topic: str
    template_data: str
    """The JSON object sent as ``TemplateData`` (compact, keys sorted)."""
    page_number: int = 0
    page_token: str | None = None

    def next_page(self, token: str) -> CampaignPage:
        return replace(self, page_number=self.page_number + 1, page_token=token)

    def to_message(self) -> dict[str, Any]:
        """The body of this page's SQS message (parsed back by :func:`parse_campaign_page`)."""
        message: dict[str, Any] = {
            "event_type": CAMPAIGN_SEND_EVENT_TYPE,
            "schema_version": f"{CAMPAIGN_SCHEMA_MAJOR_VERSION}.0",
            "campaign_id": self.campaign_id,
            "template_name": self.template_name,
            "topic": self.topic,
            "template_data": json.loads(self.template_data),
            "page_number": self.page_number,
        }
        if self.page_token is not None:
            message["page_token"] = self.page_token
        return message


def _name(message: Mapping[str, Any], field: str, pattern: re.Pattern[str]) -> str:
    value = message.get(field)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise SchemaError(f"{field}: required, 1-64 characters A-Z a-z 0-9 _ -")
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):  # the envelope parses JSON fractions as Decimal
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(type(value).__name__)


def parse_campaign_page(message: Mapping[str, Any]) -> CampaignPage:
    """A ``campaign.send`` request (or a next-page message); a :class:`SchemaError` names the bad field."""
    if message.get("event_type") != CAMPAIGN_SEND_EVENT_TYPE:
        raise SchemaError(f"event_type: must be {CAMPAIGN_SEND_EVENT_TYPE!r}")
    version = message.get("schema_version")
    match = _SCHEMA_VERSION.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        raise SchemaError('schema_version: must look like "<major>.<minor>", e.g. "1.0"')
    if int(match.group(1)) != CAMPAIGN_SCHEMA_MAJOR_VERSION:
        raise UnsupportedSchemaVersionError(
            f"schema_version: major version {match.group(1)} is not supported "
            f"(supported: {CAMPAIGN_SCHEMA_MAJOR_VERSION}.x)"
        )
    data = message.get("template_data", {})
    if not isinstance(data, Mapping):
        raise SchemaError("template_data: must be a JSON object")
    template_data = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_json_default)
    if len(template_data.encode()) > MAX_TEMPLATE_DATA_BYTES:
        raise SchemaError(f"template_data: larger than {MAX_TEMPLATE_DATA_BYTES} bytes")
    page_number = message.get("page_number", 0)
    if isinstance(page_number, bool) or not isinstance(page_number, int) or page_number < 0:
        raise SchemaError("page_number: must be a non-negative integer")
    token = message.get("page_token")
    if token is not None and (not isinstance(token, str) or not 0 < len(token) <= MAX_PAGE_TOKEN_LENGTH):
        raise SchemaError(f"page_token: must be a string of 1-{MAX_PAGE_TOKEN_LENGTH} characters")
    if (token is None) != (page_number == 0):
        raise SchemaError("page_token: required on every page after the first, and only there")
    return CampaignPage(
        campaign_id=_name(message, "campaign_id", CAMPAIGN_ID_PATTERN),
        template_name=_name(message, "template_name", SES_NAME_PATTERN),
        topic=_name(message, "topic", SES_NAME_PATTERN),
        template_data=template_data,
        page_number=page_number,
        page_token=token,
    )


def parse_record_body(body: str) -> CampaignPage:
    """The page of an SQS record body (raw or in an SNS envelope); any other input is a permanent error."""
    return parse_campaign_page(unwrap_message(body).message)


# --- Who receives it ----------------------------------------------------------------------------------
def is_subscribed(contact: Mapping[str, Any], topic: str, topic_default: str) -> bool:
    """Whether an SESv2 ``Contact`` receives mail of ``topic``: not ``UnsubscribeAll``, and its preference
    for the topic - or, without one, the topic's default (``topic_default``) - is ``OPT_IN``."""
    if contact.get("UnsubscribeAll") is True:
        return False
    for preference in contact.get("TopicPreferences") or ():
        if isinstance(preference, Mapping) and preference.get("TopicName") == topic:
            return preference.get("SubscriptionStatus") == OPT_IN
    return topic_default == OPT_IN


@dataclass(frozen=True)
class Recipients:
    """The addresses of one page to consider, in page order, and what was left out."""

    addresses: tuple[str, ...]
    opted_out: int = 0
    invalid: int = 0


def select_recipients(contacts: Sequence[Mapping[str, Any]], topic: str, topic_default: str) -> Recipients:
    """Subscribed contacts with a valid address, each address once (case-insensitively)."""
    seen: set[str] = set()
    addresses: list[str] = []
    opted_out = invalid = 0
    for contact in contacts:
        address = contact.get("EmailAddress")
        if not isinstance(address, str) or not is_valid_email(address.strip()):
            invalid += 1
            continue
        if not is_subscribed(contact, topic, topic_default):
            opted_out += 1
            continue
        key = normalize_address(address)
        if key not in seen:
            seen.add(key)
            addresses.append(address.strip())
    return Recipients(addresses=tuple(addresses), opted_out=opted_out, invalid=invalid)


def chunks(items: Sequence[str], size: int) -> Iterator[tuple[str, ...]]:
    """``items`` in consecutive chunks of at most ``size`` (1-50: a ``SendBulkEmail`` call)."""
    size = max(1, min(size, MAX_BULK_DESTINATIONS))
    for start in range(0, len(items), size):
        yield tuple(items[start : start + size])


# --- The SES requests ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CampaignSettings:
    from_address: str
    configuration_set_name: str
    contact_list_name: str


def _tags(page: CampaignPage) -> list[dict[str, str]]:
    return [
        {"Name": CAMPAIGN_ID_TAG, "Value": page.campaign_id},
        {"Name": EVENT_TYPE_TAG, "Value": CAMPAIGN_TAG_VALUE},
    ]


def bulk_request(settings: CampaignSettings, page: CampaignPage, addresses: Sequence[str]) -> dict[str, Any]:
    """``sesv2.send_bulk_email`` keyword arguments: one entry (one message) per address, at most 50.

    SendBulkEmail has no ``ListManagementOptions`` (only SendEmail does), so SES adds no unsubscribe
    headers: the template must carry the application's own unsubscribe link.
    """
    if not 0 < len(addresses) <= MAX_BULK_DESTINATIONS:
        raise ValueError(f"a SendBulkEmail call takes 1-{MAX_BULK_DESTINATIONS} destinations")
    return {
        "FromEmailAddress": settings.from_address,
        "ConfigurationSetName": settings.configuration_set_name,
        "DefaultEmailTags": _tags(page),
        "DefaultContent": {
            "Template": {"TemplateName": page.template_name, "TemplateData": page.template_data}
        },
        "BulkEmailEntries": [{"Destination": {"ToAddresses": [address]}} for address in addresses],
    }


def list_managed_request(settings: CampaignSettings, page: CampaignPage, address: str) -> dict[str, Any]:
    """``sesv2.send_email`` keyword arguments for one address with ``ListManagementOptions``: SES adds the
    one-click ``List-Unsubscribe`` / ``List-Unsubscribe-Post`` headers (RFC 8058), fills
    ``{{amazonSESUnsubscribeUrl}}`` and records the opt-out on the contact's topic preference."""
    return {
        "FromEmailAddress": settings.from_address,
        "Destination": {"ToAddresses": [address]},
        "ConfigurationSetName": settings.configuration_set_name,
        "EmailTags": _tags(page),
        "Content": {"Template": {"TemplateName": page.template_name, "TemplateData": page.template_data}},
        "ListManagementOptions": {"ContactListName": settings.contact_list_name, "TopicName": page.topic},
    }


# --- What a per-destination status means --------------------------------------------------------------
class Outcome(Enum):
    SENT = "sent"
    """SES accepted the message: recorded, never sent again."""
    FAILED = "failed"
    """SES refused this destination for good: recorded as failed, never retried."""
    RETRY = "retry"
    """SES did not take the message this time: the claim is released and the page delivered again."""
    UNCERTAIN = "uncertain"
    """SES may have taken it (timeout, 5xx): the claim is kept until it expires, then the page retries."""
    ABORT = "abort"
    """Nothing of this campaign can be sent (missing template, unverified domain ...): dead-lettered."""


UNCERTAIN_STATUS = "UNCERTAIN"
REQUEST_REJECTED_STATUS = "REQUEST_REJECTED"
_OUTCOMES = {
    "SUCCESS": Outcome.SENT,
    "MESSAGE_REJECTED": Outcome.FAILED,
    "INVALID_PARAMETER": Outcome.FAILED,
    "ACCOUNT_THROTTLED": Outcome.RETRY,
    "ACCOUNT_DAILY_QUOTA_EXCEEDED": Outcome.RETRY,
    "ACCOUNT_SENDING_PAUSED": Outcome.RETRY,
    "CONFIGURATION_SET_SENDING_PAUSED": Outcome.RETRY,
    "TRANSIENT_FAILURE": Outcome.RETRY,
    "FAILED": Outcome.RETRY,
    "TEMPLATE_NOT_FOUND": Outcome.ABORT,
    "CONFIGURATION_SET_NOT_FOUND": Outcome.ABORT,
    "MAIL_FROM_DOMAIN_NOT_VERIFIED": Outcome.ABORT,
    "ACCOUNT_SUSPENDED": Outcome.ABORT,
    "INVALID_SENDING_POOL_NAME": Outcome.ABORT,
    REQUEST_REJECTED_STATUS: Outcome.ABORT,
}


def outcome_of(status: str) -> Outcome:
    """The :class:`Outcome` of an SESv2 ``BulkEmailStatus`` (or of :func:`status_of_error`'s status); an
    unknown status is :attr:`Outcome.UNCERTAIN`: never recorded, never released early."""
    return _OUTCOMES.get(status, Outcome.UNCERTAIN)


@dataclass(frozen=True)
class EntryResult:
    address: str
    status: str
    message_id: str | None = None

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.status)
