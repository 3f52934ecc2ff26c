"""AWS access of the order writer, behind a small protocol (the client is created lazily)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from lambda_handlers.common.aws import make_client
from lambda_handlers.common.errors import client_error_code


@dataclass(frozen=True)
class PutResult:
    created: bool
    stored_fingerprint: str | None = None
    """``content_sha256`` of the item that already existed (when ``created`` is false)."""


class OrderStore(Protocol):
    def put_if_absent(self, item: Mapping[str, Any]) -> PutResult: ...


class DynamoDbOrderStore:
    """Conditional ``PutItem`` (``attribute_not_exists(order_id)``) on the orders table."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name
        self._serializer = TypeSerializer()

    @cached_property
    def client(self) -> Any:
        return make_client("dynamodb")

    def put_if_absent(self, item: Mapping[str, Any]) -> PutResult:
        serialized = {key: self._serializer.serialize(value) for key, value in item.items()}
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=serialized,
                ConditionExpression="attribute_not_exists(order_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if client_error_code(exc) == "ConditionalCheckFailedException":
                response: Any = exc.response
                existing: dict[str, Any] = response.get("Item") or {}
                fingerprint = existing.get("content_sha256", {}).get("S")
                return PutResult(created=False, stored_fingerprint=fingerprint if fingerprint else None)
            raise
        return PutResult(created=True)
