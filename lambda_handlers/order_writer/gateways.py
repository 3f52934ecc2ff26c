"""AWS access of the order writer (the client is created on first use)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from lambda_handlers.common.aws import make_client
from lambda_handlers.common.errors import client_error_code
from lambda_handlers.common.transactions import put_all


@dataclass(frozen=True)
class PutResult:
    created: bool
    stored_fingerprint: str | None = None
    """``content_sha256`` of the item that already existed (when ``created`` is false)."""


class DynamoDbOrderStore:
    """Conditional ``PutItem`` (``attribute_not_exists(order_id)``) on the orders table; on a failed
    condition ``ALL_OLD`` returns the existing item
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html)."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name
        self._serializer = TypeSerializer()

    @cached_property
    def client(self) -> Any:
        return make_client("dynamodb")

    def put_if_absent(self, item: Mapping[str, Any]) -> PutResult:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={key: self._serializer.serialize(value) for key, value in item.items()},
                ConditionExpression="attribute_not_exists(order_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if client_error_code(exc) != "ConditionalCheckFailedException":
                raise
            existing: Any = exc.response.get("Item") or {}
            return PutResult(
                created=False, stored_fingerprint=existing.get("content_sha256", {}).get("S") or None
            )
        return PutResult(created=True)

    def put_all_if_absent(self, items: Sequence[Mapping[str, Any]]) -> dict[str, PutResult | Exception]:
        """The conditional puts of many orders (distinct ``order_id``) in ``TransactWriteItems``
        (:func:`~lambda_handlers.common.transactions.put_all`): one request for a batch of new orders
        instead of one ``PutItem`` each. Order id -> result, or the transient error of its transaction;
        orders left undecided are missing: the caller writes them with :meth:`put_if_absent`."""
        outcomes = put_all(
            self.client,
            [
                (
                    str(item["order_id"]),
                    {
                        "TableName": self.table_name,
                        "Item": {key: self._serializer.serialize(value) for key, value in item.items()},
                        "ConditionExpression": "attribute_not_exists(order_id)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    },
                )
                for item in items
            ],
        )
        results: dict[str, PutResult | Exception] = {}
        for order_id, outcome in outcomes.items():
            if outcome is None:
                results[order_id] = PutResult(created=True)
            elif isinstance(outcome, Exception):
                results[order_id] = outcome
            else:
                results[order_id] = PutResult(
                    created=False, stored_fingerprint=outcome.get("content_sha256", {}).get("S") or None
                )
        return results
