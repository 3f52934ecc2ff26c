"""AWS access of the bounce processor, behind small protocols (clients are created lazily)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, ClassVar, Protocol

from botocore.exceptions import ClientError

from lambda_handlers.bounce_processor.logic import Suppression, SuppressionReason
from lambda_handlers.common.aws import make_client
from lambda_handlers.common.errors import client_error_code


class SuppressionStore(Protocol):
    def suppress(self, suppression: Suppression, *, suppressed_at: datetime) -> bool:
        """Write the suppression; ``False`` if the address was already suppressed."""
        ...


class SoftBounceStore(Protocol):
    def record(self, address: str, element: str, *, expires_at: int) -> tuple[str, ...]:
        """Add ``element`` to the address's set and return all elements now stored."""
        ...

    def forget(self, address: str, elements: tuple[str, ...]) -> None: ...


class AccountSuppressionList(Protocol):
    def put(self, address: str, reason: SuppressionReason) -> bool: ...


class AlertPublisher(Protocol):
    def publish(self, *, subject: str, body: str) -> None: ...


class _Gateway:
    service_name: ClassVar[str]

    @cached_property
    def client(self) -> Any:
        return make_client(self.service_name)


@dataclass
class DynamoDbSuppressionStore(_Gateway):
    """The suppression table: partition key ``address`` (S, lower-cased); attributes ``reason``,
    ``suppressed_at``, ``ses_message_id``, ``detail`` (map). Conditional put = idempotent."""

    service_name = "dynamodb"
    table_name: str

    def suppress(self, suppression: Suppression, *, suppressed_at: datetime) -> bool:
        item = {
            "address": {"S": suppression.address},
            "reason": {"S": suppression.reason.value},
            "suppressed_at": {"S": suppressed_at.astimezone(UTC).isoformat(timespec="seconds")},
            "ses_message_id": {"S": suppression.ses_message_id or "unknown"},
            "detail": {"M": {key: {"S": value} for key, value in suppression.detail_map().items()}},
        }
        try:
            self.client.put_item(
                TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(address)"
            )
        except ClientError as exc:
            if client_error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True


@dataclass
class DynamoDbSoftBounceStore(_Gateway):
    """The soft-bounce table: partition key ``address`` (S), ``bounces`` (SS of
    ``"<iso-timestamp>|<ses message id>"``), TTL attribute ``expires_at`` (N, epoch seconds)."""

    service_name = "dynamodb"
    table_name: str

    def record(self, address: str, element: str, *, expires_at: int) -> tuple[str, ...]:
        response = self.client.update_item(
            TableName=self.table_name,
            Key={"address": {"S": address}},
            UpdateExpression="ADD bounces :bounce SET expires_at = :expires_at",
            ExpressionAttributeValues={":bounce": {"SS": [element]}, ":expires_at": {"N": str(expires_at)}},
            ReturnValues="ALL_NEW",
        )
        return tuple(response.get("Attributes", {}).get("bounces", {}).get("SS", ()))

    def forget(self, address: str, elements: tuple[str, ...]) -> None:
        if elements:
            self.client.update_item(
                TableName=self.table_name,
                Key={"address": {"S": address}},
                UpdateExpression="DELETE bounces :stale",
                ExpressionAttributeValues={":stale": {"SS": list(elements)}},
            )


class SesAccountSuppressionList(_Gateway):
    """SESv2 ``PutSuppressedDestination`` (the account-level suppression list); idempotent in SES."""

    service_name = "sesv2"

    def put(self, address: str, reason: SuppressionReason) -> bool:
        try:
            self.client.put_suppressed_destination(EmailAddress=address, Reason=reason.value)
        except ClientError as exc:
            if client_error_code(exc) == "BadRequestException":
                # SES refuses this address (e.g. malformed): the suppression table entry still protects it.
                return False
            raise
        return True


@dataclass
class SnsAlertPublisher(_Gateway):
    service_name = "sns"
    topic_arn: str

    def publish(self, *, subject: str, body: str) -> None:
        self.client.publish(TopicArn=self.topic_arn, Subject=subject, Message=body)
