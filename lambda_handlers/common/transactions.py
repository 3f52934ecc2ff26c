"""Many conditional puts in few ``TransactWriteItems`` requests, each put's outcome kept apart.

A transaction is all-or-nothing: when it is cancelled, ``CancellationReasons`` (in item order) say per
item ``ConditionalCheckFailed`` - with the item in the way when the put asks for it
(``ReturnValuesOnConditionCheckFailure=ALL_OLD``) - or ``None``: not written because of the others, so it
goes again in the next transaction
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html). A transaction
takes at most 100 actions and 4 MB of items, no two on the same item, and costs two write units per item.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from lambda_handlers.common.errors import client_error_code, is_transient

K = TypeVar("K", bound=Hashable)

TRANSACTION_MAX_ITEMS = 100
TRANSACTION_MAX_BYTES = 3_500_000
"""Kept under the 4 MB aggregate item size with a margin for the attribute-value encoding."""
ROUNDS = 3
"""Transactions per chunk while puts are left pending (cancelled because of the others)."""

Outcome = Mapping[str, Any] | None | Exception
"""``None``: written; a mapping: the existing item that failed the condition (``{}`` without ALL_OLD);
an exception: the transient error of its transaction's request."""


def put_all(client: Any, puts: Sequence[tuple[K, Mapping[str, Any]]]) -> dict[K, Outcome]:
    """``TransactWriteItems`` of the ``Put`` actions of ``puts`` (``(key, put)``, distinct items) in
    chunks: key -> outcome. Puts left undecided are missing from the result - another reason (e.g.
    ``TransactionConflict`` with a concurrent write of the same item), still pending after :data:`ROUNDS`,
    a non-transient error of the request (e.g. a validation error), or alone in their chunk (a one-item
    transaction costs twice a ``PutItem``): the caller writes them one by one. The puts of other chunks
    keep their outcomes whatever happens to one chunk."""
    outcomes: dict[K, Outcome] = {}
    for chunk in _chunks(puts):
        pending = chunk
        for _ in range(ROUNDS):
            if len(pending) < 2:
                break
            try:
                pending = _transact(client, pending, outcomes)
            except Exception as exc:  # nothing of this transaction was written
                if is_transient(exc):  # throttled after botocore's retries: these fail as transient
                    outcomes.update(dict.fromkeys((key for key, _ in pending), exc))
                break
            if not pending:
                break
    return outcomes


def _transact(
    client: Any, puts: list[tuple[K, Mapping[str, Any]]], outcomes: dict[K, Outcome]
) -> list[tuple[K, Mapping[str, Any]]]:
    """One ``TransactWriteItems``; records the decided puts in ``outcomes``, returns the ones to retry."""
    try:
        client.transact_write_items(TransactItems=[{"Put": put} for _, put in puts])
    except ClientError as exc:
        if client_error_code(exc) != "TransactionCanceledException":
            raise
        reasons: Any = exc.response.get("CancellationReasons") or []
        if len(reasons) != len(puts):
            return []  # nothing is known per item: the caller writes them one by one
        retry: list[tuple[K, Mapping[str, Any]]] = []
        for (key, put), reason in zip(puts, reasons, strict=True):
            code = reason.get("Code")
            if code == "None":
                retry.append((key, put))
            elif code == "ConditionalCheckFailed":
                outcomes[key] = reason.get("Item") or {}
        return retry
    outcomes.update(dict.fromkeys((key for key, _ in puts), None))
    return []


def _chunks(puts: Sequence[tuple[K, Mapping[str, Any]]]) -> list[list[tuple[K, Mapping[str, Any]]]]:
    chunks: list[list[tuple[K, Mapping[str, Any]]]] = [[]]
    size = 0
    for entry in puts:
        entry_size = len(json.dumps(entry[1]["Item"], default=str).encode())
        if chunks[-1] and (
            len(chunks[-1]) >= TRANSACTION_MAX_ITEMS or size + entry_size > TRANSACTION_MAX_BYTES
        ):
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += entry_size
    return [chunk for chunk in chunks if chunk]
