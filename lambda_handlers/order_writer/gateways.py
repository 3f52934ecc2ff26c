"""AWS access of the order writer (the client is created on first use)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from lambda_handlers.common.aws import make_client
from lambda_handlers.common.errors import client_error_code, is_transient


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
        """The conditional puts of many orders (distinct ``order_id``) in ``TransactWriteItems`` requests
        of at most :data:`TRANSACTION_MAX_ITEMS` items / :data:`TRANSACTION_MAX_BYTES`: one request for a
        batch of new orders instead of one ``PutItem`` each.

        A transaction is all-or-nothing: when it is cancelled, ``CancellationReasons`` (in item order) say
        why per item - ``ConditionalCheckFailed`` with the existing item (``ReturnValuesOnConditionCheck
        Failure=ALL_OLD``): the order is already stored; ``None``: not written because of the others, so
        they go again in the next transaction
        (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html).
        Orders left undecided (another reason, e.g. ``TransactionConflict`` with a concurrent write of the
        same item, or still pending after :data:`TRANSACTION_ROUNDS`) are missing from the result: the
        caller writes them with :meth:`put_if_absent`. A transient error of a request itself (throttling
        after botocore's retries) is the result of that transaction's orders, any other error leaves them
        undecided; the orders of the other transactions keep their results.
        """
        results: dict[str, PutResult | Exception] = {}
        for chunk in _chunks(items):
            pending = list(chunk)
            for _ in range(TRANSACTION_ROUNDS):
                if len(pending) < 2:
                    break  # a one-item transaction costs twice a PutItem: the caller puts it
                try:
                    pending = self._transact(pending, results)
                except Exception as exc:  # nothing of this transaction was written
                    if is_transient(exc):  # throttled after retries: these records fail as transient
                        results.update(dict.fromkeys((str(item["order_id"]) for item in pending), exc))
                    break  # otherwise (e.g. a validation error) each order is written alone
                if not pending:
                    break
        return results

    def _transact(
        self, items: list[Mapping[str, Any]], results: dict[str, PutResult | Exception]
    ) -> list[Mapping[str, Any]]:
        """One ``TransactWriteItems``; records the decided orders in ``results``, returns the ones to retry."""
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": {key: self._serializer.serialize(value) for key, value in item.items()},
                            "ConditionExpression": "attribute_not_exists(order_id)",
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    }
                    for item in items
                ]
            )
        except ClientError as exc:
            if client_error_code(exc) != "TransactionCanceledException":
                raise
            reasons: Any = exc.response.get("CancellationReasons") or []
            if len(reasons) != len(items):
                return []  # nothing is known per item: every order is put alone
            retry: list[Mapping[str, Any]] = []
            for item, reason in zip(items, reasons, strict=True):
                code = reason.get("Code")
                if code == "None":
                    retry.append(item)
                elif code == "ConditionalCheckFailed":
                    existing = reason.get("Item") or {}
                    results[str(item["order_id"])] = PutResult(
                        created=False, stored_fingerprint=existing.get("content_sha256", {}).get("S") or None
                    )
            return retry
        for item in items:
            results[str(item["order_id"])] = PutResult(created=True)
        return []


TRANSACTION_MAX_ITEMS = 100
"""``TransactWriteItems`` takes at most 100 actions and 4 MB of items in all."""
TRANSACTION_MAX_BYTES = 3_500_000
"""Kept under the 4 MB aggregate item size with a margin for the attribute-value encoding."""
TRANSACTION_ROUNDS = 3


def _size(item: Mapping[str, Any]) -> int:
    return len(json.dumps(item, default=str).encode())


def _chunks(items: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    chunks: list[list[Mapping[str, Any]]] = [[]]
    size = 0
    for item in items:
        item_size = _size(item)
        if chunks[-1] and (
            len(chunks[-1]) >= TRANSACTION_MAX_ITEMS or size + item_size > TRANSACTION_MAX_BYTES
        ):
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += item_size
    return [chunk for chunk in chunks if chunk]
