"""AWS access of the reply classifier: read the raw mail from S3, forward by SESv2 and to SQS."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from lambda_handlers.common.aws import make_client
from lambda_handlers.common.errors import PermanentError, TransientError, client_error_code, is_transient

_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_READ_CHUNK_BYTES = 256 * 1024


class MissingMailError(PermanentError):
    """The object the notification names is not in the bucket (expired, deleted, never written)."""


class MailTooLargeError(PermanentError):
    """The stored mail is larger than the classifier's cap (``MAX_INBOUND_MESSAGE_BYTES``)."""


class ForwardRejectedError(PermanentError):
    """SES refused the forwarded message (``MessageRejected``, e.g. a virus, or an unverified From)."""


class S3MailStore:
    """``s3:GetObject`` of one stored mail, streamed and capped: at most ``max_bytes`` are ever read."""

    @cached_property
    def client(self) -> Any:
        return make_client("s3")

    def read(self, bucket: str, key: str, *, max_bytes: int) -> bytes:
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if client_error_code(exc) in _MISSING_CODES:
                raise MissingMailError("stored mail not found in the bucket (NoSuchKey)") from None
            raise
        length = response.get("ContentLength")
        body = response["Body"]
        try:
            if isinstance(length, int) and length > max_bytes:
                raise MailTooLargeError(f"stored mail is {length} bytes; the cap is {max_bytes}")
            chunks: list[bytes] = []
            size = 0
            while chunk := body.read(min(_READ_CHUNK_BYTES, max_bytes + 1 - size)):
                chunks.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    raise MailTooLargeError(f"stored mail exceeds the cap of {max_bytes} bytes")
            return b"".join(chunks)
        finally:
            body.close()


class SesV2Forwarder:
    """SESv2 ``SendEmail`` with raw content; returns the SES message id.

    botocore retries throttling and 5xx itself (standard mode): a forward repeated after a lost response
    sends a duplicate, which for a human reply forwarded to a team inbox is the lesser harm than losing it.
    """

    @cached_property
    def client(self) -> Any:
        return make_client("sesv2")

    def send(self, request: Mapping[str, Any]) -> str:
        try:
            return str(self.client.send_email(**request)["MessageId"])
        except Exception as exc:
            code = client_error_code(exc)  # SES's message may quote an address: only the code is kept
            if code in ("MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException"):
                raise ForwardRejectedError(f"SES refused the forwarded reply ({code})") from None
            if isinstance(exc, TransientError) or not is_transient(exc):
                raise
            raise TransientError(f"SES SendEmail failed with a retryable error ({code})", code=code) from exc


class SqsReplyQueue:
    """``sqs:SendMessage`` of the forward-queue message (JSON)."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    @cached_property
    def client(self) -> Any:
        return make_client("sqs")

    def send(self, message: Mapping[str, Any], *, deduplication_id: str) -> None:
        request: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MessageBody": json.dumps(message, ensure_ascii=False, separators=(",", ":")),
        }
        if self.queue_url.endswith(".fifo"):
            request["MessageGroupId"] = deduplication_id
            request["MessageDeduplicationId"] = deduplication_id[:128]
        self.client.send_message(**request)
