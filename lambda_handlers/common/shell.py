"""The one record-processing shell of all handlers (Powertools ``Logger`` and ``Metrics``, partial batches).

Each handler's ``handler.py`` is ``shell = Shell(build_service)`` and ``handler = shell.handler``. The shell
builds the service (config read and validated, gateways wired) on the first invocation - a
``ConfigError`` then fails the invocation loudly - and runs every SQS record through the error policy
(:func:`process_with_error_policy`): *return* = the record counts as processed, *raise* = it is reported in
``batchItemFailures`` and SQS delivers it again (after ``maxReceiveCount`` receives the redrive moves it):

- success -> the record is processed;
- :class:`PermanentError` -> log the reason at ERROR (never the body); forward the original body to
  ``DEAD_LETTER_QUEUE_URL`` with the reason and count it processed (no pointless retries); without a DLQ,
  or when the forward fails, raise so that SQS keeps the record;
- transient error (throttling, 5xx, connection, deadline) -> log at WARNING and raise (retry);
- anything else -> log at ERROR with a traceback stripped of exception messages, raise (retry, redrive).

Every AWS call inside an invocation is bounded by its remaining time (:data:`common.aws.deadline`). The
AWS SDK's and Powertools' own loggers are capped at INFO (:func:`cap_library_loggers`): below it botocore
logs request parameters (addresses, bodies) and Powertools exception messages (AWS error text).

The batch loop is the shell's own, not Powertools' ``BatchProcessor``: importing
``aws_lambda_powertools.utilities.batch`` loads the whole ``data_classes`` package and ``asyncio``
(55-70 ms, about 0.1x of the order writer's cold-start floor, measured with ``bench/cold_start.py``)
for a loop of a dozen lines. Its contract is Lambda's partial batch response: the message ids of the
failed records in ``batchItemFailures``. For FIFO sources a record whose message group already failed in
this batch is reported failed without being processed, so it cannot overtake the failed one
(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from lambda_handlers.common.aws import deadline, make_client
from lambda_handlers.common.config import metrics_namespace
from lambda_handlers.common.errors import PermanentError, client_error_code, is_transient, safe_traceback
from lambda_handlers.common.powertools import Logger, Metrics, MetricUnit  # first import of Powertools
from lambda_handlers.contracts import (
    FAILURE_REASON_ATTRIBUTE,
    METRIC_DEAD_LETTER_FORWARD_FAILED,
    METRIC_DEAD_LETTERED,
    METRIC_PERMANENT_FAILURE,
    METRIC_TRANSIENT_FAILURE,
    METRIC_UNEXPECTED_FAILURE,
    SOURCE_MESSAGE_ID_ATTRIBUTE,
    tracing_enabled,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

T = TypeVar("T")
Counter = Callable[[str], None]
"""Adds 1 to the named metric (:meth:`Shell.count`)."""

#: Loggers that print request parameters or exception messages below INFO.
CAPPED_LOGGERS = ("boto3", "botocore", "urllib3", "s3transfer", "aws_lambda_powertools")
_MAX_REASON_LENGTH = 1024


def cap_library_loggers(level: int = logging.INFO) -> None:
    """Raise the level of :data:`CAPPED_LOGGERS` to at least ``level`` (never lowers a stricter one)."""
    for name in CAPPED_LOGGERS:
        library_logger = logging.getLogger(name)
        if library_logger.level < level:  # NOTSET (0) would inherit the root logger's DEBUG
            library_logger.setLevel(level)


@dataclass(frozen=True)
class SqsRecordInfo:
    """What the policy and the services need from an SQS record (taken defensively from the raw record)."""

    message_id: str
    body: str
    message_group_id: str | None
    receive_count: int | None

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> SqsRecordInfo:
        attributes = raw.get("attributes")
        attributes = attributes if isinstance(attributes, Mapping) else {}
        group_id, count, body = (
            attributes.get("MessageGroupId"),
            attributes.get("ApproximateReceiveCount"),
            raw.get("body"),
        )
        return cls(
            message_id=str(raw.get("messageId", "")),
            body=body if isinstance(body, str) else "",
            message_group_id=group_id if isinstance(group_id, str) else None,
            receive_count=int(count) if isinstance(count, str) and count.isdigit() else None,
        )


def build_dead_letter_request(
    *, queue_url: str, body: str, reason: str, source_message_id: str, message_group_id: str | None
) -> dict[str, Any]:
    """The ``sqs:SendMessage`` parameters for forwarding one record (pure, unit-tested)."""
    request: dict[str, Any] = {
        "QueueUrl": queue_url,
        "MessageBody": body,
        "MessageAttributes": {
            FAILURE_REASON_ATTRIBUTE: {
                "DataType": "String",
                "StringValue": reason[:_MAX_REASON_LENGTH] or "unknown",
            },
            SOURCE_MESSAGE_ID_ATTRIBUTE: {"DataType": "String", "StringValue": source_message_id},
        },
    }
    if queue_url.endswith(".fifo"):
        # FIFO DLQ: keep the source ordering group; the source message id makes the forward idempotent.
        request["MessageGroupId"] = message_group_id or source_message_id
        request["MessageDeduplicationId"] = source_message_id[:128]
    return request


class SqsDeadLetterForwarder:
    """Sends a record's original body to the DLQ (``sqs:SendMessage``); raises if that fails."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    @cached_property
    def client(self) -> Any:
        return make_client("sqs")

    def forward(
        self, *, body: str, reason: str, source_message_id: str, message_group_id: str | None
    ) -> None:
        self.client.send_message(
            **build_dead_letter_request(
                queue_url=self.queue_url,
                body=body,
                reason=reason,
                source_message_id=source_message_id,
                message_group_id=message_group_id,
            )
        )


