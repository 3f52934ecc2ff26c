"""What the scenarios use to watch a pipeline from outside: an SQS queue subscribed to a topic (so every
message the topic publishes can be read back, as an operator's test subscription would) and polling for a
condition with a deadline."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any


class TopicObserver:
    """A queue of its own subscribed to ``topic_arn`` (SNS envelopes, not raw delivery); :meth:`drain` reads
    what arrived since the last call, :meth:`close` unsubscribes and deletes the queue."""

    def __init__(self, sqs: Any, sns: Any, *, queue_name: str, topic_arn: str) -> None:
        self.sqs, self.sns = sqs, sns
        self.url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=self.url, Attributes={"Policy": json.dumps(policy)})
        self.subscription_arn = sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "false"},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]

    def drain(self) -> list[dict[str, Any]]:
        """The SNS envelopes (``Message``, ``Subject``, ``MessageAttributes``, ...) received since last time."""
        envelopes: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            if not batch:
                return envelopes
            envelopes.extend(json.loads(m["Body"]) for m in batch)
            self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )

    def close(self) -> None:
        try:
            self.sns.unsubscribe(SubscriptionArn=self.subscription_arn)
        finally:
            self.sqs.delete_queue(QueueUrl=self.url)


def wait_for(
    what: str, condition: Callable[[], bool], *, timeout: float, progress: Callable[[str], None]
) -> bool:
    """Poll ``condition`` every 0.5 s until it holds (True) or ``timeout`` passes (False, said through
    ``progress``: the scenario then reports what happened instead of failing early)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    progress(f"   timed out after {timeout:.0f} s waiting for {what}; reporting what happened")
    return False
