"""Reading what the pipelines left behind, with plain boto3 clients (a sandbox's or a real account's)."""

from __future__ import annotations

from typing import Any


def scan_table(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every item of ``table`` as plain Python values (strongly consistent scan, all pages)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**kwargs)
        items += [{k: deserializer.deserialize(v) for k, v in item.items()} for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def peek_messages(sqs: Any, queue_url: str, *, max_messages: int = 1000) -> list[dict[str, Any]]:
    """The messages in a queue (typically a DLQ), left in it: each is received with a short visibility
    timeout and made visible again at once. Returns SQS ``Message`` dicts with ``MessageAttributes``; a
    handler's ``failure_reason`` attribute (if any) is copied to ``"reason"``."""
    found: dict[str, dict[str, Any]] = {}
    empty_polls = 0
    while len(found) < max_messages and empty_polls < 2:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30, MessageAttributeNames=["All"]
        ).get("Messages", [])
        new = [m for m in batch if m["MessageId"] not in found]
        empty_polls = 0 if new else empty_polls + 1
        for message in new:
            reason = message.get("MessageAttributes", {}).get("failure_reason", {}).get("StringValue")
            found[message["MessageId"]] = {**message, "reason": reason}
    for message in found.values():
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return list(found.values())
