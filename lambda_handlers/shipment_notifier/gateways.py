"""AWS access of the shipment notifier, behind small protocols (clients are created on first use).

The e-mail side is the order sender's: :class:`DynamoDbSuppressionTable` (the suppression table contract)
and :class:`SesV2EmailGateway` (one HTTP attempt per ``SendEmail``, retrying only answers that prove SES
did not accept the message).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Protocol

from botocore.exceptions import ClientError

from lambda_handlers.common.aws import make_client
from lambda_handlers.common.errors import PermanentError, TransientError, client_error_code
from lambda_handlers.common.suppression import DynamoDbSuppressionTable
from lambda_handlers.order_email_sender.gateways import SesV2EmailGateway
from lambda_handlers.order_email_sender.logic import SendEmailRequest
from lambda_handlers.shipment_notifier.logic import (
    DELIVERED_RANK,
    Acceptance,
    SmsRequest,
    WebhookMessage,
    classify,
)
from lambda_handlers.shipment_notifier.models import ShipmentUpdate

__all__ = [
    "DynamoDbShipmentState",
    "DynamoDbSuppressionTable",
    "SesV2EmailGateway",
    "SnsPartnerWebhooks",
    "SnsSmsGateway",
]

STATE_RETENTION = timedelta(days=180)
"""A state item expires (TTL attribute ``expires_at``) this long after its order's last accepted update;
an update arriving later than that is treated as the order's first."""
_REJECTED_CODES = frozenset({"InvalidParameter", "InvalidParameterValue", "ParameterValueInvalid"})


class ChannelInProgressError(TransientError):
    """Another invocation holds the lease of this channel right now: try again after it."""

    def __init__(self) -> None:
        super().__init__("the channel is being delivered by another invocation", code="ChannelInProgress")


class SnsRejectedError(PermanentError):
    """SNS refused the message (e.g. an SMS to a number it cannot deliver to)."""


class ShipmentState(Protocol):
    def accept(self, update: ShipmentUpdate, *, now: datetime) -> Acceptance: ...

    def claim(self, order_id: str, marker: str, *, lease_until: int, now: int) -> bool:
        """Take the lease of one channel; ``False`` if it was already delivered (or skipped)."""
        ...

    def complete(self, order_id: str, marker: str) -> None: ...

    def release(self, order_id: str, marker: str) -> None: ...


class SmsSender(Protocol):
    def is_opted_out(self, phone_number: str) -> bool: ...

    def send(self, request: SmsRequest) -> str: ...


class WebhookPublisher(Protocol):
    def publish(self, message: WebhookMessage) -> str: ...


class SuppressionList(Protocol):
    def is_suppressed(self, address: str) -> bool: ...


class EmailSender(Protocol):
    def send(self, request: SendEmailRequest) -> str: ...


def _lease_name(marker: str) -> str:
    return "lease_" + marker.replace("#", "_")


def _failed_condition_item(exc: ClientError) -> Mapping[str, Any] | None:
    """The item returned by ``ReturnValuesOnConditionCheckFailure=ALL_OLD``, or ``None`` if this is
    another error."""
    if client_error_code(exc) != "ConditionalCheckFailedException":
        return None
    item: Any = exc.response.get("Item")
    return item if isinstance(item, Mapping) else {}


