"""The suppression table (partition key ``address``, lower-cased; an item = the address is suppressed),
read one address at a time (``GetItem``) or a batch at a time (``BatchGetItem``, 100 keys a call)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from lambda_handlers.common.addresses import normalize_address
from lambda_handlers.common.aws import make_client
from lambda_handlers.common.errors import TransientError
from lambda_handlers.contracts import BATCH_GET_MAX_KEYS

BATCH_GET_ATTEMPTS = 4
"""``BatchGetItem`` calls per chunk of keys while DynamoDB returns ``UnprocessedKeys``."""


@dataclass(kw_only=True)
class DynamoDbSuppressionTable:
    table_name: str
    sleep: Callable[[float], None] = time.sleep

    @cached_property
    def client(self) -> Any:
        return make_client("dynamodb")

    def is_suppressed(self, address: str) -> bool:
        response = self.client.get_item(
            TableName=self.table_name,
            Key={"address": {"S": normalize_address(address)}},
            ProjectionExpression="address",
            ConsistentRead=True,
        )
        return "Item" in response

    def suppressed(self, addresses: Sequence[str]) -> set[str]:
        """The normalized addresses of ``addresses`` that are on the table (strongly consistent reads).

        ``UnprocessedKeys`` are asked for again with a short backoff, :data:`BATCH_GET_ATTEMPTS` calls in
        all; keys still unprocessed raise :class:`TransientError`
        (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html).
        """
        keys = sorted({normalize_address(address) for address in addresses})
        found: set[str] = set()
        for start in range(0, len(keys), BATCH_GET_MAX_KEYS):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": [{"address": {"S": key}} for key in keys[start : start + BATCH_GET_MAX_KEYS]],
                    "ProjectionExpression": "address",
                    "ConsistentRead": True,
                }
            }
            for attempt in range(BATCH_GET_ATTEMPTS):
                response = self.client.batch_get_item(RequestItems=request)
                found.update(item["address"]["S"] for item in response["Responses"].get(self.table_name, []))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                self.sleep(min(1.0, 0.05 * 2**attempt))
            if request:
                raise TransientError("suppression table: keys left unprocessed", code="UnprocessedKeys")
        return found
