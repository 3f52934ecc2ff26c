"""AWS access of the bounce processor, behind small protocols (clients are created lazily)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NoReturn, Protocol

from botocore.exceptions import ClientError

from lambda_handlers.bounce_processor.logic import Suppression, SuppressionReason
from lambda_handlers.common.aws import LazyClient
from lambda_handlers.common.errors import as_transient, client_error_code, is_transient


class SuppressionStore(Protocol):
    def suppress(self, suppression: Suppression, *, suppressed_at: datetime) -> bool:
        """Write the suppression; ``False`` if the address was already suppressed."""
        ...


class SoftBounceStore(Protocol):
    def record(self, address: str, element: str, *, expires_at: int) -> tuple[str, ...]:
        """Add ``element`` to the address's set and return all elements now stored."""
        ...

    def forget(self, address: str, elements: tuple[str, ...]) -> None:
        """Remove stale elements."""
        ...


class AccountSuppressionList(Protocol):
    def put(self, address: str, reason: SuppressionReason) -> bool: ...


class AlertPublisher(Protocol):
    def publish(self, *, subject: str, body: str) -> None: ...


def _reraise(exc: ClientError, action: str) -> NoReturn:
    if is_transient(exc):
        raise as_transient(exc, action) from exc
    raise exc


class DynamoDbSuppressionStore:
    """The suppression table: partition key ``address`` (S, lower-cased); attributes ``reason``,
    ``suppressed_at``, ``ses_message_id``, ``detail`` (map). Conditional put = idempotent."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = LazyClient("dynamodb", client)

    @property
    def client(self) -> Any:
        """The boto3 client (created on first access)."""
        return self._dynamodb.client

    def suppress(self, suppression: Suppression, *, suppressed_at: datetime) -> bool:
        item = {
            "address": {"S": suppression.address},
            "reason": {"S": suppression.reason.value},
            "suppressed_at": {"S": suppressed_at.astimezone(UTC).isoformat(timespec="seconds")},
            "ses_message_id": {"S": suppression.ses_message_id or "unknown"},
            "detail": {"M": {key: {"S": value} for key, value in suppression.detail_map().items()}},
        }
        try:
            self._dynamodb.client.put_item(
                TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(address)"
            )
        except ClientError as exc:
            if client_error_code(exc) == "ConditionalCheckFailedException":
                return False
            _reraise(exc, "suppression table PutItem")
        return True


class DynamoDbSoftBounceStore:
    """The soft-bounce table: partition key ``address`` (S), ``bounces`` (SS of
    ``"<iso-timestamp>|<ses message id>"``), TTL attribute ``expires_at`` (N, epoch seconds)."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = LazyClient("dynamodb", client)

    @property
    def client(self) -> Any:
        """The boto3 client (created on first access)."""
        return self._dynamodb.client

    def record(self, address: str, element: str, *, expires_at: int) -> tuple[str, ...]:
        try:
            response = self._dynamodb.client.update_item(
                TableName=self.table_name,
                Key={"address": {"S": address}},
                UpdateExpression="ADD bounces :bounce SET expires_at = :expires_at",
                ExpressionAttributeValues={
                    ":bounce": {"SS": [element]},
                    ":expires_at": {"N": str(expires_at)},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            _reraise(exc, "soft-bounce table UpdateItem")
        return tuple(response.get("Attributes", {}).get("bounces", {}).get("SS", ()))

    def forget(self, address: str, elements: tuple[str, ...]) -> None:
        if not elements:
            return
        try:
            self._dynamodb.client.update_item(
                TableName=self.table_name,
                Key={"address": {"S": address}},
                UpdateExpression="DELETE bounces :stale",
                ExpressionAttributeValues={":stale": {"SS": list(elements)}},
            )
        except ClientError as exc:
            _reraise(exc, "soft-bounce table cleanup")


class SesAccountSuppressionList:
    """SESv2 ``PutSuppressedDestination`` (the account-level suppression list); idempotent in SES."""

    def __init__(self, client: Any | None = None) -> None:
        self._sesv2 = LazyClient("sesv2", client)

    @property
    def client(self) -> Any:
        """The boto3 client (created on first access)."""
        return self._sesv2.client

    def put(self, address: str, reason: SuppressionReason) -> bool:
        try:
            self._sesv2.client.put_suppressed_destination(EmailAddress=address, Reason=reason.value)
        except ClientError as exc:
            if client_error_code(exc) == "BadRequestException":
                # SES refuses this address (e.g. malformed): the suppression table entry still protects it.
                return False
            _reraise(exc, "SES PutSuppressedDestination")
        return True


class SnsAlertPublisher:
    def __init__(self, topic_arn: str, client: Any | None = None) -> None:
        self.topic_arn = topic_arn
        self._sns = LazyClient("sns", client)

    @property
    def client(self) -> Any:
        """The boto3 client (created on first access)."""
        return self._sns.client

    def publish(self, *, subject: str, body: str) -> None:
        self._sns.client.publish(TopicArn=self.topic_arn, Subject=subject, Message=body)
