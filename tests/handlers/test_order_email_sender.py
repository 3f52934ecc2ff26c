"""order_email_sender against moto: the real entry point, SESv2, DynamoDB (suppression + idempotency), SQS."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import boto3
import pytest

from lambda_handlers.common.errors import ConfigError
from lambda_handlers.order_email_sender import handler as sender
from lambda_handlers.order_email_sender.gateways import SEND_MAX_ATTEMPTS
from tests.handlers.conftest import (
    CONFIGURATION_SET,
    REGION,
    SENDER_ADDRESS,
    TEMPLATE_NAME,
    FakeLambdaContext,
    FakeSesExtras,
    create_table,
    emitted_metrics,
    failed_ids,
    inject_client_error,
    load_event,
    receive_all,
    sent_messages,
    sns_envelope,
    sqs_event,
    sqs_record,
)

CUSTOMER = "jane.doe@example.net"


@pytest.fixture
def sender_env(monkeypatch: pytest.MonkeyPatch, ses: FakeSesExtras, suppression_table: str) -> FakeSesExtras:
    idempotency_table = create_table("idempotency", "id", ttl_attribute="expiration")
    monkeypatch.setenv("SENDER_ADDRESS", SENDER_ADDRESS)
    monkeypatch.setenv("CONFIGURATION_SET_NAME", CONFIGURATION_SET)
    monkeypatch.setenv("SUPPRESSION_TABLE_NAME", suppression_table)
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", idempotency_table)
    return ses


def order(**changes: Any) -> dict[str, Any]:
    return {**load_event("order_placed_v1.json"), **changes}


def invoke(*bodies: str, context: FakeLambdaContext | None = None) -> dict[str, Any]:
    return sender.handler(sqs_event(*(sqs_record(body) for body in bodies)), context or FakeLambdaContext())


def test_sends_simple_confirmation_for_raw_body(
    sender_env: FakeSesExtras, capsys: pytest.CaptureFixture[str], handler_logs: io.StringIO
) -> None:
    # GIVEN an order-placed event delivered with SNS raw message delivery and no TEMPLATE_NAME
    body = json.dumps(order())

    # WHEN the handler processes it
    response = invoke(body)

    # THEN exactly one e-mail goes to the customer, built from code (subject + text + HTML)
    assert response == {"batchItemFailures": []}
    [message] = sent_messages()
    assert message.destinations == {"ToAddresses": [CUSTOMER]}
    assert message.source == SENDER_ADDRESS
    assert message.subject == "Your order ord-2024-000123 is confirmed"
    assert "Espresso beans 250 g" in message.body and "32.48" in message.body
    # AND the metric is emitted, and the full address never appears in the logs
    assert emitted_metrics(capsys.readouterr().out)["ConfirmationSent"] == 1
    logs = handler_logs.getvalue()
    assert CUSTOMER not in logs
    assert '"recipient":"j***@example.net"' in logs


def test_sends_template_with_the_documented_template_data(
    sender_env: FakeSesExtras, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a TEMPLATE_NAME and an event wrapped in the SNS envelope
    monkeypatch.setenv("TEMPLATE_NAME", TEMPLATE_NAME)

    # WHEN the handler processes it
    response = invoke(sns_envelope(order()))

    # THEN SESv2 SendEmail is called with the template, config set, tags and the exact TemplateData keys
    assert failed_ids(response) == []
    [sent] = sender_env.rendered
    params = sent["params"]
    assert params["ConfigurationSetName"] == CONFIGURATION_SET
    assert {"Name": "order_id", "Value": "ord-2024-000123"} in params["EmailTags"]
    data = json.loads(params["Content"]["Template"]["TemplateData"])
    # (the same values again, HTML-escaped, for the template's HTML part: SES does not escape)
    escaped = data.pop("html")
    assert escaped["customer_name"] == "Jane Doe"
    assert escaped["items"][0]["quantity"] == "2"
    assert set(escaped) == set(data)
    assert data == {
        "order_id": "ord-2024-000123",
        "customer_name": "Jane Doe",
        "placed_at": "2024-05-01T12:30:00+00:00",
        "currency": "EUR",
        "total": "32.48",
        "items": [
            {
                "sku": "MUG-001",
                "name": "Coffee mug",
                "quantity": 2,
                "unit_price": "9.99",
                "line_total": "19.98",
            },
            {
                "sku": "BEANS-250",
                "name": "Espresso beans 250 g",
                "quantity": 1,
                "unit_price": "12.50",
                "line_total": "12.50",
            },
        ],
    }
    # AND the CDK-side template renders with it (moto renders the Handlebars template)
    assert "Hello Jane Doe" in sent["rendered"]
    assert "2 x Coffee mug (MUG-001) 9.99 = 19.98" in sent["rendered"]
    assert len(sent_messages()) == 1


def test_redelivery_does_not_send_again(
    sender_env: FakeSesExtras, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an order that was already confirmed
    body = json.dumps(order())
    assert failed_ids(invoke(body)) == []
    capsys.readouterr()

    # WHEN SQS delivers the same event again (a new invocation, once raw and once SNS-wrapped)
    assert failed_ids(invoke(body)) == []
    assert failed_ids(invoke(sns_envelope(order()))) == []

    # THEN the customer still has exactly one e-mail and the duplicates are counted
    assert len(sent_messages()) == 1
    assert emitted_metrics(capsys.readouterr().out)["DuplicateSkipped"] == 2


def test_duplicate_within_one_batch_sends_once(sender_env: FakeSesExtras) -> None:
    # GIVEN the same order twice in one batch
    body = json.dumps(order())

    # WHEN the handler processes the batch
    response = invoke(body, body)

    # THEN one e-mail is sent and no record fails
    assert failed_ids(response) == []
    assert len(sent_messages()) == 1


def test_throttling_is_retried_in_process_and_one_email_is_sent(
    sender_env: FakeSesExtras, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN SES throttles the next SendEmail call (a throttling answer proves SES did not accept it)
    injected = inject_client_error(
        sender.shell.service.email.client,  # type: ignore[attr-defined]
        "SendEmail",
        code="TooManyRequestsException",
        status=429,
        message="Maximum sending rate exceeded.",
    )

    # WHEN the batch is processed
    response = invoke(json.dumps(order()))

    # THEN the sender tried again within the invocation and exactly one e-mail went out
    assert failed_ids(response) == []
    assert injected == [1]
    assert len(sent_messages()) == 1
    assert "TransientFailure" not in emitted_metrics(capsys.readouterr().out)


def test_throttling_beyond_the_retry_budget_is_retried_by_sqs_and_nothing_is_lost(
    sender_env: FakeSesExtras, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN SES throttles every SendEmail call of the retry budget
    injected = inject_client_error(
        sender.shell.service.email.client,  # type: ignore[attr-defined]
        "SendEmail",
        code="TooManyRequestsException",
        status=429,
        message="Maximum sending rate exceeded.",
        times=SEND_MAX_ATTEMPTS,
    )
    record = sqs_record(json.dumps(order()))

    # WHEN the batch is processed
    first = sender.handler(sqs_event(record), FakeLambdaContext())

    # THEN the record is reported for retry and nothing was sent
    assert failed_ids(first) == [record["messageId"]]
    assert injected == [SEND_MAX_ATTEMPTS]
    assert sent_messages() == []
    assert emitted_metrics(capsys.readouterr().out)["TransientFailure"] == 1

    # WHEN SQS delivers it again (the idempotency in-progress record was released)
    retry = sender.handler(
        sqs_event({**record, "attributes": {"ApproximateReceiveCount": "2"}}), FakeLambdaContext()
    )

    # THEN it is sent exactly once
    assert failed_ids(retry) == []
    assert len(sent_messages()) == 1


def test_a_server_error_from_ses_is_not_repeated_in_process(sender_env: FakeSesExtras) -> None:
    # GIVEN SES answers the next SendEmail with a 500 (it may have accepted the message)
    injected = inject_client_error(
        sender.shell.service.email.client,  # type: ignore[attr-defined]
        "SendEmail",
        code="InternalFailure",
        status=500,
        times=5,
    )
    record = sqs_record(json.dumps(order()))

    # WHEN the batch is processed
    response = sender.handler(sqs_event(record), FakeLambdaContext())

    # THEN SendEmail was called once and the record goes back to SQS (redelivery + idempotency decide)
    assert injected == [1]
    assert failed_ids(response) == [record["messageId"]]


def test_throttled_suppression_lookup_is_retried(sender_env: FakeSesExtras) -> None:
    # GIVEN DynamoDB throttles the suppression lookup once
    inject_client_error(
        sender.shell.service.suppressions.client,  # type: ignore[attr-defined]
        "GetItem",
        code="ProvisionedThroughputExceededException",
        status=400,
    )
    body = json.dumps(order())

    # WHEN the record is processed twice (first attempt, SQS retry)
    first, second = invoke(body), invoke(body)

    # THEN the first attempt fails for retry and the second sends exactly one e-mail
    assert len(failed_ids(first)) == 1
    assert failed_ids(second) == []
    assert len(sent_messages()) == 1


def test_suppressed_recipient_is_skipped(
    sender_env: FakeSesExtras, suppression_table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the customer's address (lower-cased) is on the suppression list
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=suppression_table, Item={"address": {"S": "max.mustermann@example.org"}}
    )

    # WHEN an order for Max.Mustermann@Example.org arrives
    response = invoke(json.dumps(load_event("order_placed_v1_minor_with_extra_fields.json")))

    # THEN nothing is sent, the record succeeds and the skip is counted
    assert failed_ids(response) == []
    assert sent_messages() == []
    assert emitted_metrics(capsys.readouterr().out)["RecipientSuppressed"] == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "record body is not valid JSON"),
        (json.dumps(load_event("order_placed_v2_unsupported.json")), "major version 2 is not supported"),
        (json.dumps(load_event("order_placed_total_mismatch.json")), "total: must equal"),
        (json.dumps(order(customer={"email": "not-an-address", "name": "X"})), "customer.email"),
        (sns_envelope("[1, 2]"), "Message must be a JSON object"),
    ],
)
def test_permanent_errors_are_forwarded_to_the_dlq(
    sender_env: FakeSesExtras,
    monkeypatch: pytest.MonkeyPatch,
    dlq: str,
    body: str,
    reason: str,
    capsys: pytest.CaptureFixture[str],
    handler_logs: io.StringIO,
) -> None:
    # GIVEN a dead-letter queue and an invalid record
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    record = sqs_record(body)

    # WHEN the handler processes it
    response = sender.handler(sqs_event(record), FakeLambdaContext())

    # THEN the record counts as processed and its original body is in the DLQ with the reason
    assert failed_ids(response) == []
    [forwarded] = receive_all(dlq)
    assert forwarded["Body"] == body
    attributes = forwarded["MessageAttributes"]
    assert reason in attributes["failure_reason"]["StringValue"]
    assert attributes["source_message_id"]["StringValue"] == record["messageId"]
    assert sent_messages() == []
    assert emitted_metrics(capsys.readouterr().out)["DeadLettered"] == 1
    logs = handler_logs.getvalue()
    assert reason in logs
    assert "not-an-address" not in logs  # the reason names the field, never the value


def test_permanent_error_to_fifo_dlq_keeps_group_and_deduplicates(
    sender_env: FakeSesExtras, monkeypatch: pytest.MonkeyPatch, fifo_dlq: str
) -> None:
    # GIVEN a FIFO dead-letter queue and a bad record from a FIFO source queue
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", fifo_dlq)
    record = sqs_record("{}", group_id="customer-42")

    # WHEN the same bad record is processed twice
    for _ in range(2):
        assert failed_ids(sender.handler(sqs_event(record), FakeLambdaContext())) == []

    # THEN the DLQ holds it once, in the original message group
    [forwarded] = receive_all(fifo_dlq)
    assert forwarded["Attributes"]["MessageGroupId"] == "customer-42"
    assert forwarded["Attributes"]["MessageDeduplicationId"] == record["messageId"]


def test_failed_dlq_forward_reports_a_batch_item_failure(
    sender_env: FakeSesExtras, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a DEAD_LETTER_QUEUE_URL that does not exist
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", f"https://sqs.{REGION}.amazonaws.com/123456789012/missing")
    good, bad = sqs_record(json.dumps(order())), sqs_record("garbage")

    # WHEN a batch with a good and a bad record is processed
    response = sender.handler(sqs_event(good, bad), FakeLambdaContext())

    # THEN only the bad record is kept in the queue (SQS redrive takes it to the DLQ later)
    assert failed_ids(response) == [bad["messageId"]]
    assert len(sent_messages()) == 1
    assert emitted_metrics(capsys.readouterr().out)["DeadLetterForwardFailed"] == 1


def test_permanent_error_without_dlq_is_left_to_the_redrive_policy(sender_env: FakeSesExtras) -> None:
    # GIVEN no DEAD_LETTER_QUEUE_URL
    record = sqs_record(json.dumps(order(schema_version="3.1")))

    # WHEN the handler processes an unsupported major version
    response = sender.handler(sqs_event(record), FakeLambdaContext())

    # THEN it is a batch item failure (after maxReceiveCount SQS moves it to the queue's DLQ)
    assert failed_ids(response) == [record["messageId"]]


def test_ses_message_rejected_is_a_permanent_error(
    sender_env: FakeSesExtras, monkeypatch: pytest.MonkeyPatch, dlq: str
) -> None:
    # GIVEN a sender address SES does not accept (moto answers MessageRejected for unverified identities)
    monkeypatch.setenv("SENDER_ADDRESS", "orders@unverified.example")
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)

    # WHEN the order is processed
    response = invoke(json.dumps(order()))

    # THEN the message is dead-lettered with the SES error code and no retry is requested
    assert failed_ids(response) == []
    [forwarded] = receive_all(dlq)
    assert (
        forwarded["MessageAttributes"]["failure_reason"]["StringValue"]
        == "SES rejected the message (MessageRejected)"
    )
    # AND the idempotency record was released, so a replay from the DLQ can send it once fixed
    monkeypatch.setenv("SENDER_ADDRESS", SENDER_ADDRESS)
    sender.shell.reset()
    assert failed_ids(invoke(forwarded["Body"])) == []
    assert len(sent_messages()) == 1


def test_idempotency_record_uses_the_order_id_and_configured_ttl(
    sender_env: FakeSesExtras, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a one-day idempotency TTL
    monkeypatch.setenv("IDEMPOTENCY_TTL_SECONDS", "86400")

    # WHEN an order is confirmed
    invoke(json.dumps(order()))

    # THEN one COMPLETED record keyed by the order id expires in about a day
    [item] = boto3.client("dynamodb", region_name=REGION).scan(TableName="idempotency")["Items"]
    assert item["id"]["S"].startswith("order-confirmation#")
    assert item["status"]["S"] == "COMPLETED"
    assert abs(int(item["expiration"]["N"]) - (time.time() + 86400)) < 60


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_fails_if_required_configuration_is_missing(
    sender_env: FakeSesExtras, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the deployment forgot SUPPRESSION_TABLE_NAME
    monkeypatch.delenv("SUPPRESSION_TABLE_NAME")

    # WHEN / THEN the invocation fails loudly naming the variable
    with pytest.raises(ConfigError, match="SUPPRESSION_TABLE_NAME"):
        invoke(json.dumps(order()))


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_fails_if_sender_address_is_invalid(
    sender_env: FakeSesExtras, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a malformed SENDER_ADDRESS
    monkeypatch.setenv("SENDER_ADDRESS", "Shop <orders-at-example.com>")

    # WHEN / THEN the invocation fails loudly naming the variable
    with pytest.raises(ConfigError, match="SENDER_ADDRESS"):
        invoke(json.dumps(order()))
