"""AWS access of the bulk e-mail sender (clients are created on first use).

moto 5.2 has neither ``SendBulkEmail`` nor templated ``SendEmail``: the two senders share one small
interface (:class:`CampaignSender`) so the service is tested with a fake there, the rest against moto.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import Any, Protocol

from lambda_handlers.bulk_email_sender.logic import (
    REQUEST_REJECTED_STATUS,
    UNCERTAIN_STATUS,
    CampaignPage,
    CampaignSettings,
    EntryResult,
    bulk_request,
    list_managed_request,
)
from lambda_handlers.common.addresses import normalize_address
from lambda_handlers.common.aws import make_client
from lambda_handlers.common.errors import PermanentError, TransientError, client_error_code, is_transient
from lambda_handlers.contracts import OPT_IN, OPT_OUT
from lambda_handlers.order_email_sender.gateways import proves_not_accepted

SEND_RESERVE_SECONDS = 1.0
"""Kept free of a send's read timeout: recording its results must still fit after it."""


class UnknownTopicError(PermanentError):
    """The request names a topic the contact list does not have."""


# --- Contacts -----------------------------------------------------------------------------------------
class SesContactList:
    """The contact list's topics (``GetContactList``) and its contacts, a page at a time (``ListContacts``
    filtered to the topic's ``OPT_IN`` subscribers, the topic default applying where a contact has no
    preference)."""

    def __init__(self, contact_list_name: str) -> None:
        self.name = contact_list_name

    @cached_property
    def client(self) -> Any:
        return make_client("sesv2")

    def topic_default(self, topic: str) -> str:
        """``OPT_IN`` / ``OPT_OUT``: the topic's ``DefaultSubscriptionStatus``; :class:`UnknownTopicError`
        if the list has no such topic."""
        for item in self.client.get_contact_list(ContactListName=self.name).get("Topics", []):
            if item.get("TopicName") == topic:
                status = item.get("DefaultSubscriptionStatus")
                return status if status in (OPT_IN, OPT_OUT) else OPT_OUT
        raise UnknownTopicError(f"topic: not a topic of the contact list {self.name}")

    def page(self, topic: str, token: str | None, page_size: int) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {
            "ContactListName": self.name,
            "Filter": {
                "FilteredStatus": OPT_IN,
                "TopicFilter": {"TopicName": topic, "UseDefaultIfPreferenceUnavailable": True},
            },
            "PageSize": page_size,
        }
        if token is not None:
            params["NextToken"] = token
        response = self.client.list_contacts(**params)
        return list(response.get("Contacts", [])), response.get("NextToken") or None


# --- Campaign table: one item per campaign and address ------------------------------------------------
class Claim(Enum):
    CLAIMED = "claimed"
    """This invocation may send to the address now."""
    DONE = "done"
    """An earlier delivery sent to it (or recorded a permanent failure): never again."""
    BUSY = "busy"
    """Another invocation holds a live claim: the page must come back later."""


STATUS_SENDING = "sending"
STATUS_SENT = "sent"
STATUS_FAILED = "failed"


@dataclass(kw_only=True)
class DynamoDbCampaignTable:
    """Items ``{id: "<campaign id>#<address>", status, claimed_until | ses_message_id | error, expires_at}``.

    :meth:`claim` is a conditional write (new item, or a ``sending`` claim that has expired), so two
    deliveries of one page never both send to an address; :meth:`record` makes the result final.
    Page markers ``<campaign id>#page#<n>`` say that page ``n`` was queued.
    """

    table_name: str
    ttl_days: int
    clock: Callable[[], float] = time.time

    @cached_property
    def client(self) -> Any:
        return make_client("dynamodb")

    @staticmethod
    def key(campaign_id: str, address: str) -> dict[str, Any]:
        return {"id": {"S": f"{campaign_id}#{normalize_address(address)}"}}

    def _expires_at(self) -> dict[str, str]:
        return {"N": str(int(self.clock()) + self.ttl_days * 86_400)}

    def claim(self, campaign_id: str, address: str, *, seconds: float) -> Claim:
        now = self.clock()
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    **self.key(campaign_id, address),
                    "status": {"S": STATUS_SENDING},
                    "claimed_until": {"N": str(int(now + seconds) + 1)},
                    "expires_at": self._expires_at(),
                },
                ConditionExpression="attribute_not_exists(id) OR (#s = :sending AND claimed_until < :now)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":sending": {"S": STATUS_SENDING}, ":now": {"N": str(int(now))}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if client_error_code(exc) != "ConditionalCheckFailedException":
                raise
            response: Any = getattr(exc, "response", {})
            status = (response.get("Item") or {}).get("status", {}).get("S")
            return Claim.BUSY if status in (None, STATUS_SENDING) else Claim.DONE
        return Claim.CLAIMED

    def record(self, campaign_id: str, result: EntryResult, *, sent: bool) -> None:
        item = {
            **self.key(campaign_id, result.address),
            "status": {"S": STATUS_SENT if sent else STATUS_FAILED},
            "ses_status": {"S": result.status},
            "expires_at": self._expires_at(),
        }
        if result.message_id:
            item["ses_message_id"] = {"S": result.message_id}
        self.client.put_item(TableName=self.table_name, Item=item)

    def release(self, campaign_id: str, address: str) -> None:
        """Give up a claim (SES did not take the message): the next delivery may send at once."""
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=self.key(campaign_id, address),
                ConditionExpression="#s = :sending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":sending": {"S": STATUS_SENDING}},
            )
        except Exception as exc:
            if client_error_code(exc) != "ConditionalCheckFailedException":
                raise

    def _page_key(self, campaign_id: str, page_number: int) -> dict[str, Any]:
        return {"id": {"S": f"{campaign_id}#page#{page_number}"}}

    def page_queued(self, campaign_id: str, page_number: int) -> bool:
        response = self.client.get_item(
            TableName=self.table_name, Key=self._page_key(campaign_id, page_number), ConsistentRead=True
        )
        return "Item" in response

    def mark_page_queued(self, campaign_id: str, page_number: int) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item={**self._page_key(campaign_id, page_number), "expires_at": self._expires_at()},
        )


