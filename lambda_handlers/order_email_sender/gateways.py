"""AWS access of the order e-mail sender, behind small protocols (clients are created lazily)."""

from __future__ import annotations

from typing import Any, Protocol

from botocore.exceptions import ClientError

from lambda_handlers.common.addresses import normalize_address
from lambda_handlers.common.aws import LazyClient
from lambda_handlers.common.errors import PermanentError, as_transient, client_error_code, is_transient
from lambda_handlers.order_email_sender.logic import SendEmailRequest

# SESv2 SendEmail errors that concern this particular message: retrying cannot help.
PERMANENT_SEND_ERROR_CODES = frozenset({"MessageRejected"})


class EmailRejectedError(PermanentError):
    """SES refused this message (e.g. it contains a virus or the recipient is not allowed)."""


class SuppressionList(Protocol):
    def is_suppressed(self, address: str) -> bool: ...


class EmailGateway(Protocol):
    def send(self, request: SendEmailRequest) -> str:
        """Send the e-mail and return the SES message id."""
        ...


class DynamoDbSuppressionList:
    """Reads the suppression table: partition key ``address`` (S, lower-cased); an item = suppressed."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = LazyClient("dynamodb", client)

    @property
    def client(self) -> Any:
        """The boto3 client (created on first access)."""
        return self._dynamodb.client

    def is_suppressed(self, address: str) -> bool:
        try:
            response = self._dynamodb.client.get_item(
                TableName=self.table_name,
                Key={"address": {"S": normalize_address(address)}},
                ProjectionExpression="address",
                ConsistentRead=True,
            )
        except ClientError as exc:
            if is_transient(exc):
                raise as_transient(exc, "suppression lookup") from exc
            raise
        return "Item" in response


class SesV2EmailGateway:
    """Sends through SESv2 ``SendEmail``."""

    def __init__(self, client: Any | None = None) -> None:
        self._sesv2 = LazyClient("sesv2", client)

    @property
    def client(self) -> Any:
        """The boto3 client (created on first access)."""
        return self._sesv2.client

    def send(self, request: SendEmailRequest) -> str:
        try:
            response = self._sesv2.client.send_email(**request.to_sesv2_params())
        except ClientError as exc:
            code = client_error_code(exc)
            if code in PERMANENT_SEND_ERROR_CODES:
                # SES's message may quote the recipient address: only the code is kept.
                raise EmailRejectedError(f"SES rejected the message ({code})") from exc
            if is_transient(exc):
                raise as_transient(exc, "SES SendEmail") from exc
            raise
        return str(response["MessageId"])
