"""Exactly-once confirmations: the idempotency records of the order e-mail sender, claimed and completed
one request per batch.

The records are those of Powertools for AWS Lambda's ``DynamoDBPersistenceLayer`` (the sender used its
``idempotent_function`` until it needed per-batch requests; records written by either read the same):

- ``id``: ``order-confirmation#`` + MD5 of the JSON of the order id (Powertools' ``key_prefix`` and
  ``_generate_hash``), ``validation``: MD5 of the JSON of the order's ``content_sha256``;
- ``status`` ``INPROGRESS`` while a delivery works on the order (``in_progress_expiration``, epoch ms: the
  end of that invocation, after which another delivery may take it over) and ``COMPLETED`` with the result
  as JSON in ``data``; ``expiration`` (epoch s, the table's TTL attribute) ends the record.

Powertools writes each record with its own ``PutItem`` and ``UpdateItem``; here a batch's claims are one
conditional ``TransactWriteItems`` (Powertools' condition; ``common/transactions.py``) and its completions
one ``BatchWriteItem``:
0.2 requests per order at batch size 10 instead of 2 (``bench/pipelines.py``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.aws import make_client
from lambda_handlers.common.errors import TransientError, client_error_code
from lambda_handlers.common.order_event import OrderIdReusedError
from lambda_handlers.common.transactions import put_all

KEY_PREFIX = "order-confirmation"
STATUS_IN_PROGRESS = "INPROGRESS"
STATUS_COMPLETED = "COMPLETED"
BATCH_WRITE_MAX_ITEMS = 25
"""``BatchWriteItem`` takes at most 25 put or delete requests."""
ROUNDS = 3
"""``BatchWriteItem`` calls per chunk while DynamoDB returns ``UnprocessedItems``."""

# Powertools' claim condition (DynamoDBPersistenceLayer._put_record): no record, an expired one, or one
# left in progress by an invocation that has ended.
CLAIM_CONDITION = (
    "attribute_not_exists(#id) OR #expiry < :now OR "
    "(#status = :inprogress AND attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)"
)
CLAIM_NAMES = {
    "#id": "id",
    "#expiry": "expiration",
    "#in_progress_expiry": "in_progress_expiration",
    "#status": "status",
}


def _md5_of_json(value: str) -> str:
    """Powertools' ``_generate_hash`` of a JMESPath result that is a string."""
    return hashlib.md5(json.dumps(value, sort_keys=True).encode(), usedforsecurity=False).hexdigest()


def record_id(order_id: str) -> str:
    return f"{KEY_PREFIX}#{_md5_of_json(order_id)}"


def validation_hash(fingerprint: str) -> str:
    return _md5_of_json(fingerprint)


@dataclass(frozen=True)
class ExistingRecord:
    """A record that stopped a claim: another delivery has handled, or is handling, the order."""

    status: str
    validation: str | None
    data: str | None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ExistingRecord:
        def text(name: str) -> str | None:
            value = item.get(name) or {}
            return value.get("S") if isinstance(value, Mapping) else None

        return cls(status=text("status") or "", validation=text("validation"), data=text("data"))

    def replay(self, fingerprint: str) -> dict[str, Any]:
        """The earlier delivery's result; raises what the record means otherwise.

        Other content under the same order id -> :class:`OrderIdReusedError` (never mail it); still in
        progress -> :class:`TransientError` (SQS delivers it again, by then it is completed or released).
        """
        if self.validation is not None and self.validation != validation_hash(fingerprint):
            raise OrderIdReusedError()
        if self.status != STATUS_COMPLETED:
            raise TransientError("order is already being processed by another invocation")
        try:
            result = json.loads(self.data or "{}")
        except ValueError:
            result = {}
        return result if isinstance(result, dict) else {}


Claim = ExistingRecord | None
"""The outcome of claiming an order: ``None`` = claimed by this invocation, else the record in the way."""


@dataclass(frozen=True)
class OrderKey:
    order_id: str
    fingerprint: str


