"""Error types shared by the handlers and the classification of AWS errors.

The error policy (:mod:`lambda_handlers.common.shell`) rests on three kinds of failure: a
:class:`PermanentError` (bad input: the record goes to the DLQ), a :class:`TransientError` (throttling,
5xx, connection: SQS delivers the record again) and a :class:`ConfigError` (a deployment bug: the
invocation fails). Anything else is retried, then redriven to the DLQ by SQS.
"""

from __future__ import annotations

import traceback
from typing import Any


class ConfigError(RuntimeError):
    """Missing or invalid configuration; the message names the environment variable."""


class PermanentError(Exception):
    """The record can never be processed successfully; ``reason`` is safe to log (no PII, no body)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidMessageError(PermanentError):
    """The message body is not valid JSON or not a JSON object."""


class EnvelopeError(InvalidMessageError):
    """The record body is an SNS envelope, but a malformed one (its reason starts with ``SNS envelope:``)."""


class SchemaError(PermanentError):
    """The message violates its schema; ``reason`` names the offending field."""


class UnsupportedSchemaVersionError(SchemaError):
    """The message uses a schema major version this handler does not understand."""


class TransientError(Exception):
    """A temporary failure (throttling, 5xx, network); the record must be retried."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


# Error codes that mean "slow down / try again later" across SES, SESv2, DynamoDB, SNS and SQS.
TRANSIENT_ERROR_CODES = frozenset(
    {
        # generic AWS throttling
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "BandwidthLimitExceeded",
        # SES / SESv2
        "LimitExceededException",
        "SendingPausedException",
        # DynamoDB
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "TransactionConflictException",
        # KMS (encrypted topics / queues / tables)
        "KMSThrottlingException",
        "KMSInternalException",
        # server side
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServerErrorException",
        "InternalErrorException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

# Substrings of error messages that mark throttling when the code is unspecific (SES v1 uses
# ``Throttling`` with "Maximum sending rate exceeded.", older SDKs surface it as a plain message).
TRANSIENT_MESSAGE_MARKERS = ("maximum sending rate exceeded", "rate exceeded", "daily message quota exceeded")


def _error_response(exc: BaseException) -> tuple[str | None, str, int | None]:
    """Code, message and HTTP status of a botocore ``ClientError`` (duck-typed)."""
    response: Any = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None, "", None
    error, metadata = response.get("Error"), response.get("ResponseMetadata")
    error = error if isinstance(error, dict) else {}
    status = metadata.get("HTTPStatusCode") if isinstance(metadata, dict) else None
    code = error.get("Code")
    return (
        str(code) if code is not None else None,
        str(error.get("Message", "")),
        status if isinstance(status, int) else None,
    )


def client_error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (duck-typed), else ``None``."""
    return _error_response(exc)[0]


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a throttling, server-side or connection error worth retrying."""
    if isinstance(exc, TransientError):
        return True
    # botocore's connection/timeout errors; imported lazily to keep this module import-light.
    from botocore.exceptions import ConnectionError as BotocoreConnectionError
    from botocore.exceptions import HTTPClientError, ReadTimeoutError

    if isinstance(exc, BotocoreConnectionError | HTTPClientError | ReadTimeoutError):
        return True
    code, message, status = _error_response(exc)
    if code is None:
        return False
    if code in TRANSIENT_ERROR_CODES or (status is not None and (status >= 500 or status == 429)):
        return True
    return any(marker in message.lower() for marker in TRANSIENT_MESSAGE_MARKERS)


def safe_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` (and its causes) with every exception *message* left out.

    Frames show file, line, function and source line only: exception messages may carry input text or an
    AWS error message (``MessageRejected: Email address is not verified ... jane@example.com``), which
    must never reach the logs. Each exception is shown as its type plus, for AWS errors, the error code.
    """
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.format_list(traceback.extract_tb(current.__traceback__)))
        code = client_error_code(current)
        label = type(current).__qualname__ + (f" (error code {code})" if code else "")
        parts.append(f"Traceback (most recent call last):\n{frames}{label}")
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return "\n\nwhich was raised while handling\n\n".join(reversed(parts))
