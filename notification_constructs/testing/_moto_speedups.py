"""Three of moto's costs that grow with the data, removed without changing what the APIs answer.

A burst of 1,000 orders (``bench/pipelines.py``) leaves about 1,000 messages in a queue and thousands of
items in the tables; profiled with py-spy, most of the sandbox's time then went to:

- SQS ``ReceiveMessage``: for every message it returns, moto checks the retention period through
  ``get_queue_attributes``, which computes all of the queue's attributes - among them the approximate
  message counts, each a pass over every message of the queue: a receive of 10 from a queue of n messages
  is ~90 n visibility checks. :func:`_retention_check` reads the retention period directly.
- Those visibility checks themselves (``Message.visible`` / ``delayed``, also in ``send_message``): each
  asks ``unix_time_millis()``, which builds two ``datetime`` objects; :func:`_unix_time` answers the same
  number from ``time.time()``.
- DynamoDB ``TransactWriteItems``: moto deep-copies every table the transaction touches to roll back a
  cancelled one - a copy of the whole table per request. :func:`_transact_write_items` keeps copies of
  the touched items only and puts them back if the transaction fails.

Installed first (``_server.COMPONENTS``); idempotent.
"""

from __future__ import annotations

import copy
import threading
import time
import types
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ._state import SandboxState

_LOCK = threading.Lock()
_PATCHED = [False]


def install(state: SandboxState | None = None) -> None:
    with _LOCK:
        if _PATCHED[0]:
            return
        _PATCHED[0] = True
        _patch_sqs()
        _patch_dynamodb()


# ---------------------------------------------------------------------------------------------------- SQS
def _unix_time(original: Callable[..., float], scale: float) -> Callable[..., float]:
    """moto's ``unix_time`` / ``unix_time_millis``: the same value without datetimes when ``dt`` is None."""

    def now(dt: datetime | None = None) -> float:
        return time.time() * scale if dt is None else original(dt)

    return now


def _retention_check(self: Any, queue_name: str, message: Any) -> bool:
    """``SQSBackend.is_message_valid_based_on_retention_period`` without computing every queue attribute."""
    queue = self.get_queue(queue_name)
    retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
    return bool(retain_until > time.time())


def _patch_sqs() -> None:
    from moto.sqs import models

    setattr(models, "unix_time", _unix_time(models.unix_time, 1.0))  # type: ignore[attr-defined]  # noqa: B010
    setattr(models, "unix_time_millis", _unix_time(models.unix_time_millis, 1000.0))  # type: ignore[attr-defined]  # noqa: B010
    models.SQSBackend.is_message_valid_based_on_retention_period = _retention_check  # type: ignore[method-assign]


# ----------------------------------------------------------------------------------------------- DynamoDB
def _patch_dynamodb() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    def deepcopy(value: Any, memo: Any = None) -> Any:
        # Only transact_write_items deep-copies tables (its rollback copy); the wrapper below keeps the
        # touched items instead, so the table itself is handed back.
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    setattr(models, "copy", types.SimpleNamespace(deepcopy=deepcopy, copy=copy.copy))  # noqa: B010
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = _touched_items(self, transact_items)
        try:
            original(self, transact_items)
        except BaseException:
            for table, hash_key, range_key, item in saved:
                _put_back(table, hash_key, range_key, item)
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _touched_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    """``(table, hash key, range key, deep copy of the item or None)`` of every item the request names."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved: list[tuple[Any, Any, Any, Any]] = []
    for entry in transact_items:
        try:
            op_type, op = next(iter(entry.items()))
            table = backend.tables[op["TableName"]]
            key = op["Item"] if op_type == "Put" else op["Key"]
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        except (KeyError, StopIteration, AttributeError, TypeError):
            continue  # malformed: moto rejects it before writing anything
        current = table.get_item(hash_key, range_key)
        saved.append((table, hash_key, range_key, copy.deepcopy(current)))
    return saved


def _put_back(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    if item is None:
        if range_key is None:
            table.items.pop(hash_key, None)
        elif hash_key in table.items:
            table.items[hash_key].pop(range_key, None)
    elif range_key is None:
        table.items[hash_key] = item
    else:
        table.items[hash_key][range_key] = item