# --- The campaign queue (next pages) ------------------------------------------------------------------
class SqsPageQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    @cached_property
    def client(self) -> Any:
        return make_client("sqs")

    def enqueue(self, page: CampaignPage) -> None:
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(page.to_message()))


# --- Sending ------------------------------------------------------------------------------------------
class CampaignSender(Protocol):
    def send(self, page: CampaignPage, addresses: Sequence[str]) -> list[EntryResult]:
        """One result per address, in order; raises only for errors that are not about the send."""
        ...


_ERROR_STATUSES = {
    "MessageRejected": "MESSAGE_REJECTED",
    "MailFromDomainNotVerifiedException": "MAIL_FROM_DOMAIN_NOT_VERIFIED",
    "AccountSuspendedException": "ACCOUNT_SUSPENDED",
    "SendingPausedException": "ACCOUNT_SENDING_PAUSED",
    "NotFoundException": "TEMPLATE_NOT_FOUND",
}


def status_of_error(exc: BaseException, *, one_destination: bool) -> str | None:
    """The ``BulkEmailStatus``-like status of a failed send call, or ``None`` to let ``exc`` propagate.

    Throttling that proves SES took nothing is ``TRANSIENT_FAILURE`` (released, retried); a timeout or a
    5xx is :data:`UNCERTAIN_STATUS` (SES may have taken it); ``BadRequestException`` is the destination's
    ``INVALID_PARAMETER`` for a one-address send, else the whole request's (:data:`REQUEST_REJECTED_STATUS`).
    """
    code = client_error_code(exc)
    if proves_not_accepted(exc):
        return "TRANSIENT_FAILURE"
    if code in _ERROR_STATUSES:
        return _ERROR_STATUSES[code]
    if code == "BadRequestException":
        return "INVALID_PARAMETER" if one_destination else REQUEST_REJECTED_STATUS
    if isinstance(exc, TransientError) or is_transient(exc):
        return UNCERTAIN_STATUS
    return None


def _client() -> Any:
    # One HTTP attempt per call: a send that may have reached SES is never repeated by botocore.
    return make_client("sesv2", max_attempts=1, reserve_seconds=SEND_RESERVE_SECONDS)


class SesV2BulkSender:
    """``SendBulkEmail``: up to 50 destinations a call, one ``BulkEmailEntryResults`` entry each."""

    def __init__(self, settings: CampaignSettings) -> None:
        self.settings = settings

    @cached_property
    def client(self) -> Any:
        return _client()

    def send(self, page: CampaignPage, addresses: Sequence[str]) -> list[EntryResult]:
        try:
            response = self.client.send_bulk_email(**bulk_request(self.settings, page, addresses))
        except Exception as exc:
            status = status_of_error(exc, one_destination=False)
            if status is None:
                raise
            return [EntryResult(address, status) for address in addresses]
        entries = list(response.get("BulkEmailEntryResults", []))
        results: list[EntryResult] = []
        for index, address in enumerate(addresses):
            # SES answers in request order; a missing entry proves nothing about that destination.
            entry = entries[index] if index < len(entries) else {}
            results.append(
                EntryResult(address, str(entry.get("Status") or UNCERTAIN_STATUS), entry.get("MessageId"))
            )
        return results


class SesV2ListManagedSender:
    """``SendEmail`` per destination with ``ListManagementOptions`` (SES's one-click unsubscribe)."""

    def __init__(self, settings: CampaignSettings) -> None:
        self.settings = settings

    @cached_property
    def client(self) -> Any:
        return _client()

    def send(self, page: CampaignPage, addresses: Sequence[str]) -> list[EntryResult]:
        results: list[EntryResult] = []
        for address in addresses:
            try:
                response = self.client.send_email(**list_managed_request(self.settings, page, address))
            except Exception as exc:
                status = status_of_error(exc, one_destination=True)
                if status is None:
                    if not results:
                        raise
                    # Keep what was sent: the rest stays claimed (uncertain) until its claim expires.
                    results.extend(EntryResult(a, UNCERTAIN_STATUS) for a in addresses[len(results) :])
                    return results
                results.append(EntryResult(address, status))
            else:
                results.append(EntryResult(address, "SUCCESS", str(response["MessageId"])))
        return results
