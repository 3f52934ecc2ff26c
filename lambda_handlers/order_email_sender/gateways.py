"""AWS access of the order e-mail sender, behind small protocols (clients are created lazily)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import cached_property
from typing import Any, Protocol

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from lambda_handlers.common.addresses import normalize_address
from lambda_handlers.common.aws import (
    CONNECT_TIMEOUT_SECONDS,
    MIN_ATTEMPT_SECONDS,
    SINGLE_ATTEMPT,
    deadline,
    make_client,
)
from lambda_handlers.common.errors import (
    PermanentError,
    TransientError,
    as_transient,
    client_error_code,
    is_transient,
)
from lambda_handlers.order_email_sender.logic import SendEmailRequest

# SESv2 SendEmail errors that concern this particular message: retrying cannot help.
PERMANENT_SEND_ERROR_CODES = frozenset({"MessageRejected"})

# The send retry budget. SendEmail is not idempotent and the idempotency record is still "in progress"
# during the call, so a request that may have reached SES is never repeated in-process (botocore makes one
# attempt per call). Only answers that prove SES did not accept the message are retried here:
THROTTLING_CODES = frozenset({"TooManyRequestsException", "Throttling", "LimitExceededException"})
THROTTLING_STATUSES = frozenset({400, 429})
SEND_MAX_ATTEMPTS = 3
"""Attempts per record and invocation (the first one included); then the record fails as transient."""
SEND_BACKOFF_BASE_SECONDS = 0.1
SEND_BACKOFF_MAX_SECONDS = 1.0
"""Full-jitter backoff before retry ``n``: uniform(0, min(max, base * 2**(n-1))) seconds."""
SEND_RESERVE_SECONDS = 1.0
"""Kept free of the SendEmail read timeout: completing the idempotency record must still fit after it."""


def proves_not_accepted(exc: BaseException) -> bool:
    """Whether ``exc`` proves SES did not accept the message, so sending again cannot duplicate it.

    Throttling answers (``TooManyRequestsException`` / ``Throttling`` / ``LimitExceededException`` with
    HTTP 429 or 400) and connection errors raised before the request was sent. A read timeout, a 5xx or
    a connection dropped after sending prove nothing: SES may have accepted the message.
    """
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return True
    if not isinstance(exc, ClientError):
        return False
    response: Any = exc.response
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return client_error_code(exc) in THROTTLING_CODES and status in THROTTLING_STATUSES


class EmailRejectedError(PermanentError):
    """SES refused this message (e.g. it contains a virus or the recipient is not allowed)."""


class SuppressionList(Protocol):
    def is_suppressed(self, address: str) -> bool: ...


class EmailGateway(Protocol):
    def send(self, request: SendEmailRequest) -> str:
        """Send the e-mail and return the SES message id."""
        ...


class DynamoDbSuppressionList:
    """Reads the suppression table: partition key ``address`` (S, lower-cased); an item = suppressed."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

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


class SesV2EmailGateway:
    """Sends through SESv2 ``SendEmail``: one HTTP attempt per call, at most :data:`SEND_MAX_ATTEMPTS`
    calls per record, retrying only what :func:`proves_not_accepted`."""

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self._sleep = sleep
        self._jitter = jitter

    @cached_property
    def client(self) -> Any:
        return make_client("sesv2", max_attempts=SINGLE_ATTEMPT, reserve_seconds=SEND_RESERVE_SECONDS)

    def send(self, request: SendEmailRequest) -> str:
        params = request.to_sesv2_params()
        attempt = 1
        while True:
            try:
                response = self.client.send_email(**params)
            except Exception as exc:
                if attempt < SEND_MAX_ATTEMPTS and proves_not_accepted(exc) and self._back_off(attempt):
                    attempt += 1
                    continue
                mapped = _send_error(exc)
                if mapped is exc:
                    raise
                raise mapped from exc
            return str(response["MessageId"])

    def _back_off(self, attempt: int) -> bool:
        """Sleep before the next attempt; ``False`` if the invocation has no time left for one."""
        delay = self._jitter(
            0.0, min(SEND_BACKOFF_MAX_SECONDS, SEND_BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        )
        left = deadline.seconds_left()
        needed = delay + SEND_RESERVE_SECONDS + CONNECT_TIMEOUT_SECONDS + MIN_ATTEMPT_SECONDS
        if left is not None and left < needed:
            return False
        self._sleep(delay)
        return True


def _send_error(exc: Exception) -> Exception:
    """The error policy's view of a failed send (SES's message may quote the address: only the code is kept)."""
    if isinstance(exc, TransientError):
        return exc
    code = client_error_code(exc)
    if code in PERMANENT_SEND_ERROR_CODES:
        return EmailRejectedError(f"SES rejected the message ({code})")
    if is_transient(exc):
        return as_transient(exc, "SES SendEmail")
    return exc
