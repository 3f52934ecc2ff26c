"""SNS delivery in the sandbox: SMS, e-mail, HTTP (a local server), push, filter policies, dead-letter
queues and automatic confirmation."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from notification_constructs.testing.sandbox import Sandbox


class Receiver:
    """A local HTTP endpoint on 127.0.0.1 that records POSTs and answers with ``status``."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], str]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sns"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def notifications(self) -> list[tuple[dict[str, str], str]]:
        return [r for r in self.requests if r[0].get("x-amz-sns-message-type") == "Notification"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.server.shutdown()


@pytest.fixture(autouse=True)
def _clean_outbox(sandbox: Sandbox) -> None:
    sandbox.control("DELETE", "outbox")


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def idle(sandbox: Sandbox) -> None:
    wait_for(lambda: sandbox.control("GET", "busy")["details"].get("sns-deliveries", 0) == 0)


def topic(sandbox: Sandbox, name: str) -> str:
    return str(sandbox.client("sns").create_topic(Name=name)["TopicArn"])


def queue(sandbox: Sandbox, name: str) -> tuple[str, str]:
    sqs = sandbox.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def bodies(sandbox: Sandbox, url: str) -> list[str]:
    messages = sandbox.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in messages]


def test_sms_subscription_and_direct_publish_reach_the_outbox(sandbox: Sandbox) -> None:
    sns = sandbox.client("sns")
    arn = topic(sandbox, "sms-alerts")
    sns.subscribe(TopicArn=arn, Protocol="sms", Endpoint="+15555550100")
    # WHEN a topic message and a direct SMS (with SMS attributes) are published, and one to an opted-out number
    sns.publish(TopicArn=arn, Message="Topic alert")
    sns.publish(
        PhoneNumber="+15555550101",
        Message="Direct",
        MessageAttributes={
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
            "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "SHOP"},
        },
    )
    opted_out = sns.list_phone_numbers_opted_out()["phoneNumbers"][0]
    sns.publish(PhoneNumber=opted_out, Message="Never sent")
    # THEN two SMS, with their type and sender id, none for the opted-out number
    sms = sandbox.control("GET", "outbox", query={"kind": "sms"})
    assert [(s["phone_number"], s["message"]) for s in sms] == [
        ("+15555550100", "Topic alert"),
        ("+15555550101", "Direct"),
    ]
    assert (sms[0]["sms_type"], sms[0]["topic_arn"]) == ("Promotional", arn)
    assert (sms[1]["sms_type"], sms[1]["sender_id"]) == ("Transactional", "SHOP")


