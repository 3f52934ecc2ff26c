"""SQS event source mappings with Lambda's semantics (moto invokes synchronously inside SendMessage).

Lambda polls an SQS queue for each enabled mapping and invokes the function with batches
(https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html). This component does the same, reading
through moto's SQS backend in-process:

* moto's own synchronous invocation from ``Queue.add_message`` is switched off;
* one poller thread per enabled SQS mapping, created / updated / deleted with the mapping (Lambda API or
  CloudFormation - the lambda backend is watched); it waits on the queue's condition variable, so a
  new message is picked up within milliseconds without busy polling;
* ``BatchSize``; ``MaximumBatchingWindowInSeconds`` (wait up to the window for a full batch);
  ``ScalingConfig.MaximumConcurrency`` (batches in flight at once; default
  :data:`DEFAULT_MAXIMUM_CONCURRENCY`, a modest limit for small CI machines, where AWS scales up to 1,000);
  the function's reserved concurrency also caps it;
* a successful batch is deleted; with ``FunctionResponseTypes: [ReportBatchItemFailures]`` only the
  successes are, and an invalid response fails the whole batch; a failed or timed-out batch is left in
  flight and reappears after the queue's visibility timeout; moto's receive moves a message to the
  dead-letter queue once its receive count reaches the redrive policy's ``maxReceiveCount``.

``state.busy_checks["event-sources"]`` = messages in the mapped source queues (visible, in flight,
delayed by at most :data:`_IDLE_HORIZON_SECONDS`) + batches being processed: 0 means drained.
"""

from __future__ import annotations

import base64
import contextlib
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any

from . import _lambda_runtime
from ._state import SandboxState

__all__ = ["DEFAULT_MAXIMUM_CONCURRENCY", "sqs_event", "sqs_record"]

_EXTRAS_KEY = "event_sources"
#: Concurrent batches per mapping when ``ScalingConfig.MaximumConcurrency`` is not set.
DEFAULT_MAXIMUM_CONCURRENCY = 5
#: The longest a poller sleeps without looking at its queue (a message's visibility timeout can expire
#: without anyone notifying the queue's condition variable; the poller computes that moment, this caps it).
_MAX_WAIT_SECONDS = 1.0
#: Messages delayed (DelaySeconds) further into the future than this do not keep the sandbox busy.
_IDLE_HORIZON_SECONDS = 30.0

_ACTIVE: _EventSources | None = None
_PATCHED = False


def install(state: SandboxState) -> None:
    global _ACTIVE
    if _EXTRAS_KEY not in state.extras:
        state.extras[_EXTRAS_KEY] = _EventSources(state)
    manager: _EventSources = state.extras[_EXTRAS_KEY]
    _ACTIVE = manager
    state.busy_checks["event-sources"] = manager.busy
    _patch_moto()


def start(state: SandboxState) -> None:
    _manager(state).start()


def stop(state: SandboxState) -> None:
    _manager(state).stop()


def _manager(state: SandboxState) -> _EventSources:
    manager = state.extras.get(_EXTRAS_KEY)
    if not isinstance(manager, _EventSources):
        raise RuntimeError("the event sources component is not installed in this sandbox state")
    return manager


# -- the event, as Lambda sends it -------------------------------------------------------------------------


