"""Forwarding permanently failing records to a dead-letter queue."""

from __future__ import annotations

from typing import Any, Protocol

from lambda_handlers.common.aws import LazyClient
from lambda_handlers.contracts import FAILURE_REASON_ATTRIBUTE, SOURCE_MESSAGE_ID_ATTRIBUTE

_MAX_REASON_LENGTH = 1024


class DeadLetterForwarder(Protocol):
    """Sends the original record body to the DLQ; raises if that fails."""

    def forward(
        self, *, body: str, reason: str, source_message_id: str, message_group_id: str | None
    ) -> None: ...


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
    """:class:`DeadLetterForwarder` backed by ``sqs:SendMessage``."""

    def __init__(self, queue_url: str, client: Any | None = None) -> None:
        self.queue_url = queue_url
        self._sqs = LazyClient("sqs", client)

    @property
    def client(self) -> Any:
        """The boto3 client (created on first access)."""
        return self._sqs.client

    def forward(
        self, *, body: str, reason: str, source_message_id: str, message_group_id: str | None
    ) -> None:
        request = build_dead_letter_request(
            queue_url=self.queue_url,
            body=body,
            reason=reason,
            source_message_id=source_message_id,
            message_group_id=message_group_id,
        )
        self._sqs.client.send_message(**request)


def dead_letter_forwarder(queue_url: str | None) -> DeadLetterForwarder | None:
    """The forwarder for ``DEAD_LETTER_QUEUE_URL``, or ``None`` when it is not configured."""
    return SqsDeadLetterForwarder(queue_url) if queue_url else None
