"""Receiving mail in the sandbox: what SES does for a receipt rule's S3 action, done by hand.

SES email receiving is not part of the sandbox (nothing listens for SMTP, moto runs no receipt rules).
:func:`receive_email` stands in for it against a deployed :class:`~notification_constructs.InboundReplies`
(or any S3 action): it stores the raw mail as ``<prefix><message id>`` in the bucket, then publishes the
``Received`` notification of an S3 action to the topic
(https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-contents.html), so the topic's
subscriptions - the classifier's queue - fire as they would in AWS. Spam, virus, SPF, DKIM and DMARC
verdicts are reported as ``PASS``.

:func:`deliver_to_active_rule_set` goes one step further: it reads the account's active receipt rule set
(``DescribeActiveReceiptRuleSet``) and runs the S3 action of every enabled rule whose recipients match, in
rule order, up to a ``StopAction``; other actions are not modelled.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import compat32
from email.utils import parseaddr
from typing import Any

from lambda_handlers.contracts import INBOUND_OBJECT_PREFIX

__all__ = ["deliver_to_active_rule_set", "receipt_notification", "receive_email", "rule_matches"]

_PASS = {"status": "PASS"}


def receipt_notification(
    raw: bytes,
    *,
    bucket: str,
    key: str,
    topic_arn: str,
    recipients: Sequence[str],
    message_id: str,
    prefix: str = INBOUND_OBJECT_PREFIX,
    received_at: datetime | None = None,
) -> dict[str, Any]:
    """The notification SES publishes for a mail the S3 action stored as ``key`` (the headers of ``raw``
    in ``mail.headers`` and ``mail.commonHeaders``, as SES copies them)."""
    message = message_from_bytes(raw, policy=compat32)
    timestamp = (received_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    source = parseaddr(str(message.get("Return-Path") or message.get("From") or ""))[1]
    headers = [{"name": name, "value": str(value)} for name, value in message.items()]
    common: dict[str, Any] = {
        "returnPath": source,
        "from": [str(v) for v in message.get_all("From") or []],
        "to": [str(v) for v in message.get_all("To") or []],
        "messageId": str(message.get("Message-ID") or ""),
        "subject": str(message.get("Subject") or ""),
    }
    if message.get("Date") is not None:
        common["date"] = str(message["Date"])
    return {
        "notificationType": "Received",
        "receipt": {
            "timestamp": timestamp,
            "processingTimeMillis": 1,
            "recipients": list(recipients),
            "spamVerdict": _PASS,
            "virusVerdict": _PASS,
            "spfVerdict": _PASS,
            "dkimVerdict": _PASS,
            "dmarcVerdict": _PASS,
            "action": {
                "type": "S3",
                "topicArn": topic_arn,
                "bucketName": bucket,
                "objectKeyPrefix": prefix,
                "objectKey": key,
            },
        },
        "mail": {
            "timestamp": timestamp,
            "source": source,
            "messageId": message_id,
            "destination": list(recipients),
            "headersTruncated": False,
            "headers": headers,
            "commonHeaders": common,
        },
    }


def receive_email(
    client: Callable[[str], Any],
    raw: bytes,
    *,
    bucket: str,
    topic_arn: str,
    recipients: Sequence[str],
    prefix: str = INBOUND_OBJECT_PREFIX,
    message_id: str | None = None,
) -> str:
    """Store ``raw`` in ``bucket`` and notify ``topic_arn`` (if any) as SES's S3 action would; returns the
    SES-style message id (the object key after ``prefix``). ``client`` makes boto3 clients (``Sandbox.client``)."""
    message_id = message_id or uuid.uuid4().hex
    key = f"{prefix}{message_id}"
    client("s3").put_object(Bucket=bucket, Key=key, Body=raw)
    notification = receipt_notification(
        raw,
        bucket=bucket,
        key=key,
        topic_arn=topic_arn,
        recipients=recipients,
        message_id=message_id,
        prefix=prefix,
    )
    if topic_arn:
        client("sns").publish(TopicArn=topic_arn, Message=json.dumps(notification))
    return message_id


def rule_matches(rule_recipients: Sequence[str], recipient: str) -> bool:
    """SES's recipient match: no recipients = every address; an address matches itself, a domain its
    addresses, a domain with a leading dot the addresses of its subdomains."""
    if not rule_recipients:
        return True
    address = recipient.strip().lower()
    domain = address.rpartition("@")[2]
    for entry in (r.strip().lower() for r in rule_recipients):
        if entry in (address, domain) or (entry.startswith(".") and domain.endswith(entry)):
            return True
    return False


def deliver_to_active_rule_set(
    client: Callable[[str], Any], raw: bytes, *, recipients: Sequence[str], message_id: str | None = None
) -> list[str]:
    """Run the S3 actions of the active rule set's matching rules for ``raw``; returns the object keys
    stored (empty: no active set, or no rule matched - SES would reject the mail)."""
    active = client("ses").describe_active_receipt_rule_set()
    message_id = message_id or uuid.uuid4().hex
    keys: list[str] = []
    for rule in active.get("Rules") or []:
        matched = [r for r in recipients if rule_matches(rule.get("Recipients") or [], r)]
        if not rule.get("Enabled") or not matched:
            continue
        for action in rule.get("Actions") or []:
            if "StopAction" in action:
                return keys
            s3_action = action.get("S3Action")
            if not s3_action:
                continue
            prefix = s3_action.get("ObjectKeyPrefix") or ""
            receive_email(
                client,
                raw,
                bucket=s3_action["BucketName"],
                topic_arn=s3_action.get("TopicArn") or "",
                recipients=matched,
                prefix=prefix,
                message_id=message_id,
            )
            keys.append(f"{prefix}{message_id}")
    return keys