def sqs_record(message: Any, queue_arn: str, region: str) -> dict[str, Any]:
    """One ``Records[]`` entry of Lambda's SQS event for a moto ``Message``
    (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#example-standard-queue-message-event)."""
    attributes: dict[str, str] = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": str(message.sender_id),
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    trace = (message.system_attributes or {}).get("AWSTraceHeader")
    if isinstance(trace, dict) and trace.get("StringValue"):
        attributes["AWSTraceHeader"] = str(trace["StringValue"])
    # FIFO queues add these (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#sample-fifo-queues-message-event).
    if message.sequence_number:
        attributes["SequenceNumber"] = str(message.sequence_number)
    if message.group_id:
        attributes["MessageGroupId"] = str(message.group_id)
    if message.deduplication_id:
        attributes["MessageDeduplicationId"] = str(message.deduplication_id)
    record: dict[str, Any] = {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {
            name: _attribute(value) for name, value in (message.message_attributes or {}).items()
        },
        "md5OfBody": message.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.message_attributes:
        record["md5OfMessageAttributes"] = message.attribute_md5
    return record


def sqs_event(messages: Iterable[Any], queue_arn: str, region: str) -> dict[str, Any]:
    """Lambda's SQS event for a batch of moto messages."""
    return {"Records": [sqs_record(message, queue_arn, region) for message in messages]}


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    """An SQS message attribute in the event's camel-case format (``stringValue`` / ``binaryValue``,
    base64, plus the always-empty list values)."""
    converted: dict[str, Any] = {}
    if value.get("StringValue") is not None:
        converted["stringValue"] = str(value["StringValue"])
    binary = value.get("BinaryValue")
    if binary is not None:
        converted["binaryValue"] = (
            base64.b64encode(binary).decode("ascii") if isinstance(binary, bytes) else str(binary)
        )
    converted["stringListValues"] = list(value.get("StringListValues") or [])
    converted["binaryListValues"] = list(value.get("BinaryListValues") or [])
    converted["dataType"] = value.get("DataType", "String")
    return converted


def failed_message_ids(
    response_types: Iterable[str] | None, result: _lambda_runtime.InvocationResult, batch_ids: set[str]
) -> set[str]:
    """The messages of a batch to keep (not delete) after an invocation.

    Without ``ReportBatchItemFailures`` any error fails the whole batch. With it, an empty / null
    response or ``batchItemFailures`` means success; an item with a null, empty or unknown
    ``itemIdentifier`` - or a response that is not of that shape - fails the whole batch
    (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting).
    """
    if result.error is not None:
        return set(batch_ids)
    if "ReportBatchItemFailures" not in list(response_types or []):
        return set()
    payload = result.payload
    if payload is None or payload == {}:
        return set()
    if not isinstance(payload, dict):
        return set(batch_ids)
    failures = payload.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return set(batch_ids)
    failed: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier or identifier not in batch_ids:
            return set(batch_ids)
        failed.add(identifier)
    return failed


# -- pollers ---------------------------------------------------------------------------------------------------


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _enabled(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() != "false"
    return value is None or bool(value)


class _Poller:
    """Lambda's poller for one SQS event source mapping."""

    def __init__(self, manager: _EventSources, esm: Any) -> None:
        self.manager = manager
        self.esm = esm
        parts = esm.event_source_arn.split(":")
        self.region, self.account, self.queue_name = parts[3], parts[4], parts[5]
        self._stop = threading.Event()
        self._running = 0
        self._capacity = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name=f"esm-{esm.uuid[:8]}", daemon=True)

    @property
    def uuid(self) -> str:
        return str(self.esm.uuid)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        queue = self._queue()
        if queue is not None:
            with queue._messages_lock:
                queue._messages_lock.notify_all()
        with self._capacity:
            self._capacity.notify_all()

    def running_batches(self) -> int:
        with self._capacity:
            return self._running

    # -- moto access ----------------------------------------------------------------------------------
    def _backend(self) -> Any:
        from moto.sqs.models import sqs_backends

        return sqs_backends[self.account][self.region]

    def _queue(self) -> Any:
        return self._backend().queues.get(self.queue_name)

    def _max_concurrency(self) -> int:
        scaling = self.esm.scaling_config or {}
        limit = (
            _int(scaling.get("MaximumConcurrency"), DEFAULT_MAXIMUM_CONCURRENCY)
            if isinstance(scaling, dict)
            else DEFAULT_MAXIMUM_CONCURRENCY
        )
        with contextlib.suppress(Exception):
            reserved = self.manager.runtime_function(self.esm.function_arn).reserved_concurrency
            if reserved not in (None, ""):
                limit = min(limit, int(reserved))
        return max(1, limit)

    # -- the loop -----------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll_once()
            except Exception as exc:  # keep polling; report what went wrong
                print(f"sandbox event source {self.uuid}: {exc!r}", file=sys.stderr)
                self._stop.wait(1.0)

    def _poll_once(self) -> None:
        queue = self._queue()
        if queue is None:
            self._stop.wait(_MAX_WAIT_SECONDS)
            return
        with self._capacity:
            while self._running >= self._max_concurrency() and not self._stop.is_set():
                self._capacity.wait(_MAX_WAIT_SECONDS)
        batch_size = max(1, _int(self.esm.batch_size, 10))
        if not self._wait_for_batch(queue, batch_size) or self._stop.is_set():
            return
        visibility = _int(queue.visibility_timeout, 30)
        messages = self._backend().receive_message(self.queue_name, batch_size, 0, visibility, ["All"])
        if not messages:
            return
        with self._capacity:
            self._running += 1
        threading.Thread(
            target=self._process, args=(queue, messages), name=f"esm-batch-{self.uuid[:8]}", daemon=True
        ).start()

    def _wait_for_batch(self, queue: Any, batch_size: int) -> bool:
        """Wait until a message is visible, then up to the batching window for a full batch."""
        lock = queue._messages_lock
        with lock:
            visible = len(queue.messages)
            while not visible:
                if self._stop.is_set():
                    return False
                lock.wait(_until_next_due(queue))
                visible = len(queue.messages)
            window = float(_int(self.esm.max_batch_window, 0))
            deadline = time.monotonic() + window
            while visible < batch_size and not self._stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                lock.wait(min(remaining, _until_next_due(queue)))
                visible = len(queue.messages)
        return True

    def _process(self, queue: Any, messages: list[Any]) -> None:
        esm = self.esm
        try:
            event = sqs_event(messages, queue.queue_arn, self.region)
            try:
                result = _lambda_runtime.invoke(self.manager.state, esm.function_arn, event)
            except _lambda_runtime.FunctionNotFoundError as exc:
                self.manager.state.log("event-sources", f"mapping {self.uuid}: {exc}", mapping=self.uuid)
                return
            keep = failed_message_ids(esm.function_response_types, result, {m.id for m in messages})
            backend = self._backend()
            for message in messages:
                if message.id not in keep:
                    with contextlib.suppress(Exception):  # already deleted / queue purged
                        backend.delete_message(self.queue_name, message.receipt_handle)
            self.manager.state.log(
                "event-sources",
                f"mapping {self.uuid}: batch of {len(messages)}, {len(keep)} left for retry",
                mapping=self.uuid,
                function=result.function_name,
                batch=len(messages),
                failed=len(keep),
                error_type=(result.error or {}).get("errorType"),
            )
        finally:
            with self._capacity:
                self._running -= 1
                self._capacity.notify_all()


def _until_next_due(queue: Any) -> float:
    """Seconds until the next in-flight or delayed message of ``queue`` becomes receivable (capped)."""
    now_ms = time.time() * 1000
    due = [t for m in list(queue._messages) for t in (m.visible_at, m.delayed_until) if t > now_ms]
    if not due:
        return _MAX_WAIT_SECONDS
    return float(max(0.005, min(_MAX_WAIT_SECONDS, (min(due) - now_ms) / 1000 + 0.002)))


class _EventSources:
    """Keeps one :class:`_Poller` per enabled SQS mapping in moto's lambda backends."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.changed = threading.Event()
        self._pollers: dict[str, _Poller] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="event-source-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.changed.set()
        with self._lock:
            pollers = list(self._pollers.values())
            self._pollers.clear()
        for poller in pollers:
            poller.stop()

    def runtime_function(self, function_arn: str) -> Any:
        return _lambda_runtime._runtime(self.state).resolve(function_arn)

    def busy(self) -> int:
        with self._lock:
            pollers = list(self._pollers.values())
        queues: dict[int, Any] = {}
        running = 0
        for poller in pollers:
            running += poller.running_batches()
            queue = poller._queue()
            if queue is not None:
                queues[id(queue)] = queue
        now_ms = time.time() * 1000
        horizon_ms = now_ms + _IDLE_HORIZON_SECONDS * 1000
        # A message delayed further than the horizon is a timer (e.g. an acknowledgement deadline), not
        # pending work: counting it would make "idle" mean "after every timer fired".
        pending = sum(
            1
            for queue in queues.values()
            for message in list(queue._messages)
            if message.delayed_until <= horizon_ms
        )
        return running + pending

    def _watch(self) -> None:
        while not self._stopping.is_set():
            self.changed.clear()
            try:
                self.sync()
            except Exception as exc:
                print(f"sandbox event sources: {exc!r}", file=sys.stderr)
            self.changed.wait(_MAX_WAIT_SECONDS)

    def sync(self) -> None:
        """Start pollers for new / enabled mappings, stop those deleted or disabled."""
        wanted = {str(esm.uuid): esm for esm in _sqs_mappings() if _enabled(esm.enabled)}
        with self._lock:
            if self._stopping.is_set():
                return
            gone = [p for uuid, p in self._pollers.items() if uuid not in wanted or wanted[uuid] is not p.esm]
            for poller in gone:
                del self._pollers[poller.uuid]
            new = [_Poller(self, esm) for uuid, esm in wanted.items() if uuid not in self._pollers]
            for poller in new:
                self._pollers[poller.uuid] = poller
        for poller in gone:
            poller.stop()
        for poller in new:
            poller.start()
            self.state.log(
                "event-sources",
                f"polling {poller.queue_name} for mapping {poller.uuid}",
                mapping=poller.uuid,
                queue=poller.queue_name,
            )


def _sqs_mappings() -> list[Any]:
    from moto.awslambda.models import lambda_backends

    mappings = []
    for regions in list(lambda_backends.values()):
        for backend in list(regions.values()):
            for esm in list(backend._event_source_mappings.values()):
                if ":sqs:" in esm.event_source_arn:
                    mappings.append(esm)
    return mappings


# -- moto patches -----------------------------------------------------------------------------------------


def _patch_moto() -> None:
    """Switch off moto's synchronous invoke in ``Queue.add_message`` and wake the watcher whenever a
    mapping is created, updated or deleted. Idempotent."""
    global _PATCHED
    if _PATCHED:
        return
    from moto.awslambda.models import LambdaBackend
    from moto.sqs.models import Queue

    # add_message invokes every mapping in ``queue.lambda_event_source_mappings``; the pollers read the
    # lambda backend's own list instead, so the queue's copy is always empty (writes are discarded).
    setattr(Queue, "lambda_event_source_mappings", property(lambda self: {}, lambda self, value: None))  # noqa: B010

    def notifying(name: str) -> None:
        original = getattr(LambdaBackend, name)

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            if _ACTIVE is not None:
                _ACTIVE.changed.set()
            return result

        wrapper.__name__ = name
        setattr(LambdaBackend, name, wrapper)

    for name in ("create_event_source_mapping", "update_event_source_mapping", "delete_event_source_mapping"):
        notifying(name)
    _PATCHED = True