def dead_letter_forwarder(queue_url: str | None) -> SqsDeadLetterForwarder | None:
    """The forwarder for ``DEAD_LETTER_QUEUE_URL``, or ``None`` when it is not configured."""
    return SqsDeadLetterForwarder(queue_url) if queue_url else None


def process_with_error_policy(
    record: SqsRecordInfo,
    work: Callable[[SqsRecordInfo], T],
    *,
    forwarder: Any,
    logger: Logger,
    count: Counter,
) -> T | None:
    """Run ``work(record)`` applying the error policy described in the module docstring; ``forwarder`` has
    :meth:`SqsDeadLetterForwarder.forward` (or is ``None``: no DLQ configured)."""
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
        extra = {**log_context, "error_type": type(exc).__name__}
        extra["error_code"] = client_error_code(exc) or getattr(exc, "code", None)
        if is_transient(exc):
            count(METRIC_TRANSIENT_FAILURE)
            logger.warning("Transient error; the record will be retried", extra=extra)
        else:
            count(METRIC_UNEXPECTED_FAILURE)
            # Not logger.exception: the traceback's exception messages may carry input or AWS error text.
            logger.error(
                "Unexpected error; the record will be retried",
                extra={**extra, "traceback": safe_traceback(exc)},
            )
        raise


class RecordService:
    """Base of each handler's service: :meth:`process` one record; optional hooks around each batch."""

    dead_letters: SqsDeadLetterForwarder | None = None

    def process(self, record: SqsRecordInfo) -> object:  # pragma: no cover - every service overrides it
        raise NotImplementedError

    def begin_batch(self, context: LambdaContext) -> None:
        """Called before the batch's records, inside the invocation."""

    def prepare_batch(self, records: Sequence[SqsRecordInfo]) -> None:
        """Called with all records of a standard-queue batch of two or more before any is processed:
        the place for requests made once per batch (``TransactWriteItems``, ``BatchGetItem``) whose
        per-record results :meth:`process` then uses. What it leaves undecided for a record (bad input,
        an item the batched request did not settle) :meth:`process` does alone; an exception it raises is
        logged and every record is then processed alone. Not called for FIFO batches (records of a group
        must not be acted on before an earlier record of the group has succeeded)."""

    def end_batch(self) -> list[str]:
        """Called after the batch's records; returns SQS message ids to report as failures too."""
        return []


S = TypeVar("S", bound=RecordService)


class Shell(Generic[S]):
    """Logger, metrics, the batch loop and the lazily built service of one handler (module level)."""

    def __init__(self, build_service: Callable[[Logger, Counter], S]) -> None:
        cap_library_loggers()
        self.logger = Logger()
        self.metrics = Metrics(namespace=metrics_namespace())
        self._build_service = build_service
        handle = self.logger.inject_lambda_context(clear_state=True)(self._handle)
        if tracing_enabled(os.environ):
            # Only for functions with active tracing: the Tracer (aws-xray-sdk) adds 0.5-0.75 s to every
            # cold start, measured with bench/cold_start.py.
            from aws_lambda_powertools import Tracer

            handle = Tracer().capture_lambda_handler(handle)
        self.handler: Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse] = (
            self.metrics.log_metrics(capture_cold_start_metric=True)(handle)
        )

    def count(self, name: str) -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)

    @cached_property
    def service(self) -> S:
        """Built on first use: once per execution environment."""
        return self._build_service(self.logger, self.count)

    def reset(self, service: S | None = None) -> None:
        """Forget the service (tests), or install a prepared one."""
        self.__dict__.pop("service", None)
        if service is not None:
            self.__dict__["service"] = service

    def _handle(self, event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        service = self.service  # a ConfigError fails the invocation loudly (deployment bug)
        records = event.get("Records") if isinstance(event, Mapping) else None
        if not isinstance(records, list):
            raise ValueError("The event is not an SQS batch: it has no Records list")
        service.begin_batch(context)
        failed: dict[str, None] = {}  # message ids, in batch order
        failed_groups: set[str] = set()
        with deadline.running(context):  # every AWS call and record start is bounded by the time left
            batch = [SqsRecordInfo.from_raw(raw if isinstance(raw, Mapping) else {}) for raw in records]
            if len(batch) > 1 and all(record.message_group_id is None for record in batch):
                self._prepare(service, batch)
            for record in batch:
                group = record.message_group_id
                if group is not None and group in failed_groups:
                    failed[record.message_id] = None  # FIFO: must not overtake the failed one
                    continue
                try:
                    process_with_error_policy(
                        record,
                        service.process,
                        forwarder=service.dead_letters,
                        logger=self.logger,
                        count=self.count,
                    )
                except Exception:  # the policy has logged and counted it: report it, go on
                    failed[record.message_id] = None
                    if group is not None:
                        failed_groups.add(group)
            failed.update(dict.fromkeys(service.end_batch()))
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

    def _prepare(self, service: S, batch: list[SqsRecordInfo]) -> None:
        try:
            service.prepare_batch(batch)
        except Exception as exc:  # the records are then processed one by one, each under the error policy
            self.logger.warning(
                "Batched requests failed; processing the records one by one",
                extra={
                    "error_type": type(exc).__name__,
                    "error_code": client_error_code(exc),
                    "records": len(batch),
                },
            )
