"""AWS access of the order e-mail sender (clients are created on first use)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from lambda_handlers.common.aws import DeadlineExceededError, deadline, make_client
from lambda_handlers.common.errors import PermanentError, TransientError, client_error_code, is_transient
from lambda_handlers.order_email_sender.logic import SendEmailRequest

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
    """SES refused this message (``MessageRejected``: e.g. it contains a virus)."""


@dataclass(kw_only=True)
class SesV2EmailGateway:
    """SESv2 ``SendEmail``: one HTTP attempt per call, at most :data:`SEND_MAX_ATTEMPTS` calls per record,
    retrying only what :func:`proves_not_accepted`; returns the SES message id."""

    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[float, float], float] = random.uniform

    @cached_property
    def client(self) -> Any:
        return make_client("sesv2", max_attempts=1, reserve_seconds=SEND_RESERVE_SECONDS)

    def send(self, request: SendEmailRequest) -> str:
        params = request.to_sesv2_params()
        attempt = 1
        while True:
            try:
                return str(self.client.send_email(**params)["MessageId"])
            except Exception as exc:
                if attempt < SEND_MAX_ATTEMPTS and proves_not_accepted(exc) and self._back_off(attempt):
                    attempt += 1
                    continue
                # SES's error message may quote the address: only the code is kept.
                code = client_error_code(exc)
                if code == "MessageRejected":
                    raise EmailRejectedError(f"SES rejected the message ({code})") from exc
                if isinstance(exc, TransientError) or not is_transient(exc):
                    raise
                code = code or type(exc).__name__
                raise TransientError(
                    f"SES SendEmail failed with a retryable error ({code})", code=code
                ) from exc

    def _back_off(self, attempt: int) -> bool:
        """Sleep before the next attempt; ``False`` if the invocation has no time left for one after it."""
        delay = self.jitter(
            0.0, min(SEND_BACKOFF_MAX_SECONDS, SEND_BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        )
        try:
            deadline.read_timeout(reserve=delay + SEND_RESERVE_SECONDS)
        except DeadlineExceededError:
            return False
        self.sleep(delay)
        return True
