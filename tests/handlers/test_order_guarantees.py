"""Both order consumers against moto: idempotency on id *and* content, time budgets, hostile input.

The sender and the writer must agree: a redelivered order (same content) is skipped silently, the same
order id with other content is dead-lettered by both with the reason "order_id reused with different
content", and input that used to crash them is a permanent error with a reason.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_handlers.common import aws
from lambda_handlers.common.order_event import ORDER_ID_REUSED_REASON
from lambda_handlers.order_email_sender import handler as sender
from lambda_handlers.order_writer import handler as writer
from tests.handlers.conftest import (
    CONFIGURATION_SET,
    SENDER_ADDRESS,
    FakeLambdaContext,
    FakeSesExtras,
    create_table,
    emitted_metrics,
    failed_ids,
    load_event,
    receive_all,
    sent_messages,
    sns_envelope,
    sqs_event,
    sqs_record,
)

REUSED_REASON = "order_id reused with different content"


@pytest.fixture
def consumers(monkeypatch: pytest.MonkeyPatch, ses: FakeSesExtras, suppression_table: str, dlq: str) -> str:
    """Both order consumers configured, sharing one DLQ (as two DLQs would see the same messages)."""
    monkeypatch.setenv("SENDER_ADDRESS", SENDER_ADDRESS)
    monkeypatch.setenv("CONFIGURATION_SET_NAME", CONFIGURATION_SET)
    monkeypatch.setenv("SUPPRESSION_TABLE_NAME", suppression_table)
    monkeypatch.setenv(
        "IDEMPOTENCY_TABLE_NAME", create_table("idempotency", "id", ttl_attribute="expiration")
    )
    monkeypatch.setenv("ORDERS_TABLE_NAME", create_table("orders", "order_id"))
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    return dlq


def order(**changes: Any) -> dict[str, Any]:
    return {**load_event("order_placed_v1.json"), **changes}


def other_content() -> dict[str, Any]:
    """Another order under the id of :func:`order` (other customer name, one item)."""
    return order(
        customer={"email": "jane.doe@example.net", "name": "Someone Else"},
        items=[{"sku": "TEA-9", "name": "Green tea", "quantity": 3, "unit_price": "4.00"}],
        total="12.00",
    )


def both(*bodies: str, context: FakeLambdaContext | None = None) -> dict[str, dict[str, Any]]:
    """Each body as its own record, to the sender and to the writer; the two responses."""
    event = sqs_event(*(sqs_record(body) for body in bodies))
    return {
        "sender": sender.handler(event, context or FakeLambdaContext()),
        "writer": writer.handler(event, context or FakeLambdaContext()),
    }


def reasons(dlq: str) -> list[str]:
    return [m["MessageAttributes"]["failure_reason"]["StringValue"] for m in receive_all(dlq)]


def test_the_reason_is_the_documented_text() -> None:
    assert ORDER_ID_REUSED_REASON == REUSED_REASON


def test_reused_order_id_with_different_content_is_dead_lettered_by_both(
    consumers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an order that was handled by both consumers
    assert all(failed_ids(r) == [] for r in both(json.dumps(order())).values())
    capsys.readouterr()

    # WHEN another order arrives under the same id
    responses = both(json.dumps(other_content()))

    # THEN both consumers dead-letter it with the same reason, nothing is mailed again
    assert all(failed_ids(r) == [] for r in responses.values())
    assert reasons(consumers) == [REUSED_REASON, REUSED_REASON]
    assert len(sent_messages()) == 1
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["DeadLettered"] == 2
    assert "DuplicateSkipped" not in metrics


def test_true_duplicates_are_still_skipped_silently(
    consumers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an order that was handled by both consumers
    both(json.dumps(order()))
    capsys.readouterr()

    # WHEN the same content arrives again: SNS-wrapped, with extra 1.x fields, an equal total "32.480",
    # another minor version
    duplicates = (
        sns_envelope(order()),
        json.dumps(order(schema_version="1.7", channel="web", total="32.480")),
    )
    responses = both(*duplicates)

    # THEN nothing fails, nothing is dead-lettered or sent again, and the duplicates are counted
    assert all(failed_ids(r) == [] for r in responses.values())
    assert receive_all(consumers) == []
    assert len(sent_messages()) == 1
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["DuplicateSkipped"] == 2
    assert metrics["DuplicateOrder"] == 2


def test_reused_order_id_within_one_batch_is_dead_lettered(consumers: str) -> None:
    # GIVEN one batch holding an order and another order under the same id
    # WHEN both consumers process it
    responses = both(json.dumps(order()), json.dumps(other_content()))

    # THEN the first is handled, the second dead-lettered by both
    assert all(failed_ids(r) == [] for r in responses.values())
    assert reasons(consumers) == [REUSED_REASON, REUSED_REASON]
    [message] = sent_messages()
    assert "Jane Doe" in message.body


def test_reused_order_id_of_a_suppressed_order_is_dead_lettered_too(
    consumers: str, suppression_table: str
) -> None:
    # GIVEN an order whose recipient was suppressed (the outcome "suppressed" is stored as the result)
    import boto3

    boto3.client("dynamodb", region_name="eu-west-1").put_item(
        TableName=suppression_table, Item={"address": {"S": "jane.doe@example.net"}}
    )
    sender.handler(sqs_event(sqs_record(json.dumps(order()))), FakeLambdaContext())

    # WHEN other content arrives under the same id
    response = sender.handler(sqs_event(sqs_record(json.dumps(other_content()))), FakeLambdaContext())

    # THEN it is dead-lettered, not silently skipped
    assert failed_ids(response) == []
    assert reasons(consumers) == [REUSED_REASON]


# -------------------------------------------------------------------------------------------- deadlines
def test_records_are_not_started_when_too_little_time_is_left(
    consumers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an invocation with less time left than a record needs (response margin + MIN_RECORD_SECONDS)
    context = FakeLambdaContext(
        remaining_millis=int((aws.RESPONSE_MARGIN_SECONDS + aws.MIN_RECORD_SECONDS) * 1000) - 100
    )
    bodies = [json.dumps(order(order_id=f"ord-{i}")) for i in range(3)]

    # WHEN both consumers get a batch
    responses = both(*bodies, context=context)

    # THEN every record is reported as a (transient) batch item failure, and nothing was done
    assert all(len(failed_ids(r)) == 3 for r in responses.values())
    assert sent_messages() == []
    assert receive_all(consumers) == []
    assert emitted_metrics(capsys.readouterr().out)["TransientFailure"] == 6


def test_a_slow_send_leaves_the_remaining_records_to_sqs(
    consumers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a 10 s invocation whose first SendEmail takes 6.5 s (a clock the deadline reads)
    now = [1_000.0]
    monkeypatch.setattr(aws.deadline, "clock", lambda: now[0])
    client = sender.shell.service.email.client  # type: ignore[attr-defined]

    def slow(**_: Any) -> None:
        now[0] += 6.5

    client.meta.events.register("after-call.sesv2.SendEmail", slow)
    records = [sqs_record(json.dumps(order(order_id=f"ord-{i}"))) for i in range(3)]

    # WHEN the sender processes the batch
    response = sender.handler(sqs_event(*records), FakeLambdaContext(remaining_millis=10_000))

    # THEN the first order is mailed and completed; the others were not started and go back to SQS
    assert len(sent_messages()) == 1
    assert failed_ids(response) == [records[1]["messageId"], records[2]["messageId"]]
    # AND the next delivery sends them (the first is not mailed twice)
    monkeypatch.setattr(aws.deadline, "clock", lambda: now[0])
    client.meta.events.unregister("after-call.sesv2.SendEmail", slow)
    assert failed_ids(sender.handler(sqs_event(*records), FakeLambdaContext())) == []
    assert len(sent_messages()) == 3


# ------------------------------------------------------------------------------------- hostile input
@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"customer": {"email": "jane.doe@example.net", "name": "Poison \ud800 Pill"}},
            "customer.name: must be valid Unicode (no lone surrogates)",
        ),
        (
            {
                "items": [{"sku": "S\udfff", "name": "n", "quantity": 1, "unit_price": "1.00"}],
                "total": "1.00",
            },
            "items[0].sku: must be valid Unicode (no lone surrogates)",
        ),
        ({"placed_at": "9999-12-31T23:59:59-01:00"}, "placed_at: must be between the years 1970 and 9998"),
        ({"placed_at": "9999-12-31T23:59:59Z"}, "placed_at: must be between the years 1970 and 9998"),
    ],
)
def test_input_that_used_to_crash_is_a_permanent_error_with_a_reason(
    consumers: str, changes: dict[str, Any], reason: str
) -> None:
    # GIVEN an order with a lone surrogate (JSON-escaped, as producers send it) or an absurd timestamp
    body = json.dumps(order(**changes))
    assert "\\ud800" in body or "\\udfff" in body or "9999" in body

    # WHEN both consumers process it
    responses = both(body)

    # THEN both dead-letter it with the reason, nothing is stored or mailed
    assert all(failed_ids(r) == [] for r in responses.values())
    assert reasons(consumers) == [reason, reason]
    assert sent_messages() == []
