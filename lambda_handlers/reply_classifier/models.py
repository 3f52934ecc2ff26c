"""The SES receipt notification of an S3 action: where SES stored one received mail.

SES publishes ``{"notificationType": "Received", "receipt": {..., "action": {"type": "S3", "bucketName",
"objectKeyPrefix", "objectKey", "topicArn"}}, "mail": {"messageId", "timestamp", ...}}`` to the S3 action's
topic (https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-contents.html); only the
fields the classifier needs are parsed. The raw mail in S3 is the authority for everything else: the
notification's header copy may be truncated (``headersTruncated``).

Parsing is total: any body yields a :class:`StoredMail`, ``None`` (a notification that announces no stored
mail, such as another action's) or a :class:`SchemaError` naming the field, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambda_handlers.common.envelope import unwrap_message
from lambda_handlers.common.errors import SchemaError

RECEIVED = "Received"
S3_ACTION = "S3"
# S3 bucket names (3-63 characters) and SES message ids (letters and digits) reach the logs: strict shapes.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9]{1,100}$")
MAX_KEY_LENGTH = 1024


@dataclass(frozen=True)
class StoredMail:
    """One received mail as SES stored it."""

    bucket: str
    key: str
    ses_message_id: str
    received_at: str | None


def _mapping(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SchemaError(f"{field} must be an object")
    return value


def _string(container: Mapping[str, Any], name: str, field: str) -> str:
    value = container.get(name)
    if not isinstance(value, str) or not value:
        raise SchemaError(f"{field} must be a non-empty string")
    return value


def parse_notification(body: object) -> StoredMail | None:
    """The stored mail a record body announces (raw or in an SNS envelope); ``None`` for a notification
    of another type or action (nothing to classify)."""
    message = unwrap_message(body).message
    if message.get("notificationType") != RECEIVED:
        if "notificationType" not in message:
            raise SchemaError("notificationType is missing: not an SES receipt notification")
        return None
    receipt = _mapping(message.get("receipt"), "receipt")
    action = _mapping(receipt.get("action"), "receipt.action")
    if action.get("type") != S3_ACTION:
        return None
    mail = _mapping(message.get("mail"), "mail")
    bucket = _string(action, "bucketName", "receipt.action.bucketName")
    key = _string(action, "objectKey", "receipt.action.objectKey")
    message_id = _string(mail, "messageId", "mail.messageId")
    if not _BUCKET.fullmatch(bucket):
        raise SchemaError("receipt.action.bucketName is not an S3 bucket name")
    if len(key) > MAX_KEY_LENGTH or any(ord(c) < 32 for c in key):
        raise SchemaError("receipt.action.objectKey is not an S3 object key")
    if not _MESSAGE_ID.fullmatch(message_id):
        raise SchemaError("mail.messageId is not an SES message id")
    timestamp = mail.get("timestamp")
    return StoredMail(
        bucket=bucket,
        key=key,
        ses_message_id=message_id,
        received_at=timestamp if isinstance(timestamp, str) and len(timestamp) <= 40 else None,
    )
