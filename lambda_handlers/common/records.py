"""The per-record error policy shared by all handlers.

:func:`process_with_error_policy` runs the handler's work for one SQS record and turns its outcome into
what ``BatchProcessor`` needs: *return* = the record counts as processed, *raise* = the record is
reported in ``batchItemFailures`` and SQS delivers it again (after ``maxReceiveCount`` receives the
queue's redrive policy moves it to the DLQ).

- success -> return the work's result;
- :class:`PermanentError` -> log the reason at ERROR (never the body); forward the original body to
  ``DEAD_LETTER_QUEUE_URL`` and return ``None`` (no pointless retries); if no DLQ is configured or the
  forward fails, raise so that SQS keeps the record;
- transient error (throttling, 5xx, connection) -> log at WARNING and raise (retry);
- anything else -> log at ERROR with a traceback stripped of exception messages, raise (retry, redrive).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aws_lambda_powertools import Logger

from lambda_handlers.common.dlq import DeadLetterForwarder
from lambda_handlers.common.errors import PermanentError, client_error_code, is_transient, safe_traceback
from lambda_handlers.contracts import (
    METRIC_DEAD_LETTER_FORWARD_FAILED,
    METRIC_DEAD_LETTERED,
    METRIC_PERMANENT_FAILURE,
    METRIC_TRANSIENT_FAILURE,
    METRIC_UNEXPECTED_FAILURE,
)

T = TypeVar("T")
Counter = Callable[[str], None]
"""Adds 1 to the named metric (the handlers pass a Powertools ``Metrics.add_metric`` wrapper)."""


@dataclass(frozen=True)
class SqsRecordInfo:
    """What the policy needs from an SQS record (taken from the raw Lambda event record)."""

    message_id: str
    body: str
    message_group_id: str | None
    receive_count: int | None

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> SqsRecordInfo:
        attributes = raw.get("attributes") or {}
        group_id = attributes.get("MessageGroupId") if isinstance(attributes, Mapping) else None
        receive_count_raw = (
            attributes.get("ApproximateReceiveCount") if isinstance(attributes, Mapping) else None
        )
        try:
            receive_count = int(receive_count_raw) if receive_count_raw is not None else None
        except (TypeError, ValueError):
            receive_count = None
        body = raw.get("body")
        return cls(
            message_id=str(raw.get("messageId", "")),
            body=body if isinstance(body, str) else "",
            message_group_id=group_id if isinstance(group_id, str) else None,
            receive_count=receive_count,
        )


def process_with_error_policy(
    record: SqsRecordInfo,
    work: Callable[[SqsRecordInfo], T],
    *,
    forwarder: DeadLetterForwarder | None,
    logger: Logger,
    count: Counter,
) -> T | None:
    """Run ``work(record)`` applying the error policy described in the module docstring."""
    log_context = {"message_id": record.message_id, "receive_count": record.receive_count}
    try:
        return work(record)
    except PermanentError as exc:
        count(METRIC_PERMANENT_FAILURE)
        logger.error(
            "Record cannot be processed (permanent error)",
            extra={**log_context, "reason": exc.reason, "error_type": type(exc).__name__},
        )
        if forwarder is None:
            logger.warning(
                "No DEAD_LETTER_QUEUE_URL configured; leaving the record to the queue's redrive policy",
                extra=log_context,
            )
            raise
        try:
            forwarder.forward(
                body=record.body,
                reason=exc.reason,
                source_message_id=record.message_id,
                message_group_id=record.message_group_id,
            )
        except Exception as forward_exc:
            count(METRIC_DEAD_LETTER_FORWARD_FAILED)
            logger.error(
                "Forwarding the record to the dead-letter queue failed; it will be retried",
                extra={
                    **log_context,
                    "error_type": type(forward_exc).__name__,
                    "error_code": client_error_code(forward_exc),
                },
            )
            raise exc from forward_exc
        count(METRIC_DEAD_LETTERED)
        logger.info("Record forwarded to the dead-letter queue", extra=log_context)
        return None
    except Exception as exc:
        error_code = client_error_code(exc) or getattr(exc, "code", None)
        if is_transient(exc):
            count(METRIC_TRANSIENT_FAILURE)
            logger.warning(
                "Transient error; the record will be retried",
                extra={**log_context, "error_type": type(exc).__name__, "error_code": error_code},
            )
        else:
            count(METRIC_UNEXPECTED_FAILURE)
            # Not logger.exception: the traceback's exception messages may carry input or AWS error text.
            logger.error(
                "Unexpected error; the record will be retried",
                extra={
                    **log_context,
                    "error_type": type(exc).__name__,
                    "error_code": error_code,
                    "traceback": safe_traceback(exc),
                },
            )
        raise
