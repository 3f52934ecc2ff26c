"""boto3 client construction shared by the gateways, and the time budget of the running invocation.

Every AWS call is bounded twice: by the caps below (connect / read timeout per attempt) and by what is
left of the invocation (``context.get_remaining_time_in_millis()``, registered by the shell with
:meth:`InvocationDeadline.running`). Before each HTTP attempt a ``before-send`` hook shortens the read
timeout to the time left minus :data:`RESPONSE_MARGIN_SECONDS` (and the client's own ``reserve``), and
refuses the attempt with a :class:`DeadlineExceededError` (transient) when less than
:data:`MIN_ATTEMPT_SECONDS` would remain. A hanging call therefore fails one record, and the batch
response is returned before the function times out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from lambda_handlers.common.errors import TransientError

CONNECT_TIMEOUT_SECONDS = 1.0
"""Cap on establishing a connection (TCP + TLS) per attempt; in-region AWS endpoints answer in ms."""
READ_TIMEOUT_SECONDS = 5.0
"""Cap on waiting for a response per attempt (shortened further when the invocation has less time left)."""
MAX_ATTEMPTS = 3
"""botocore "standard" retries (throttling, 5xx, connection errors) for clients whose calls are safe to
repeat: DynamoDB (conditional or idempotent writes, reads) and SQS - not SES ``SendEmail`` (its gateway)."""

RESPONSE_MARGIN_SECONDS = 1.0
"""Kept free at the end of every invocation: the shell logs, flushes metrics and returns the batch response."""
MIN_ATTEMPT_SECONDS = 0.2
"""An HTTP attempt is not started with less read time than this (after the margins)."""
MIN_RECORD_SECONDS = 3.0
"""A record is only started with at least this much time left (after the response margin); the others
are reported as transient batch item failures and SQS delivers them again."""


class DeadlineExceededError(TransientError):
    """Too little of the invocation is left to start this call or record; SQS redelivers the record."""

    def __init__(self, what: str) -> None:
        super().__init__(f"not enough time left in the invocation to start {what}", code="InvocationDeadline")


class RemainingTime(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class InvocationDeadline:
    """When the running invocation must have returned (one invocation at a time per execution environment)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._ends_at: float | None = None

    @contextmanager
    def running(self, context: RemainingTime) -> Iterator[None]:
        """Bound every AWS call made inside the block by ``context``'s remaining time."""
        previous = self._ends_at
        self._ends_at = self.clock() + context.get_remaining_time_in_millis() / 1000
        try:
            yield
        finally:
            self._ends_at = previous

    def seconds_left(self) -> float | None:
        """Seconds until the response must be returned (margin deducted); ``None`` outside an invocation."""
        return None if self._ends_at is None else self._ends_at - RESPONSE_MARGIN_SECONDS - self.clock()

    def require(self, seconds: float, what: str) -> None:
        """Raise :class:`DeadlineExceededError` unless at least ``seconds`` are left."""
        left = self.seconds_left()
        if left is not None and left < seconds:
            raise DeadlineExceededError(what)

    def read_timeout(self, *, reserve: float = 0.0) -> float | None:
        """The read timeout for the next attempt, or ``None`` outside an invocation (the cap applies);
        ``reserve`` is kept free for what must follow the call. Raises :class:`DeadlineExceededError` if
        less than :data:`MIN_ATTEMPT_SECONDS` would remain for reading the response."""
        left = self.seconds_left()
        if left is None:
            return None
        budget = min(READ_TIMEOUT_SECONDS, left - reserve - CONNECT_TIMEOUT_SECONDS)
        if budget < MIN_ATTEMPT_SECONDS:
            raise DeadlineExceededError("an AWS call")
        return budget


#: The deadline of this execution environment's running invocation (set by the shell).
deadline = InvocationDeadline()


def make_client(service_name: str, *, max_attempts: int = MAX_ATTEMPTS, reserve_seconds: float = 0.0) -> Any:
    """A boto3 client for ``service_name`` with the handlers' timeouts, retries and deadline hook.

    ``max_attempts`` counts the first attempt (``1``: botocore never repeats a request);
    ``reserve_seconds`` is kept free of this client's calls for the work that must follow them.
    Region and credentials come from the Lambda environment (``AWS_REGION``, the execution role).
    """
    import boto3
    from botocore.config import Config

    def before_send(request: Any, **_: Any) -> None:
        timeout = deadline.read_timeout(reserve=reserve_seconds)
        if timeout is not None and isinstance(getattr(request, "context", None), dict):
            # botocore reads a per-request read timeout from the request context (URLLib3Session).
            request.context["read_timeout"] = timeout

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
    )
    # The default session caches the service models, so later clients are cheap to create.
    client = boto3.client(service_name, config=config)  # type: ignore[call-overload]
    client.meta.events.register("before-send.*", before_send)
    return client
