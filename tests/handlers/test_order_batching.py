"""The per-batch requests of both order consumers against moto: the real entry points, counted requests.

A standard-queue batch of two or more orders makes its DynamoDB requests once per batch (the shell's
``prepare_batch`` hook): the writer one ``TransactWriteItems`` of conditional puts, the sender one
``TransactWriteItems`` of idempotency claims, one ``BatchGetItem`` of suppressions and one
``BatchWriteItem`` of completions and releases. These tests count the requests each client makes and
check that the outcomes are those of the per-record path: stored once, mailed once, duplicates skipped,
reused order ids dead-lettered, transient failures retried by SQS - and that the idempotency records stay
those of Powertools' ``DynamoDBPersistenceLayer``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from lambda_handlers.common import aws
from lambda_handlers.common.order_event import order_fingerprint, parse_record_body
from lambda_handlers.order_email_sender import handler as sender
from lambda_handlers.order_email_sender.config import load_config
from lambda_handlers.order_email_sender.idempotency import record_id, validation_hash
from lambda_handlers.order_email_sender.service import OrderConfirmationService
from lambda_handlers.order_writer import handler as writer
from tests.handlers.conftest import (
    CONFIGURATION_SET,
    REGION,
    SENDER_ADDRESS,
    FakeLambdaContext,
    FakeSesExtras,
    create_table,
    emitted_metrics,
    failed_ids,
    inject_client_error,
    load_event,
    receive_all,
    sent_messages,
    sqs_event,
    sqs_record,
)

ORDERS_TABLE = "orders"
IDEMPOTENCY_TABLE = "idempotency"
REUSED_REASON = "order_id reused with different content"


# ------------------------------------------------------------------------------------------------ helpers
def count_requests(*clients: Any) -> Counter[str]:
    """The API calls each of ``clients`` makes from now on, by operation name.

    Counted at ``before-parameter-build``, which botocore emits once per API call (not per HTTP retry)
    and before the ``before-call`` hooks of :func:`inject_client_error`, so injected failures count too.
    """
    requests: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        requests[model.name] += 1

    for client in clients:
        client.meta.events.register(
            f"before-parameter-build.{client.meta.service_model.service_id.hyphenize()}", count
        )
    return requests


def fail_nth_call(client: Any, operation: str, n: int, *, code: str, status: int) -> list[int]:
    """Make only the ``n``-th call (1-based) of ``operation`` on ``client`` fail with ``code``; returns a
    one-element list counting the calls seen (as :func:`inject_client_error`, a ``before-call`` answer)."""
    from botocore.awsrequest import AWSResponse

    calls = [0]

    def fail(**_: Any) -> Any:
        calls[0] += 1
        if calls[0] != n:
            return None
        parsed = {
            "Error": {"Code": code, "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return AWSResponse("https://example.invalid", status, {}, None), parsed

    service_id = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"before-call.{service_id}.{operation}", fail)
    return calls


def order(**changes: Any) -> dict[str, Any]:
    return {**load_event("order_placed_v1.json"), **changes}


def numbered(i: int, **changes: Any) -> dict[str, Any]:
    """Order ``ord-batch-<i>`` of customer ``customer<i>@example.net``."""
    return order(
        order_id=f"ord-batch-{i}",
        customer={"email": f"customer{i}@example.net", "name": f"Customer {i}"},
        **changes,
    )


def other_content(base: dict[str, Any]) -> dict[str, Any]:
    """Another order under the id of ``base`` (one item, another total)."""
    return {
        **base,
        "items": [{"sku": "TEA-9", "name": "Green tea", "quantity": 3, "unit_price": "4.00"}],
        "total": "12.00",
    }


def records_of(*orders: dict[str, Any]) -> list[dict[str, Any]]:
    return [sqs_record(json.dumps(o)) for o in orders]


def redelivered(record: dict[str, Any]) -> dict[str, Any]:
    """The same SQS message received once more (same message id and body)."""
    return {**record, "attributes": {**record["attributes"], "ApproximateReceiveCount": "2"}}


def fingerprint(o: dict[str, Any]) -> str:
    return order_fingerprint(parse_record_body(json.dumps(o)))


def scan(table: str) -> list[dict[str, Any]]:
    deserializer = TypeDeserializer()
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=table, ConsistentRead=True)["Items"]
    return [{key: deserializer.deserialize(value) for key, value in item.items()} for item in items]


def stored_orders() -> dict[str, dict[str, Any]]:
    return {item["order_id"]: item for item in scan(ORDERS_TABLE)}


def idempotency_records() -> dict[str, dict[str, Any]]:
    """Idempotency records by their ``id``."""
    return {item["id"]: item for item in scan(IDEMPOTENCY_TABLE)}


def reasons(dlq: str) -> list[str]:
    return [m["MessageAttributes"]["failure_reason"]["StringValue"] for m in receive_all(dlq)]


# ================================================================================================= writer
@pytest.fixture
def orders_table(aws: None, monkeypatch: pytest.MonkeyPatch, dlq: str) -> str:
    """The writer configured with its table and a DLQ; returns the DLQ's URL."""
    monkeypatch.setenv("ORDERS_TABLE_NAME", create_table(ORDERS_TABLE, "order_id"))
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    return dlq