@dataclass
class DynamoDbShipmentState:
    """The shipment-state table: partition key ``order_id`` (S). Attributes: ``progress_rank`` (N, 0-3),
    ``status`` (S, latest progress status), ``accepted`` (SS, statuses accepted), ``done`` (SS of
    ``<status>#<channel>`` delivered or skipped), ``lease_<status>_<channel>`` (N, epoch seconds: a
    delivery in progress until then), ``updated_at`` (S), ``expires_at`` (N, TTL)."""

    table_name: str

    @cached_property
    def client(self) -> Any:
        return make_client("dynamodb")

    def accept(self, update: ShipmentUpdate, *, now: datetime) -> Acceptance:
        """One conditional ``UpdateItem`` applying :func:`logic.is_new`; on a failed condition the
        stored item (``ALL_OLD``) tells a redelivery from a stale update."""
        names = {"#rank": "progress_rank", "#accepted": "accepted"}
        values: dict[str, Any] = {
            ":statuses": {"SS": [update.status]},
            ":now": {"S": now.astimezone(UTC).isoformat(timespec="seconds")},
            ":expires": {"N": str(int((now + STATE_RETENTION).timestamp()))},
        }
        if update.progress_rank:
            names["#status"] = "status"
            values[":rank"] = {"N": str(update.progress_rank)}
            values[":status"] = {"S": update.status}
            expression = "SET #rank = :rank, #status = :status, updated_at = :now, expires_at = :expires"
            condition = "attribute_not_exists(order_id) OR #rank < :rank"
        else:  # exception: once per order, never after the delivery, no progress
            values[":zero"] = {"N": "0"}
            values[":delivered"] = {"N": str(DELIVERED_RANK)}
            values[":status"] = {"S": update.status}
            expression = "SET #rank = if_not_exists(#rank, :zero), updated_at = :now, expires_at = :expires"
            condition = (
                "attribute_not_exists(order_id) OR (#rank < :delivered AND NOT contains(#accepted, :status))"
            )
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"order_id": {"S": update.order_id}},
                UpdateExpression=expression + " ADD #accepted :statuses",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            item = _failed_condition_item(exc)
            if item is None:
                raise
            rank = item.get("progress_rank", {}).get("N")
            accepted = frozenset(item.get("accepted", {}).get("SS", ()))
            outcome = classify(
                update.status, stored_rank=int(rank) if rank is not None else 0, accepted=accepted
            )
            if outcome is Acceptance.NEW:  # the state moved between the write and its answer
                raise TransientError("the shipment state changed concurrently", code="StateChanged") from None
            return outcome
        return Acceptance.NEW

    def claim(self, order_id: str, marker: str, *, lease_until: int, now: int) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"order_id": {"S": order_id}},
                UpdateExpression="SET #lease = :until",
                ConditionExpression="NOT contains(done, :marker) AND (attribute_not_exists(#lease) OR #lease < :now)",
                ExpressionAttributeNames={"#lease": _lease_name(marker)},
                ExpressionAttributeValues={
                    ":until": {"N": str(lease_until)},
                    ":now": {"N": str(now)},
                    ":marker": {"S": marker},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            item = _failed_condition_item(exc)
            if item is None:
                raise
            if marker in item.get("done", {}).get("SS", ()):
                return False
            raise ChannelInProgressError() from None
        return True

    def complete(self, order_id: str, marker: str) -> None:
        self.client.update_item(
            TableName=self.table_name,
            Key={"order_id": {"S": order_id}},
            UpdateExpression="ADD done :markers REMOVE #lease",
            ExpressionAttributeNames={"#lease": _lease_name(marker)},
            ExpressionAttributeValues={":markers": {"SS": [marker]}},
        )

    def release(self, order_id: str, marker: str) -> None:
        self.client.update_item(
            TableName=self.table_name,
            Key={"order_id": {"S": order_id}},
            UpdateExpression="REMOVE #lease",
            ExpressionAttributeNames={"#lease": _lease_name(marker)},
        )


class _SnsPublisher:
    """SNS clients: ``Publish`` makes one HTTP attempt (a repeated request may deliver twice; the record
    is retried instead, and the delivery markers decide), reads keep the standard retries."""

    @cached_property
    def publish_client(self) -> Any:
        return make_client("sns", max_attempts=1)

    def _publish(self, params: Mapping[str, Any], what: str) -> str:
        try:
            return str(self.publish_client.publish(**params)["MessageId"])
        except ClientError as exc:
            code = client_error_code(exc)
            if code in _REJECTED_CODES:  # SNS's message may quote the number: only the code is kept
                raise SnsRejectedError(f"SNS rejected the {what} ({code})") from exc
            raise


class SnsSmsGateway(_SnsPublisher):
    """SMS through SNS ``Publish`` with ``PhoneNumber``, after ``CheckIfPhoneNumberIsOptedOut``."""

    @cached_property
    def client(self) -> Any:
        return make_client("sns")

    def is_opted_out(self, phone_number: str) -> bool:
        response = self.client.check_if_phone_number_is_opted_out(phoneNumber=phone_number)
        return bool(response.get("isOptedOut"))

    def send(self, request: SmsRequest) -> str:
        return self._publish(request.to_sns_params(), "SMS")


@dataclass
class SnsPartnerWebhooks(_SnsPublisher):
    """Publishes to the partner topic (its HTTPS subscriptions are the partners' webhooks)."""

    topic_arn: str

    def publish(self, message: WebhookMessage) -> str:
        return self._publish(message.to_sns_params(self.topic_arn), "webhook message")