@dataclass(kw_only=True)
class DynamoDbIdempotencyStore:
    table_name: str
    ttl_seconds: int
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    @cached_property
    def client(self) -> Any:
        return make_client("dynamodb")

    # -- the items ----------------------------------------------------------------------------------------
    def _claim_item(self, key: OrderKey, in_progress_until_ms: int) -> dict[str, Any]:
        return {
            "id": {"S": record_id(key.order_id)},
            "expiration": {"N": str(int(self.clock()) + self.ttl_seconds)},
            "in_progress_expiration": {"N": str(in_progress_until_ms)},
            "status": {"S": STATUS_IN_PROGRESS},
            "validation": {"S": validation_hash(key.fingerprint)},
        }

    def _claim_values(self) -> dict[str, Any]:
        now = self.clock()
        return {
            ":now": {"N": str(int(now))},
            ":now_in_millis": {"N": str(int(now * 1000))},
            ":inprogress": {"S": STATUS_IN_PROGRESS},
        }

    def _completed_item(
        self, key: OrderKey, result: Mapping[str, Any], in_progress_until_ms: int
    ) -> dict[str, Any]:
        return {
            **self._claim_item(key, in_progress_until_ms),
            "status": {"S": STATUS_COMPLETED},
            "data": {"S": json.dumps(result, sort_keys=True)},
        }

    # -- one order ----------------------------------------------------------------------------------------
    def claim(self, key: OrderKey, in_progress_until_ms: int) -> Claim:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=self._claim_item(key, in_progress_until_ms),
                ConditionExpression=CLAIM_CONDITION,
                ExpressionAttributeNames=CLAIM_NAMES,
                ExpressionAttributeValues=self._claim_values(),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if client_error_code(exc) != "ConditionalCheckFailedException":
                raise
            response: Any = exc.response
            return ExistingRecord.from_item(response.get("Item") or {})
        return None

    def complete(self, key: OrderKey, result: Mapping[str, Any], in_progress_until_ms: int) -> None:
        self.client.put_item(
            TableName=self.table_name, Item=self._completed_item(key, result, in_progress_until_ms)
        )

    def release(self, key: OrderKey) -> None:
        """Delete this invocation's claim after a failure, so a redelivery can try again (as Powertools)."""
        self.client.delete_item(TableName=self.table_name, Key={"id": {"S": record_id(key.order_id)}})

    # -- a batch --------------------------------------------------------------------------------------------
    def claim_all(self, keys: Sequence[OrderKey], in_progress_until_ms: int) -> dict[str, Claim | Exception]:
        """Claim many orders (distinct ids) in ``TransactWriteItems``
        (:func:`~lambda_handlers.common.transactions.put_all`): order id -> claim, or the transient error of
        its transaction (the orders of other transactions keep theirs, so no claim that was written is
        forgotten). Orders left undecided are missing from the result: the caller claims them one by one.
        """
        values = self._claim_values()
        outcomes = put_all(
            self.client,
            [
                (
                    key.order_id,
                    {
                        "TableName": self.table_name,
                        "Item": self._claim_item(key, in_progress_until_ms),
                        "ConditionExpression": CLAIM_CONDITION,
                        "ExpressionAttributeNames": CLAIM_NAMES,
                        "ExpressionAttributeValues": values,
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    },
                )
                for key in keys
            ],
        )
        return {
            order_id: outcome
            if outcome is None or isinstance(outcome, Exception)
            else ExistingRecord.from_item(outcome)
            for order_id, outcome in outcomes.items()
        }

    def write_all(
        self,
        completions: Sequence[tuple[OrderKey, Mapping[str, Any]]],
        releases: Sequence[OrderKey],
        in_progress_until_ms: int,
    ) -> tuple[list[OrderKey], list[OrderKey]]:
        """Mark claims completed with their results and release (delete) the claims of orders not started,
        in ``BatchWriteItem`` requests of 25 (``UnprocessedItems`` written again with a short backoff);
        returns the completions and the releases not written."""
        entries: list[tuple[bool, OrderKey, dict[str, Any]]] = [
            (True, key, {"PutRequest": {"Item": self._completed_item(key, result, in_progress_until_ms)}})
            for key, result in completions
        ] + [
            (False, key, {"DeleteRequest": {"Key": {"id": {"S": record_id(key.order_id)}}}})
            for key in releases
        ]
        left_completions: list[OrderKey] = []
        left_releases: list[OrderKey] = []
        for start in range(0, len(entries), BATCH_WRITE_MAX_ITEMS):
            chunk = entries[start : start + BATCH_WRITE_MAX_ITEMS]
            by_id = {record_id(key.order_id): (is_put, key) for is_put, key, _ in chunk}
            request: dict[str, Any] = {self.table_name: [entry for _, _, entry in chunk]}
            for attempt in range(ROUNDS):
                response = self.client.batch_write_item(RequestItems=request)
                request = response.get("UnprocessedItems") or {}
                if not request:
                    break
                self.sleep(min(1.0, 0.05 * 2**attempt))
            for entry in request.get(self.table_name, []):
                if "PutRequest" in entry:
                    left_completions.append(by_id[entry["PutRequest"]["Item"]["id"]["S"]][1])
                else:
                    left_releases.append(by_id[entry["DeleteRequest"]["Key"]["id"]["S"]][1])
        return left_completions, left_releases