def test_email_subscriptions_are_confirmed_and_receive_messages(sandbox: Sandbox) -> None:
    sns = sandbox.client("sns")
    arn = topic(sandbox, "email-alerts")
    # WHEN e-mail and e-mail-json endpoints subscribe
    plain = sns.subscribe(
        TopicArn=arn, Protocol="email", Endpoint="ops@example.com", ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    sns.subscribe(TopicArn=arn, Protocol="email-json", Endpoint="bot@example.com")
    # THEN they are confirmed at once, and the confirmation requests are recorded
    attributes = sns.get_subscription_attributes(SubscriptionArn=plain)["Attributes"]
    assert attributes["PendingConfirmation"] == "false"
    confirmations = sandbox.control("GET", "outbox", query={"kind": "sns-email"})
    assert [c["message_type"] for c in confirmations] == ["SubscriptionConfirmation"] * 2
    assert "Action=ConfirmSubscription" in confirmations[0]["subscribe_url"]
    assert confirmations[0]["subscribe_url"].startswith(sandbox.endpoint_url)
    sandbox.control("DELETE", "outbox")
    # AND a publish reaches both, e-mail-json as SNS's JSON envelope
    sns.publish(TopicArn=arn, Message="Disk full", Subject="Alert")
    emails = sandbox.control("GET", "outbox", query={"kind": "sns-email"})
    assert [(e["to"], e["subject"]) for e in emails] == [
        ("ops@example.com", "Alert"),
        ("bot@example.com", "Alert"),
    ]
    assert emails[0]["message"] == "Disk full"
    envelope = json.loads(emails[1]["message"])
    assert (envelope["Type"], envelope["Message"], envelope["Subject"]) == (
        "Notification",
        "Disk full",
        "Alert",
    )


def test_http_delivery_posts_with_sns_headers_and_retries(sandbox: Sandbox, receiver: Receiver) -> None:
    sns = sandbox.client("sns")
    arn = topic(sandbox, "http-alerts")
    subscription = sns.subscribe(
        TopicArn=arn, Protocol="http", Endpoint=receiver.url, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    idle(sandbox)
    # GIVEN the confirmation request was POSTed
    assert [r[0]["x-amz-sns-message-type"] for r in receiver.requests] == ["SubscriptionConfirmation"]
    assert json.loads(receiver.requests[0][1])["SubscribeURL"].startswith(sandbox.endpoint_url)
    # WHEN the endpoint fails once with a 500, then accepts
    receiver.statuses = [500]
    sns.publish(
        TopicArn=arn,
        Message="hello",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
    )
    idle(sandbox)
    # THEN the notification is retried and delivered, with SNS's headers and envelope
    notifications = receiver.notifications()
    assert len(notifications) == 2
    headers, body = notifications[-1]
    assert headers["x-amz-sns-topic-arn"] == arn
    assert headers["x-amz-sns-subscription-arn"] == subscription
    envelope = json.loads(body)
    assert headers["x-amz-sns-message-id"] == envelope["MessageId"]
    assert (envelope["Type"], envelope["Message"]) == ("Notification", "hello")
    assert envelope["MessageAttributes"] == {"kind": {"Type": "String", "Value": "test"}}
    assert {"Signature", "SignatureVersion", "SigningCertURL", "UnsubscribeURL", "Timestamp"} <= set(envelope)
    [record] = [
        h
        for h in sandbox.control("GET", "outbox", query={"kind": "http"})
        if h["message_type"] == "Notification"
    ]
    assert (record["status"], record["attempts"]) == (200, 2)


def test_http_delivery_to_non_loopback_fails_to_the_dead_letter_queue(sandbox: Sandbox) -> None:
    sns = sandbox.client("sns")
    arn = topic(sandbox, "offsite")
    dlq_url, dlq_arn = queue(sandbox, "offsite-dlq")
    subscription = sns.subscribe(
        TopicArn=arn, Protocol="https", Endpoint="https://example.com/hook", ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    sns.set_subscription_attributes(
        SubscriptionArn=subscription,
        AttributeName="RedrivePolicy",
        AttributeValue=json.dumps({"deadLetterTargetArn": dlq_arn}),
    )
    sns.publish(TopicArn=arn, Message="never leaves")
    idle(sandbox)
    failed = [
        h
        for h in sandbox.control("GET", "outbox", query={"kind": "http"})
        if h["message_type"] == "Notification"
    ]
    assert [(h["status"], h["error"]) for h in failed] == [(None, "not a loopback endpoint")]
    [dead] = bodies(sandbox, dlq_url)
    assert json.loads(dead)["Message"] == "never leaves"


def test_push_delivery_picks_the_platform_key(sandbox: Sandbox) -> None:
    sns = sandbox.client("sns")
    app = sns.create_platform_application(
        Name="shop-app", Platform="GCM", Attributes={"PlatformCredential": "key"}
    )["PlatformApplicationArn"]
    endpoint = sns.create_platform_endpoint(PlatformApplicationArn=app, Token="device-token-1")["EndpointArn"]
    arn = topic(sandbox, "push-alerts")
    sns.subscribe(TopicArn=arn, Protocol="application", Endpoint=endpoint)
    gcm = json.dumps({"notification": {"title": "Shipped"}})
    sns.publish(TopicArn=arn, MessageStructure="json", Message=json.dumps({"default": "Shipped", "GCM": gcm}))
    sns.publish(TargetArn=endpoint, Message="direct")
    pushes = sandbox.control("GET", "outbox", query={"kind": "push"})
    assert [(p["endpoint_arn"], p["platform"], p["token"], p["message"]) for p in pushes] == [
        (endpoint, "GCM", "device-token-1", gcm),
        (endpoint, "GCM", "device-token-1", "direct"),
    ]


def test_filter_policies_on_attributes_and_on_the_message_body(sandbox: Sandbox) -> None:
    sns = sandbox.client("sns")
    arn = topic(sandbox, "orders")
    by_attribute_url, by_attribute_arn = queue(sandbox, "by-attribute")
    by_body_url, by_body_arn = queue(sandbox, "by-body")
    sns.subscribe(
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=by_attribute_arn,
        Attributes={
            "FilterPolicy": json.dumps({"event_type": ["order.placed"]}),
            "RawMessageDelivery": "true",
        },
    )
    body_subscription = sns.subscribe(
        TopicArn=arn, Protocol="sqs", Endpoint=by_body_arn, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    sns.set_subscription_attributes(
        SubscriptionArn=body_subscription,
        AttributeName="FilterPolicy",
        AttributeValue=json.dumps({"status": ["shipped"]}),
    )
    sns.set_subscription_attributes(
        SubscriptionArn=body_subscription, AttributeName="FilterPolicyScope", AttributeValue="MessageBody"
    )

    def publish(message: dict[str, Any], event_type: str) -> None:
        sns.publish(
            TopicArn=arn,
            Message=json.dumps(message),
            MessageAttributes={"event_type": {"DataType": "String", "StringValue": event_type}},
        )

    publish({"status": "shipped", "id": 1}, "order.placed")
    publish({"status": "pending", "id": 2}, "order.cancelled")
    assert [json.loads(b)["id"] for b in bodies(sandbox, by_attribute_url)] == [1]
    assert [json.loads(json.loads(b)["Message"])["id"] for b in bodies(sandbox, by_body_url)] == [1]


def test_lambda_delivery_failure_goes_to_the_dead_letter_queue(sandbox: Sandbox) -> None:
    sns = sandbox.client("sns")
    arn = topic(sandbox, "to-lambda")
    dlq_url, dlq_arn = queue(sandbox, "to-lambda-dlq")
    function = "arn:aws:lambda:us-east-1:123456789012:function:does-not-exist"
    subscription = sns.subscribe(
        TopicArn=arn, Protocol="lambda", Endpoint=function, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    sns.set_subscription_attributes(
        SubscriptionArn=subscription,
        AttributeName="RedrivePolicy",
        AttributeValue=json.dumps({"deadLetterTargetArn": dlq_arn}),
    )
    sns.publish(TopicArn=arn, Message="for a missing function")
    [dead] = wait_for(lambda: bodies(sandbox, dlq_url))
    assert json.loads(dead)["Message"] == "for a missing function"