def write(records: list[dict[str, Any]]) -> dict[str, Any]:
    handler: Any = writer.handler  # the fake context has what Powertools reads of a LambdaContext
    return dict(handler(sqs_event(*records), FakeLambdaContext()))


def writer_requests() -> Counter[str]:
    return count_requests(writer.shell.service.store.client)  # type: ignore[attr-defined]


def test_writer_stores_a_batch_of_new_orders_with_one_transaction(
    orders_table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a batch of 10 new orders
    orders = [numbered(i) for i in range(10)]
    records = records_of(*orders)
    requests = writer_requests()

    # WHEN the writer processes it
    response = write(records)

    # THEN one TransactWriteItems wrote them all (no PutItem)
    assert failed_ids(response) == []
    assert requests == {"TransactWriteItems": 1}
    # AND every order is stored with its fingerprint and its own source message id
    stored = stored_orders()
    assert sorted(stored) == sorted(o["order_id"] for o in orders)
    for o, record in zip(orders, records, strict=True):
        item = stored[o["order_id"]]
        assert item["content_sha256"] == fingerprint(o)
        assert item["source_message_id"] == record["messageId"]
        assert item["customer_email"] == o["customer"]["email"]
        assert item["total"] == "32.48"
    assert emitted_metrics(capsys.readouterr().out)["OrderStored"] == 10


def test_writer_redelivery_of_a_batch_changes_nothing(
    orders_table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a stored batch of 10 orders
    records = records_of(*(numbered(i) for i in range(10)))
    assert failed_ids(write(records)) == []
    before = stored_orders()
    capsys.readouterr()
    requests = writer_requests()

    # WHEN SQS delivers the same batch again (a few milliseconds later)
    time.sleep(0.005)
    response = write([redelivered(record) for record in records])

    # THEN nothing fails, no item changed (received_at included) and the duplicates are counted
    assert failed_ids(response) == []
    assert stored_orders() == before
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["DuplicateOrder"] == 10
    assert "OrderStored" not in metrics
    assert "PermanentFailure" not in metrics and "TransientFailure" not in metrics
    # AND it took one (cancelled, all ConditionalCheckFailed) transaction and no PutItem
    assert requests == {"TransactWriteItems": 1}


def test_writer_mixed_batch_stores_the_new_skips_the_duplicates_and_dead_letters_the_conflict(
    orders_table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN 4 stored orders
    stored_before = [numbered(i) for i in range(4)]
    assert failed_ids(write(records_of(*stored_before))) == []
    before = stored_orders()
    capsys.readouterr()
    # AND a batch: 3 of them again (same content), other content under the 4th's id, 6 new orders
    conflicting = other_content(stored_before[3])
    new = [numbered(i) for i in range(10, 16)]
    batch = [*new[:3], stored_before[0], conflicting, stored_before[1], *new[3:], stored_before[2]]
    records = records_of(*batch)
    requests = writer_requests()

    # WHEN the writer processes it
    response = write(records)

    # THEN the 6 new orders are stored, the 4 stored ones are unchanged
    assert failed_ids(response) == []
    after = stored_orders()
    assert sorted(after) == sorted([o["order_id"] for o in stored_before] + [o["order_id"] for o in new])
    assert {key: after[key] for key in before} == before
    for o in new:
        assert after[o["order_id"]]["content_sha256"] == fingerprint(o)
    # AND the conflicting one is dead-lettered with its original body and the documented reason
    [forwarded] = receive_all(orders_table)
    assert forwarded["Body"] == records[4]["body"]
    assert forwarded["MessageAttributes"]["failure_reason"]["StringValue"] == REUSED_REASON
    assert forwarded["MessageAttributes"]["source_message_id"]["StringValue"] == records[4]["messageId"]
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["OrderStored"] == 6
    assert metrics["DuplicateOrder"] == 3
    assert metrics["OrderIdConflict"] == 1
    assert metrics["DeadLettered"] == 1
    # AND at most two transactions (the cancelled one, then the 6 new orders), no PutItem
    assert 1 <= requests["TransactWriteItems"] <= 2
    assert set(requests) == {"TransactWriteItems"}


def test_writer_the_same_order_twice_in_a_batch_is_stored_once(
    orders_table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a batch holding an order twice (two SQS messages: SNS delivers at least once), among others
    first, other, again = records_of(numbered(1), numbered(2), numbered(1))

    # WHEN the writer processes it
    response = write([first, other, again])

    # THEN nothing fails, the order is stored once (from its first message), the second is a duplicate
    assert failed_ids(response) == []
    stored = stored_orders()
    assert sorted(stored) == ["ord-batch-1", "ord-batch-2"]
    assert stored["ord-batch-1"]["source_message_id"] == first["messageId"]
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["OrderStored"] == 2
    assert metrics["DuplicateOrder"] == 1
    assert receive_all(orders_table) == []


def test_writer_a_malformed_record_does_not_stop_the_transaction_of_the_others(
    orders_table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a batch of 4 valid orders with a record that is not JSON in the middle
    records = records_of(numbered(1), numbered(2))
    bad = sqs_record("{not json")
    records += [bad, *records_of(numbered(3), numbered(4))]
    requests = writer_requests()

    # WHEN the writer processes it
    response = write(records)

    # THEN the valid orders are stored with one transaction, the bad record is dead-lettered
    assert failed_ids(response) == []
    assert sorted(stored_orders()) == [f"ord-batch-{i}" for i in range(1, 5)]
    assert requests == {"TransactWriteItems": 1}
    [forwarded] = receive_all(orders_table)
    assert forwarded["Body"] == "{not json"
    assert forwarded["MessageAttributes"]["failure_reason"]["StringValue"].startswith(
        "record body is not valid JSON"
    )
    assert forwarded["MessageAttributes"]["source_message_id"]["StringValue"] == bad["messageId"]
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["OrderStored"] == 4
    assert metrics["DeadLettered"] == 1


def test_writer_a_throttled_transaction_fails_the_whole_batch_for_retry(
    orders_table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN DynamoDB throttles the batch's TransactWriteItems beyond botocore's retries: an answer of the
    # before-call hook is the call's final result (botocore retries only real HTTP attempts), so one
    # injected error is what the gateway sees after all of botocore's attempts
    requests = writer_requests()
    injected = inject_client_error(
        writer.shell.service.store.client,  # type: ignore[attr-defined]
        "TransactWriteItems",
        code="ProvisionedThroughputExceededException",
        status=400,
        times=1,
    )
    records = records_of(*(numbered(i) for i in range(5)))

    # WHEN the writer processes the batch
    first = write(records)

    # THEN every record is reported for retry (transient), nothing is stored, nothing dead-lettered,
    # and no record was written alone
    assert injected == [1]
    assert failed_ids(first) == [record["messageId"] for record in records]
    assert stored_orders() == {}
    assert receive_all(orders_table) == []
    assert requests == {"TransactWriteItems": 1}
    assert emitted_metrics(capsys.readouterr().out)["TransientFailure"] == 5

    # WHEN SQS delivers the batch again
    retry = write([redelivered(record) for record in records])

    # THEN every order is stored
    assert failed_ids(retry) == []
    assert sorted(stored_orders()) == [f"ord-batch-{i}" for i in range(5)]
    assert emitted_metrics(capsys.readouterr().out)["OrderStored"] == 5
    assert requests == {"TransactWriteItems": 2}


def test_writer_a_refused_transaction_falls_back_to_one_put_per_record(
    orders_table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN TransactWriteItems is refused with a non-retryable error (e.g. a role without the permission)
    requests = writer_requests()
    inject_client_error(
        writer.shell.service.store.client,  # type: ignore[attr-defined]
        "TransactWriteItems",
        code="AccessDeniedException",
        status=400,
    )

    # WHEN a batch of 3 orders is processed
    response = write(records_of(*(numbered(i) for i in range(3))))

    # THEN every order is still stored, each with its own PutItem
    assert failed_ids(response) == []
    assert sorted(stored_orders()) == [f"ord-batch-{i}" for i in range(3)]
    assert requests == {"TransactWriteItems": 1, "PutItem": 3}
    assert emitted_metrics(capsys.readouterr().out)["OrderStored"] == 3


def test_writer_an_order_the_transaction_left_undecided_is_put_alone(orders_table: str) -> None:
    # GIVEN the first transaction is cancelled because of a concurrent write of the second order
    # (CancellationReasons: None, TransactionConflict, None)
    from botocore.awsrequest import AWSResponse

    client = writer.shell.service.store.client  # type: ignore[attr-defined]
    requests = count_requests(client)
    calls = [0]

    def conflict(**_: Any) -> Any:
        calls[0] += 1
        if calls[0] > 1:
            return None
        parsed = {
            "Error": {"Code": "TransactionCanceledException", "Message": "injected"},
            "CancellationReasons": [
                {"Code": "None"},
                {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
                {"Code": "None"},
            ],
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return AWSResponse("https://example.invalid", 400, {}, None), parsed

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", conflict)

    # WHEN a batch of 3 new orders is processed
    response = write(records_of(*(numbered(i) for i in range(3))))

    # THEN the two others go in a second transaction and the undecided one is put alone
    assert failed_ids(response) == []
    assert sorted(stored_orders()) == [f"ord-batch-{i}" for i in range(3)]
    assert requests == {"TransactWriteItems": 2, "PutItem": 1}


# ================================================================================================= sender
@pytest.fixture
def sender_env(monkeypatch: pytest.MonkeyPatch, ses: FakeSesExtras, suppression_table: str, dlq: str) -> str:
    """The sender configured with its tables and a DLQ; returns the DLQ's URL."""
    monkeypatch.setenv("SENDER_ADDRESS", SENDER_ADDRESS)
    monkeypatch.setenv("CONFIGURATION_SET_NAME", CONFIGURATION_SET)
    monkeypatch.setenv("SUPPRESSION_TABLE_NAME", suppression_table)
    monkeypatch.setenv(
        "IDEMPOTENCY_TABLE_NAME", create_table(IDEMPOTENCY_TABLE, "id", ttl_attribute="expiration")
    )
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    return dlq


def send(records: list[dict[str, Any]], context: FakeLambdaContext | None = None) -> dict[str, Any]:
    handler: Any = sender.handler  # the fake context has what Powertools reads of a LambdaContext
    return dict(handler(sqs_event(*records), context or FakeLambdaContext()))


def sender_requests() -> Counter[str]:
    service = sender.shell.service
    return count_requests(service.idempotency.client, service.suppressions.client, service.email.client)  # type: ignore[attr-defined]


def recipients() -> list[str]:
    return sorted(address for m in sent_messages() for address in m.destinations["ToAddresses"])


def record_of(o: dict[str, Any]) -> dict[str, Any]:
    """The idempotency record of order ``o`` (KeyError when there is none)."""
    return idempotency_records()[record_id(o["order_id"])]


def test_sender_confirms_a_batch_with_one_request_of_each_kind(
    sender_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a batch of 10 new orders
    orders = [numbered(i) for i in range(10)]
    requests = sender_requests()

    # WHEN the sender processes it
    response = send(records_of(*orders))

    # THEN each customer gets one e-mail
    assert failed_ids(response) == []
    assert recipients() == sorted(o["customer"]["email"] for o in orders)
    assert emitted_metrics(capsys.readouterr().out)["ConfirmationSent"] == 10
    # AND the DynamoDB requests were made once per batch
    assert requests == {"TransactWriteItems": 1, "BatchGetItem": 1, "SendEmail": 10, "BatchWriteItem": 1}
    # AND every idempotency record is COMPLETED with the result, validated by the content fingerprint
    message_ids = {m.id for m in sent_messages()}
    assert len(idempotency_records()) == 10
    for o in orders:
        item = record_of(o)
        assert item["status"] == "COMPLETED"
        assert item["validation"] == validation_hash(fingerprint(o))
        data = json.loads(item["data"])
        assert data["status"] == "sent"
        assert data["ses_message_id"] in message_ids
    assert {json.loads(item["data"])["ses_message_id"] for item in idempotency_records().values()} == (
        message_ids
    )


def test_sender_redelivery_of_a_batch_sends_nothing_with_one_request(
    sender_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a confirmed batch of 10 orders
    records = records_of(*(numbered(i) for i in range(10)))
    assert failed_ids(send(records)) == []
    before = idempotency_records()
    capsys.readouterr()
    requests = sender_requests()

    # WHEN SQS delivers the batch again
    response = send([redelivered(record) for record in records])

    # THEN no e-mail is sent again, the duplicates are counted and the records are unchanged
    assert failed_ids(response) == []
    assert len(sent_messages()) == 10
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["DuplicateSkipped"] == 10
    assert "ConfirmationSent" not in metrics
    assert idempotency_records() == before
    # AND the only request was the (cancelled) transaction of claims
    assert requests == {"TransactWriteItems": 1}


def test_sender_a_suppressed_recipient_in_a_batch_is_skipped_and_completed(
    sender_env: str, suppression_table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the recipient of the third order of 5 is on the suppression list (lower-cased)
    orders = [numbered(i) for i in range(5)]
    orders[2]["customer"] = {"email": "Customer2@Example.NET", "name": "Customer 2"}
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=suppression_table, Item={"address": {"S": "customer2@example.net"}}
    )
    requests = sender_requests()

    # WHEN the sender processes the batch
    response = send(records_of(*orders))

    # THEN the 4 others are mailed, the suppressed one is skipped and counted
    assert failed_ids(response) == []
    assert recipients() == sorted(o["customer"]["email"] for i, o in enumerate(orders) if i != 2)
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["RecipientSuppressed"] == 1
    assert metrics["ConfirmationSent"] == 4
    # AND its record is COMPLETED with the outcome "suppressed" (one BatchGetItem read all addresses)
    item = record_of(orders[2])
    assert item["status"] == "COMPLETED"
    assert json.loads(item["data"]) == {"status": "suppressed"}
    assert requests == {"TransactWriteItems": 1, "BatchGetItem": 1, "SendEmail": 4, "BatchWriteItem": 1}


def test_sender_a_failed_send_releases_only_its_claim(
    sender_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN SES answers the third SendEmail of a batch of 5 with a 500 (not repeated in-process)
    orders = [numbered(i) for i in range(5)]
    records = records_of(*orders)
    calls = fail_nth_call(
        sender.shell.service.email.client,  # type: ignore[attr-defined]
        "SendEmail",
        3,
        code="InternalFailure",
        status=500,
    )

    # WHEN the sender processes the batch
    response = send(records)

    # THEN only that record goes back to SQS, as a transient failure
    assert calls == [5]
    assert failed_ids(response) == [records[2]["messageId"]]
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["TransientFailure"] == 1
    assert metrics["ConfirmationSent"] == 4
    # AND its claim is released, the others are COMPLETED as sent
    records_by_id = idempotency_records()
    assert record_id(orders[2]["order_id"]) not in records_by_id
    assert len(records_by_id) == 4
    for i in (0, 1, 3, 4):
        item = record_of(orders[i])
        assert item["status"] == "COMPLETED"
        assert json.loads(item["data"])["status"] == "sent"
    assert recipients() == sorted(o["customer"]["email"] for i, o in enumerate(orders) if i != 2)

    # WHEN SQS delivers the failed record again
    retry = send([redelivered(records[2])])

    # THEN exactly one e-mail goes to its customer
    assert failed_ids(retry) == []
    assert recipients().count("customer2@example.net") == 1
    assert len(sent_messages()) == 5
    assert record_of(orders[2])["status"] == "COMPLETED"


# ------------------------------------------------------------------------------- Powertools compatibility
@pytest.fixture
def powertools_confirm() -> tuple[Any, list[dict[str, Any]]]:
    """The sender's former exactly-once wrapper: Powertools' ``idempotent_function`` on the same table
    (requires the tables, so use it after ``sender_env``); returns the function and its runs."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    runs: list[dict[str, Any]] = []
    persistence = DynamoDBPersistenceLayer(
        table_name=IDEMPOTENCY_TABLE, boto3_client=boto3.client("dynamodb", region_name=REGION)
    )
    config = IdempotencyConfig(event_key_jmespath="order_id", payload_validation_jmespath="content_sha256")

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="key",
        persistence_store=persistence,
        config=config,
        key_prefix="order-confirmation",
    )
    def confirm(key: dict[str, Any]) -> dict[str, Any]:
        runs.append(key)
        return {"status": "sent", "ses_message_id": f"powertools-{key['order_id']}"}

    return confirm, runs


def powertools_key(o: dict[str, Any]) -> dict[str, Any]:
    return {"order_id": o["order_id"], "content_sha256": fingerprint(o)}


@pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")
def test_sender_recognizes_records_written_by_powertools(
    sender_env: str,
    powertools_confirm: tuple[Any, list[dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN three orders confirmed by Powertools' idempotent_function (COMPLETED records)
    confirm, runs = powertools_confirm
    alone, in_batch, reused = numbered(1), numbered(2), numbered(3)
    for o in (alone, in_batch, reused):
        confirm(key=powertools_key(o))
    assert len(runs) == 3
    assert all(item["status"] == "COMPLETED" for item in idempotency_records().values())

    # WHEN one is delivered alone, one in a batch with a new order
    fresh = numbered(4)
    responses = [send(records_of(alone)), send(records_of(in_batch, fresh))]

    # THEN neither is mailed (duplicates), only the new order is
    assert all(failed_ids(r) == [] for r in responses)
    assert recipients() == ["customer4@example.net"]
    assert emitted_metrics(capsys.readouterr().out)["DuplicateSkipped"] == 2

    # WHEN other content arrives under the id of the third, alone and in a batch
    responses = [
        send(records_of(other_content(reused))),
        send(records_of(other_content(reused), numbered(5))),
    ]

    # THEN it is dead-lettered twice as a reused order id and never mailed
    assert all(failed_ids(r) == [] for r in responses)
    assert reasons(sender_env) == [REUSED_REASON, REUSED_REASON]
    assert recipients() == ["customer4@example.net", "customer5@example.net"]
    # AND the Powertools records are untouched
    assert json.loads(record_of(reused)["data"]) == {
        "status": "sent",
        "ses_message_id": "powertools-ord-batch-3",
    }


@pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")
def test_powertools_recognizes_records_written_by_the_sender(
    sender_env: str, powertools_confirm: tuple[Any, list[dict[str, Any]]]
) -> None:
    # GIVEN a batch confirmed by the sender
    orders = [numbered(1), numbered(2)]
    assert failed_ids(send(records_of(*orders))) == []
    confirm, runs = powertools_confirm

    # WHEN Powertools' idempotent function is called for those orders
    results = [confirm(key=powertools_key(o)) for o in orders]

    # THEN it does not run, it returns the sender's stored results
    assert runs == []
    message_ids = {m.id for m in sent_messages()}
    assert [r["status"] for r in results] == ["sent", "sent"]
    assert {r["ses_message_id"] for r in results} == message_ids
    # AND other content under the same id fails Powertools' payload validation
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyValidationError

    with pytest.raises(IdempotencyValidationError):
        confirm(key=powertools_key(other_content(orders[0])))
    assert runs == []


def test_sender_the_same_order_twice_in_a_batch_is_mailed_once(
    sender_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a batch holding an order twice, another order, and other content under the first one's id
    first, other, again, reused = records_of(
        numbered(1), numbered(2), numbered(1), other_content(numbered(1))
    )
    requests = sender_requests()

    # WHEN the sender processes it
    response = send([first, other, again, reused])

    # THEN each customer gets one e-mail, the repeat is a duplicate, the other content is dead-lettered
    assert failed_ids(response) == []
    assert recipients() == ["customer1@example.net", "customer2@example.net"]
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["DuplicateSkipped"] == 1
    assert metrics["ConfirmationSent"] == 2
    [forwarded] = receive_all(sender_env)
    assert forwarded["MessageAttributes"]["source_message_id"]["StringValue"] == reused["messageId"]
    assert forwarded["MessageAttributes"]["failure_reason"]["StringValue"] == REUSED_REASON
    # AND the later records of the order needed no request of their own
    assert requests == {"TransactWriteItems": 1, "BatchGetItem": 1, "SendEmail": 2, "BatchWriteItem": 1}


def test_sender_a_malformed_record_does_not_stop_the_batched_requests_of_the_others(
    sender_env: str,
) -> None:
    # GIVEN a batch of 3 orders with a record that is not JSON in the middle
    records = records_of(numbered(1), numbered(2))
    bad = sqs_record("{not json")
    records += [bad, *records_of(numbered(3))]
    requests = sender_requests()

    # WHEN the sender processes it
    response = send(records)

    # THEN the orders are mailed with the batched requests, the bad record is dead-lettered
    assert failed_ids(response) == []
    assert recipients() == [f"customer{i}@example.net" for i in (1, 2, 3)]
    assert requests == {"TransactWriteItems": 1, "BatchGetItem": 1, "SendEmail": 3, "BatchWriteItem": 1}
    [forwarded] = receive_all(sender_env)
    assert forwarded["MessageAttributes"]["source_message_id"]["StringValue"] == bad["messageId"]


def test_sender_a_throttled_claim_transaction_fails_the_batch_for_retry(
    sender_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN DynamoDB throttles the batch's TransactWriteItems of claims beyond botocore's retries (see
    # test_writer_a_throttled_transaction_fails_the_whole_batch_for_retry)
    requests = sender_requests()
    inject_client_error(
        sender.shell.service.idempotency.client,  # type: ignore[attr-defined]
        "TransactWriteItems",
        code="ProvisionedThroughputExceededException",
        status=400,
    )
    records = records_of(*(numbered(i) for i in range(4)))

    # WHEN the sender processes the batch
    first = send(records)

    # THEN every record is reported for retry, nothing is sent or claimed
    assert failed_ids(first) == [record["messageId"] for record in records]
    assert sent_messages() == []
    assert idempotency_records() == {}
    assert requests == {"TransactWriteItems": 1}
    assert emitted_metrics(capsys.readouterr().out)["TransientFailure"] == 4

    # WHEN SQS delivers the batch again
    retry = send([redelivered(record) for record in records])

    # THEN every order is mailed once
    assert failed_ids(retry) == []
    assert recipients() == [f"customer{i}@example.net" for i in range(4)]


def test_sender_falls_back_to_per_record_requests_when_the_batched_reads_and_writes_fail(
    sender_env: str, suppression_table: str
) -> None:
    # GIVEN the batch's BatchGetItem and BatchWriteItem are throttled, and one recipient is suppressed
    service = sender.shell.service
    requests = sender_requests()
    for client, operation in (
        (service.suppressions.client, "BatchGetItem"),  # type: ignore[attr-defined]
        (service.idempotency.client, "BatchWriteItem"),  # type: ignore[attr-defined]
    ):
        inject_client_error(client, operation, code="ProvisionedThroughputExceededException", status=400)
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=suppression_table, Item={"address": {"S": "customer1@example.net"}}
    )
    orders = [numbered(i) for i in range(3)]

    # WHEN the sender processes a batch of 3
    response = send(records_of(*orders))

    # THEN each record read its own address and wrote its own completion: the outcome is the same
    assert failed_ids(response) == []
    assert recipients() == ["customer0@example.net", "customer2@example.net"]
    assert requests == {
        "TransactWriteItems": 1,
        "BatchGetItem": 1,
        "GetItem": 3,
        "SendEmail": 2,
        "BatchWriteItem": 1,
        "PutItem": 3,
    }
    assert [record_of(o)["status"] for o in orders] == ["COMPLETED"] * 3
    assert json.loads(record_of(orders[1])["data"]) == {"status": "suppressed"}


def test_sender_a_failed_second_claim_transaction_leaves_no_claim_of_the_first_behind(
    sender_env: str,
) -> None:
    # GIVEN a batch of 102 orders (a batching window allows up to 10,000 records): its claims take two
    # transactions (at most 100 actions each), and DynamoDB throttles the second one beyond the retries
    orders = [numbered(i) for i in range(102)]
    records = records_of(*orders)
    calls = fail_nth_call(
        sender.shell.service.idempotency.client,  # type: ignore[attr-defined]
        "TransactWriteItems",
        2,
        code="ProvisionedThroughputExceededException",
        status=400,
    )

    # WHEN the sender processes the batch
    first = send(records)

    # THEN whatever it reports failed, it left no claim of its own in progress: each record it did not
    # confirm has no record (released), so SQS's redelivery can send it at once
    assert calls == [2]
    in_progress = [key for key, item in idempotency_records().items() if item["status"] != "COMPLETED"]
    assert in_progress == [], f"{len(in_progress)} claims left INPROGRESS, {len(failed_ids(first))} failed"

    # WHEN SQS delivers the failed records again right away
    retry = send([redelivered(r) for r in records if r["messageId"] in set(failed_ids(first))])

    # THEN every order has been mailed exactly once
    assert failed_ids(retry) == []
    assert recipients() == sorted(o["customer"]["email"] for o in orders)


# ------------------------------------------------------------------------------------ in-progress claims
def put_in_progress_claim(o: dict[str, Any], *, in_progress_expiration_ms: int) -> dict[str, Any]:
    """An INPROGRESS record of order ``o`` as another invocation leaves it (Powertools' attributes)."""
    item = {
        "id": {"S": record_id(o["order_id"])},
        "expiration": {"N": str(int(time.time()) + 3600)},
        "in_progress_expiration": {"N": str(in_progress_expiration_ms)},
        "status": {"S": "INPROGRESS"},
        "validation": {"S": validation_hash(fingerprint(o))},
    }
    boto3.client("dynamodb", region_name=REGION).put_item(TableName=IDEMPOTENCY_TABLE, Item=item)
    return item


def test_sender_takes_over_a_claim_whose_invocation_has_ended(
    sender_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an order claimed by an invocation that ended a minute ago (timed out before completing it)
    stale = numbered(1)
    put_in_progress_claim(stale, in_progress_expiration_ms=int(time.time() * 1000) - 60_000)

    # WHEN it is delivered in a batch with another order
    response = send(records_of(stale, numbered(2)))

    # THEN both are mailed and completed
    assert failed_ids(response) == []
    assert recipients() == ["customer1@example.net", "customer2@example.net"]
    assert record_of(stale)["status"] == "COMPLETED"
    assert emitted_metrics(capsys.readouterr().out)["ConfirmationSent"] == 2


def test_sender_leaves_a_claim_of_a_running_invocation_alone(
    sender_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an order claimed by an invocation that still runs for a minute
    busy = numbered(1)
    put_in_progress_claim(busy, in_progress_expiration_ms=int(time.time() * 1000) + 60_000)
    before = record_of(busy)
    records = records_of(busy, numbered(2))

    # WHEN it is delivered in a batch with another order
    response = send(records)

    # THEN it fails as transient (SQS delivers it again later), nothing is sent for it
    assert failed_ids(response) == [records[0]["messageId"]]
    assert recipients() == ["customer2@example.net"]
    assert emitted_metrics(capsys.readouterr().out)["TransientFailure"] == 1
    # AND the other invocation's claim is neither released nor overwritten
    assert record_of(busy) == before


# ---------------------------------------------------------------------------------------------- pacing
def test_sender_paces_a_batch_at_the_configured_rate(
    sender_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a share of 2 sends per second and a service on a fake clock (sleeping advances it)
    monkeypatch.setenv("SEND_RATE_PER_SECOND", "2")
    now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    service = OrderConfirmationService(
        load_config(), sender.shell.logger, sender.shell.count, clock=lambda: now[0], sleep=sleep
    )
    sender.shell.reset(service)
    send_times: list[float] = []
    service.email.client.meta.events.register(
        "before-call.sesv2.SendEmail", lambda **_: send_times.append(now[0])
    )

    # WHEN a batch of 10 orders is processed
    response = send(records_of(*(numbered(i) for i in range(10))))

    # THEN all are sent, after waiting (10 - 1 of the initial burst: 0.3 s of the rate, at least one) / 2
    # = 4.5 s in all
    assert failed_ids(response) == []
    assert len(sent_messages()) == 10
    assert sum(sleeps) == pytest.approx(4.5, abs=0.01)
    # AND the sends keep the token-bucket bound SES's maximum send rate is modelled with (the sandbox's
    # SendRateLimiter too): in any window of w seconds at most burst (1) + rate (2) * w sends
    assert len(send_times) == 10
    for start in send_times:
        for end in send_times:
            if end >= start:
                in_window = sum(1 for t in send_times if start <= t <= end)
                assert in_window <= 1 + 2 * (end - start) + 1e-9, (
                    f"{[round(t - 100.0, 3) for t in send_times]}"
                )


# -------------------------------------------------------------------------------------------- deadline
def test_sender_releases_the_claims_of_records_not_started_in_the_batch_write(
    sender_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a 10 s invocation whose first SendEmail takes 6.5 s (a clock the deadline reads)
    now = [1_000.0]
    monkeypatch.setattr(aws.deadline, "clock", lambda: now[0])
    client = sender.shell.service.email.client  # type: ignore[attr-defined]

    def slow(**_: Any) -> None:
        now[0] += 6.5

    client.meta.events.register("after-call.sesv2.SendEmail", slow)
    orders = [numbered(i) for i in range(3)]
    records = records_of(*orders)
    requests = sender_requests()

    # WHEN the sender processes the batch of 3
    response = send(records, FakeLambdaContext(remaining_millis=10_000))

    # THEN the first order is mailed, the others were not started and go back to SQS
    assert recipients() == ["customer0@example.net"]
    assert failed_ids(response) == [records[1]["messageId"], records[2]["messageId"]]
    # AND their claims were released in the batch's BatchWriteItem (with the first one's completion)
    assert requests == {"TransactWriteItems": 1, "BatchGetItem": 1, "SendEmail": 1, "BatchWriteItem": 1}
    assert list(idempotency_records()) == [record_id(orders[0]["order_id"])]
    assert record_of(orders[0])["status"] == "COMPLETED"

    # WHEN SQS delivers the two again at once (long before the first invocation's claims would expire)
    client.meta.events.unregister("after-call.sesv2.SendEmail", slow)
    retry = send([redelivered(record) for record in records[1:]])

    # THEN they are sent now, and the first order is not mailed twice
    assert failed_ids(retry) == []
    assert recipients() == [o["customer"]["email"] for o in orders]
