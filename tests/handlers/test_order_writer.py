"""order_writer against moto: the real entry point, the orders table and the DLQ."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from lambda_handlers.common.errors import ConfigError
from lambda_handlers.order_writer import handler as writer
from tests.handlers.conftest import (
    REGION,
    FakeLambdaContext,
    create_table,
    emitted_metrics,
    failed_ids,
    inject_client_error,
    load_event,
    receive_all,
    sns_envelope,
    sqs_event,
    sqs_record,
)

TABLE = "orders"


@pytest.fixture
def orders_table(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ORDERS_TABLE_NAME", create_table(TABLE, "order_id"))
    return TABLE


def stored(order_id: str) -> dict[str, Any] | None:
    from boto3.dynamodb.types import TypeDeserializer

    item = (
        boto3.client("dynamodb", region_name=REGION)
        .get_item(TableName=TABLE, Key={"order_id": {"S": order_id}})
        .get("Item")
    )
    if item is None:
        return None
    deserializer = TypeDeserializer()
    return {key: deserializer.deserialize(value) for key, value in item.items()}


def test_stores_the_order(orders_table: str, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN an order-placed event (raw delivery)
    record = sqs_record(json.dumps(load_event("order_placed_v1.json")))

    # WHEN the writer processes it
    response = writer.handler(sqs_event(record), FakeLambdaContext())

    # THEN the order is stored with string amounts, the item list, the e-mail as given and metadata
    assert failed_ids(response) == []
    item = stored("ord-2024-000123")
    assert item is not None
    assert item["total"] == "32.48"
    assert item["currency"] == "EUR"
    assert item["customer_email"] == "jane.doe@example.net"
    assert item["schema_version"] == "1.0"
    assert item["placed_at"] == "2024-05-01T12:30:00+00:00"
    assert item["source_message_id"] == record["messageId"]
    assert item["received_at"].endswith("+00:00")
    assert item["items"] == [
        {"sku": "MUG-001", "name": "Coffee mug", "quantity": 2, "unit_price": "9.99", "line_total": "19.98"},
        {
            "sku": "BEANS-250",
            "name": "Espresso beans 250 g",
            "quantity": 1,
            "unit_price": "12.50",
            "line_total": "12.50",
        },
    ]
    assert emitted_metrics(capsys.readouterr().out)["OrderStored"] == 1


def test_redelivery_is_a_no_op(orders_table: str, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a stored order
    event = load_event("order_placed_v1_minor_with_extra_fields.json")
    writer.handler(sqs_event(sqs_record(json.dumps(event))), FakeLambdaContext())
    first = stored("ord-2024-000124")
    capsys.readouterr()

    # WHEN the same event arrives again, this time in the SNS envelope
    response = writer.handler(sqs_event(sqs_record(sns_envelope(event))), FakeLambdaContext())

    # THEN it succeeds without touching the stored item and the duplicate is counted
    assert failed_ids(response) == []
    assert stored("ord-2024-000124") == first
    assert emitted_metrics(capsys.readouterr().out)["DuplicateOrder"] == 1


def test_same_order_id_with_different_content_is_dead_lettered(
    orders_table: str, monkeypatch: pytest.MonkeyPatch, dlq: str
) -> None:
    # GIVEN a stored order and a DLQ
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    event = load_event("order_placed_v1.json")
    writer.handler(sqs_event(sqs_record(json.dumps(event))), FakeLambdaContext())

    # WHEN a different order arrives under the same order id
    changed = {**event, "items": [{**event["items"][0], "quantity": 1}], "total": "22.49"}
    changed["items"].append(event["items"][1])
    response = writer.handler(sqs_event(sqs_record(json.dumps(changed))), FakeLambdaContext())

    # THEN the stored order is kept and the conflicting event goes to the DLQ
    assert failed_ids(response) == []
    assert stored("ord-2024-000123")["total"] == "32.48"  # type: ignore[index]
    [forwarded] = receive_all(dlq)
    assert (
        forwarded["MessageAttributes"]["failure_reason"]["StringValue"]
        == "order_id reused with different content"
    )


def test_throttled_write_is_retried(orders_table: str) -> None:
    # GIVEN DynamoDB throttles the next PutItem
    injected = inject_client_error(
        writer.shell.service.store.client,  # type: ignore[attr-defined]
        "PutItem",
        code="ThrottlingException",
        status=400,
    )
    record = sqs_record(json.dumps(load_event("order_placed_v1.json")))

    # WHEN the record is processed, then retried
    first = writer.handler(sqs_event(record), FakeLambdaContext())
    second = writer.handler(sqs_event(record), FakeLambdaContext())

    # THEN the first attempt is a batch item failure and the retry stores the order
    assert injected == [1]
    assert failed_ids(first) == [record["messageId"]]
    assert failed_ids(second) == []
    assert stored("ord-2024-000123") is not None


def test_server_error_is_retried(orders_table: str) -> None:
    # GIVEN DynamoDB answers the next PutItem with a 500
    inject_client_error(
        writer.shell.service.store.client,  # type: ignore[attr-defined]
        "PutItem",
        code="InternalServerError",
        status=500,
    )
    record = sqs_record(json.dumps(load_event("order_placed_v1.json")))

    # WHEN the batch is processed
    response = writer.handler(sqs_event(record), FakeLambdaContext())

    # THEN the record is kept for a retry
    assert failed_ids(response) == [record["messageId"]]


def test_mixed_batch_only_fails_the_bad_record(orders_table: str) -> None:
    # GIVEN a batch with a valid order and an unsupported major version, no DLQ configured
    good = sqs_record(json.dumps(load_event("order_placed_v1.json")))
    bad = sqs_record(json.dumps(load_event("order_placed_v2_unsupported.json")))

    # WHEN the batch is processed
    response = writer.handler(sqs_event(good, bad), FakeLambdaContext())

    # THEN only the bad record is reported and the good one is stored
    assert failed_ids(response) == [bad["messageId"]]
    assert stored("ord-2024-000123") is not None
    assert stored("ord-2024-000125") is None


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_fails_if_orders_table_is_not_configured(aws: None) -> None:
    # GIVEN no ORDERS_TABLE_NAME
    # WHEN / THEN the invocation fails loudly naming the variable
    with pytest.raises(ConfigError, match="ORDERS_TABLE_NAME"):
        writer.handler(sqs_event(sqs_record("{}")), FakeLambdaContext())
