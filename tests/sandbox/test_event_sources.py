"""SQS event source mappings in the sandbox: Lambda's polling, batching, concurrency and error handling."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from notification_constructs.testing.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[2]

RECORDER_SOURCE = """
import json
import os
import time


def handler(event, context):
    started = time.time()
    if float(os.environ.get("SLEEP", "0")):
        time.sleep(float(os.environ["SLEEP"]))
    failures = []
    with open(os.environ["RECORD_FILE"], "a") as f:
        f.write(json.dumps({"started": started, "ended": time.time(), "event": event}) + "\\n")
    for record in event["Records"]:
        if "bad" in record["body"]:
            failures.append({"itemIdentifier": record["messageId"]})
    if os.environ.get("RESPONSE") == "invalid":
        return {"batchItemFailures": [{"itemIdentifier": ""}]}
    return {"batchItemFailures": failures}
"""


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, source in files.items():
            archive.writestr(name, source)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def role_arn(sandbox: Sandbox) -> str:
    role = sandbox.client("iam").create_role(RoleName="event-source-tests", AssumeRolePolicyDocument="{}")
    return str(role["Role"]["Arn"])


@pytest.fixture(scope="module")
def lam(sandbox: Sandbox) -> Any:
    return sandbox.client("lambda")


@pytest.fixture(scope="module")
def sqs(sandbox: Sandbox) -> Any:
    return sandbox.client("sqs")


def make_queue(
    sqs: Any, *, visibility: int = 30, max_receive_count: int | None = None
) -> tuple[str, str, str | None]:
    """(url, arn, dead-letter queue url)."""
    name = f"q-{uuid.uuid4().hex[:8]}"
    attributes = {"VisibilityTimeout": str(visibility)}
    dlq_url = None
    if max_receive_count is not None:
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
        )
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn, dlq_url


def make_recorder(lam: Any, role_arn: str, record: Path, **env: str) -> str:
    name = f"rec-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role_arn,
        Handler="app.handler",
        Timeout=10,
        Code={"ZipFile": zip_of({"app.py": RECORDER_SOURCE})},
        Environment={"Variables": {"RECORD_FILE": str(record), **env}},
    )
    return name


def recorded(record: Path) -> list[dict[str, Any]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines() if line]


def wait_until(sandbox: Sandbox, condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s; server log {sandbox._log_path}")


def idle(sandbox: Sandbox) -> bool:
    return bool(sandbox.control("GET", "busy")["busy"] == 0)


def test_event_is_lambdas_sqs_event_and_arrives_quickly(
    sandbox: Sandbox, lam: Any, sqs: Any, role_arn: str, tmp_path: Path
) -> None:
    # GIVEN a warm function mapped to a queue
    record = tmp_path / "events.jsonl"
    name = make_recorder(lam, role_arn, record)
    lam.invoke(FunctionName=name, Payload=b'{"Records": []}')
    url, arn, _ = make_queue(sqs)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10)
    time.sleep(0.3)  # the poller starts

    # WHEN a message with attributes is sent
    sent_at = time.time()
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody='{"hello": "world"}',
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "greeting"},
            "size": {"DataType": "Number", "StringValue": "3"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    wait_until(sandbox, lambda: len(recorded(record)) == 2 and idle(sandbox))

    # THEN the function got Lambda's SQS event for it, within a fraction of a second
    invocation = recorded(record)[1]
    latency = invocation["started"] - sent_at
    assert latency < 0.5, f"poll latency {latency:.3f} s"
    (item,) = invocation["event"]["Records"]
    assert item["messageId"] == sent["MessageId"]
    assert item["receiptHandle"]
    assert item["body"] == '{"hello": "world"}'
    assert item["md5OfBody"] == hashlib.md5(b'{"hello": "world"}').hexdigest()
    assert item["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert item["eventSource"] == "aws:sqs"
    assert item["eventSourceARN"] == arn
    assert item["awsRegion"] == sandbox.region
    assert set(item["attributes"]) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert item["attributes"]["ApproximateReceiveCount"] == "1"
    assert item["messageAttributes"] == {
        "kind": {
            "stringValue": "greeting",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "size": {"stringValue": "3", "stringListValues": [], "binaryListValues": [], "dataType": "Number"},
        "blob": {
            "binaryValue": base64.b64encode(b"\x00\x01").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }
    # AND the message was deleted
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (
        attributes["ApproximateNumberOfMessages"]
        == attributes["ApproximateNumberOfMessagesNotVisible"]
        == "0"
    )


def test_partial_batch_failure_deletes_successes_and_redrives_failures_to_the_dlq(
    sandbox: Sandbox, lam: Any, sqs: Any, role_arn: str, tmp_path: Path
) -> None:
    # GIVEN a mapping with ReportBatchItemFailures on a queue with a 1 s visibility timeout and a DLQ
    record = tmp_path / "events.jsonl"
    name = make_recorder(lam, role_arn, record)
    url, arn, dlq_url = make_queue(sqs, visibility=1, max_receive_count=2)
    lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )

    # WHEN two good messages and a bad one (reported as failed) are sent
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "1", "MessageBody": "good-1"},
            {"Id": "2", "MessageBody": "bad"},
            {"Id": "3", "MessageBody": "good-2"},
        ],
    )
    wait_until(sandbox, lambda: idle(sandbox) and len(recorded(record)) >= 2)

    # THEN each good message was processed once, the bad one maxReceiveCount times, then moved to the DLQ
    bodies = [r["body"] for inv in recorded(record) for r in inv["event"]["Records"]]
    assert sorted(bodies) == ["bad", "bad", "good-1", "good-2"]
    counts = [
        r["attributes"]["ApproximateReceiveCount"]
        for inv in recorded(record)
        for r in inv["event"]["Records"]
        if r["body"] == "bad"
    ]
    assert counts == ["1", "2"]
    assert dlq_url is not None
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dead] == ["bad"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (
        attributes["ApproximateNumberOfMessages"]
        == attributes["ApproximateNumberOfMessagesNotVisible"]
        == "0"
    )


def test_invalid_batch_response_fails_the_whole_batch(
    sandbox: Sandbox, lam: Any, sqs: Any, role_arn: str, tmp_path: Path
) -> None:
    # GIVEN a function answering an empty itemIdentifier (invalid), and a queue with a DLQ after 1 receive
    record = tmp_path / "events.jsonl"
    name = make_recorder(lam, role_arn, record, RESPONSE="invalid")
    url, arn, dlq_url = make_queue(sqs, visibility=1, max_receive_count=1)
    lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )

    # WHEN two messages are processed
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "a"}, {"Id": "2", "MessageBody": "b"}]
    )
    wait_until(sandbox, lambda: idle(sandbox) and len(recorded(record)) >= 1)

    # THEN neither was deleted: both ended in the DLQ
    assert dlq_url is not None
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in dead) == ["a", "b"]


def test_batch_size_and_maximum_concurrency_are_respected(
    sandbox: Sandbox, lam: Any, sqs: Any, role_arn: str, tmp_path: Path
) -> None:
    # GIVEN a slow function mapped with BatchSize 2 and MaximumConcurrency 2
    record = tmp_path / "events.jsonl"
    name = make_recorder(lam, role_arn, record, SLEEP="0.4")
    url, arn, _ = make_queue(sqs)
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        BatchSize=2,
        MaximumBatchingWindowInSeconds=1,
        ScalingConfig={"MaximumConcurrency": 2},
    )
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["ScalingConfig"] == {"MaximumConcurrency": 2}

    # WHEN ten messages arrive at once
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)])
    wait_until(
        sandbox, lambda: idle(sandbox) and sum(len(i["event"]["Records"]) for i in recorded(record)) == 10
    )

    # THEN every batch had at most 2 records and never more than 2 batches ran at the same time
    invocations = recorded(record)
    assert all(len(i["event"]["Records"]) <= 2 for i in invocations)
    edges = sorted([(i["started"], 1) for i in invocations] + [(i["ended"], -1) for i in invocations])
    running, peak = 0, 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert peak == 2


def test_disabled_mapping_stops_polling_until_enabled_again(
    sandbox: Sandbox, lam: Any, sqs: Any, role_arn: str, tmp_path: Path
) -> None:
    # GIVEN a disabled mapping
    record = tmp_path / "events.jsonl"
    name = make_recorder(lam, role_arn, record)
    url, arn, _ = make_queue(sqs)
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, Enabled=False)

    # WHEN a message is sent, then the mapping is enabled
    sqs.send_message(QueueUrl=url, MessageBody="waiting")
    time.sleep(1.5)
    before = recorded(record)
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    wait_until(sandbox, lambda: len(recorded(record)) == 1 and idle(sandbox))

    # THEN it was processed only after enabling
    assert before == []
    assert recorded(record)[0]["event"]["Records"][0]["body"] == "waiting"


def _handler_package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((REPO / "lambda_handlers").rglob("*.py")):
            archive.write(path, path.relative_to(REPO).as_posix())
    return buffer.getvalue()


def test_order_writer_with_powertools_writes_orders_from_the_queue(
    sandbox: Sandbox, lam: Any, sqs: Any, role_arn: str
) -> None:
    # GIVEN the repo's order writer (Powertools) mapped to a queue, writing to an orders table
    dynamodb = sandbox.client("dynamodb")
    dynamodb.create_table(
        TableName="orders",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
    )
    url, arn, _ = make_queue(sqs)
    lam.create_function(
        FunctionName="order-writer",
        Runtime="python3.11",
        Role=role_arn,
        Timeout=10,
        MemorySize=256,
        Handler="lambda_handlers.order_writer.handler.handler",
        Code={"ZipFile": _handler_package()},
        Environment={
            "Variables": {
                "ORDERS_TABLE_NAME": "orders",
                "POWERTOOLS_SERVICE_NAME": "order-writer",
                "POWERTOOLS_METRICS_NAMESPACE": "Sandbox",
            }
        },
    )
    lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName="order-writer",
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    order = json.loads((REPO / "tests" / "events" / "order_placed_v1.json").read_text())

    # WHEN an order.placed event arrives on the queue
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(order))
    wait_until(
        sandbox,
        lambda: (
            idle(sandbox)
            and "Item" in dynamodb.get_item(TableName="orders", Key={"order_id": {"S": order["order_id"]}})
        ),
    )

    # THEN the order is in the table and the message is gone
    item = dynamodb.get_item(TableName="orders", Key={"order_id": {"S": order["order_id"]}})["Item"]
    assert item["order_id"] == {"S": order["order_id"]}
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (
        attributes["ApproximateNumberOfMessages"]
        == attributes["ApproximateNumberOfMessagesNotVisible"]
        == "0"
    )
    # AND the function's DynamoDB calls were attributed to it
    counts = sandbox.control("GET", "requests")
    assert any(c["service"] == "dynamodb" and c["caller"] == "order-writer" for c in counts)
