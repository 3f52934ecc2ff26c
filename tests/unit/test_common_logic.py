"""Shared handler code with plain values: addresses, masking, error classification, DLQ requests,
configuration helpers and the per-record error policy."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_handlers import HANDLER_NAMES, entry_point
from lambda_handlers.common import config as env
from lambda_handlers.common.addresses import extract_address, mask_address, normalize_address
from lambda_handlers.common.envelope import unwrap_message
from lambda_handlers.common.errors import (
    ConfigError,
    EnvelopeError,
    SchemaError,
    TransientError,
    is_transient,
)
from lambda_handlers.common.shell import SqsRecordInfo, build_dead_letter_request, process_with_error_policy
from lambda_handlers.contracts import is_valid_email


def client_error(code: str, status: int = 400, message: str = "boom") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


# ------------------------------------------------------------------------------------------- addresses
@pytest.mark.parametrize(
    "address",
    ["jane@example.com", "j.o.e+tag@sub.example.co.uk", "x@xn--bcher-kva.example", "o'brien@example.ie"],
)
def test_accepts_sensible_addresses(address: str) -> None:
    assert is_valid_email(address)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "jane",
        "jane@",
        "@example.com",
        "jane@example",
        "jane@@example.com",
        "ja ne@example.com",
        "jane@exa mple.com",
        "jane\n@example.com",
        "jane@example.com\r",
        ".jane@example.com",
        "jane..doe@example.com",
        "jane@-example.com",
        "jane@example.c0m",
        "jäne@example.com",
        "a@" + "b" * 250 + ".com",
        "x" * 65 + "@example.com",
        None,
        42,
    ],
)
def test_rejects_invalid_addresses(address: Any) -> None:
    assert not is_valid_email(address)


def test_masks_addresses_for_logs() -> None:
    assert mask_address("jane.doe@example.com") == "j***@example.com"
    assert mask_address('"Jane" <Jane@Example.com>') == "J***@Example.com"
    assert mask_address("not an address") == "***"
    assert normalize_address("  Jane@Example.COM ") == "jane@example.com"
    assert extract_address("Jane <jane@example.com>") == "jane@example.com"
    assert extract_address("nobody") is None


@settings(max_examples=100, deadline=None)
@given(st.emails())
def test_masking_never_reveals_more_than_one_character_of_the_local_part(address: str) -> None:
    local = address.rpartition("@")[0]
    masked = mask_address(address)
    assert masked == "***" or masked.split("@")[0] == local[0] + "***"


# -------------------------------------------------------------------------------------- classification
@pytest.mark.parametrize(
    "exc",
    [
        client_error("TooManyRequestsException", 429),
        client_error("LimitExceededException"),
        client_error("Throttling", message="Maximum sending rate exceeded."),
        client_error("ProvisionedThroughputExceededException"),
        client_error("ThrottlingException"),
        client_error("RequestLimitExceeded"),
        client_error("SomethingNew", 503),
        client_error("Unclassified", message="Maximum sending rate exceeded."),
        EndpointConnectionError(endpoint_url="https://email.eu-west-1.amazonaws.com"),
        TransientError("x"),
    ],
)
def test_classifies_transient_errors(exc: Exception) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        client_error("MessageRejected"),
        client_error("AccessDeniedException", 403),
        ValueError("x"),
        KeyError("k"),
    ],
)
def test_classifies_non_transient_errors(exc: Exception) -> None:
    assert not is_transient(exc)


# ------------------------------------------------------------------------------------------------- DLQ
def test_dead_letter_request_for_a_standard_queue() -> None:
    request = build_dead_letter_request(
        queue_url="https://sqs.eu-west-1.amazonaws.com/1/dlq",
        body="{bad",
        reason="record body is not valid JSON",
        source_message_id="m-1",
        message_group_id=None,
    )
    assert request == {
        "QueueUrl": "https://sqs.eu-west-1.amazonaws.com/1/dlq",
        "MessageBody": "{bad",
        "MessageAttributes": {
            "failure_reason": {"DataType": "String", "StringValue": "record body is not valid JSON"},
            "source_message_id": {"DataType": "String", "StringValue": "m-1"},
        },
    }


def test_dead_letter_request_for_a_fifo_queue_keeps_the_group_and_deduplicates() -> None:
    request = build_dead_letter_request(
        queue_url="https://sqs.eu-west-1.amazonaws.com/1/dlq.fifo",
        body="x",
        reason="r" * 5000,
        source_message_id="m-1",
        message_group_id="g-7",
    )
    assert request["MessageGroupId"] == "g-7"
    assert request["MessageDeduplicationId"] == "m-1"
    assert len(request["MessageAttributes"]["failure_reason"]["StringValue"]) == 1024


# ------------------------------------------------------------------------------------------ envelopes
def test_unwraps_raw_and_sns_bodies() -> None:
    raw = unwrap_message('{"a": 1.10}')
    wrapped = unwrap_message(
        '{"Type": "Notification", "MessageId": "s-1", "TopicArn": "arn:t", "Message": "{\\"a\\": 1.10}"}'
    )
    assert not raw.sns_envelope and wrapped.sns_envelope
    assert raw.message == wrapped.message
    assert str(raw.message["a"]) == "1.10"  # Decimal, never float
    assert wrapped.sns_message_id == "s-1"


def test_a_json_object_without_sns_keys_is_raw() -> None:
    assert unwrap_message('{"Message": "x", "Subject": "y"}').sns_envelope is False


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ('{"Type": "Notification", "Message": "x"}', r"^SNS envelope: Message is not valid JSON"),
        (
            '{"Type": "Notification", "TopicArn": "arn:t", "Message": 5}',
            r"^SNS envelope: Message must be a string$",
        ),
        ('{"Type": "Notification", "TopicArn": "arn:t"}', r"^SNS envelope: Message must be a string$"),
        (
            '{"Type": "Notification", "TopicArn": "arn:t", "Message": "[]"}',
            r"^SNS envelope: Message must be a JSON",
        ),
        (
            '{"Type": "UnsubscribeConfirmation", "TopicArn": "arn:t", "Message": "{}"}',
            r"^SNS envelope: Type must",
        ),
    ],
)
def test_fails_if_an_sns_envelope_is_malformed(body: str, match: str) -> None:
    # GIVEN a body with SNS's keys whose envelope is broken
    # WHEN / THEN it is reported as an envelope error, not as an error of the message inside
    with pytest.raises(EnvelopeError, match=match):
        unwrap_message(body)


# -------------------------------------------------------------------------------------- configuration
def test_config_helpers_read_values_and_defaults() -> None:
    source = {
        "A": " a ",
        "N": "5",
        "B": "TRUE",
        "DEAD_LETTER_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/q",
    }
    assert env.required_str(source, "A") == "a"
    assert env.optional_str(source, "MISSING") is None
    assert env.int_value(source, "N", default=1, minimum=1, maximum=10) == 5
    assert env.int_value(source, "MISSING", default=3, minimum=1, maximum=10) == 3
    assert env.bool_value(source, "B", default=False) is True
    assert env.bool_value(source, "MISSING", default=False) is False
    assert env.dead_letter_queue_url(source) == source["DEAD_LETTER_QUEUE_URL"]
    assert env.metrics_namespace({}) == "NotificationConstructs"
    assert env.metrics_namespace({"POWERTOOLS_METRICS_NAMESPACE": "Shop"}) == "Shop"
    assert env.sender_address({"S": "Shop <orders@example.com>"}, "S") == "Shop <orders@example.com>"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: env.required_str({}, "TABLE"), "TABLE is required"),
        (lambda: env.int_value({"N": "x"}, "N", default=1, minimum=1, maximum=2), "N must be an integer"),
        (
            lambda: env.int_value({"N": "3"}, "N", default=1, minimum=1, maximum=2),
            "N must be between 1 and 2",
        ),
        (lambda: env.bool_value({"B": "maybe"}, "B", default=False), "B must be 'true' or 'false'"),
        (
            lambda: env.dead_letter_queue_url({"DEAD_LETTER_QUEUE_URL": "dlq"}),
            "DEAD_LETTER_QUEUE_URL must be an SQS queue URL",
        ),
        (lambda: env.sns_topic_arn({"T": "topic"}, "T"), "T must be an SNS topic ARN"),
        (lambda: env.sender_address({"S": "orders"}, "S"), "S must be an e-mail address"),
    ],
)
def test_fails_if_configuration_is_invalid(call: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call()


def test_entry_points_are_a_stable_contract() -> None:
    assert [entry_point(name) for name in HANDLER_NAMES] == [
        "lambda_handlers.order_email_sender.handler.handler",
        "lambda_handlers.order_writer.handler.handler",
        "lambda_handlers.bounce_processor.handler.handler",
        "lambda_handlers.shipment_notifier.handler.handler",
        "lambda_handlers.incident_tracker.handler.handler",
        "lambda_handlers.bulk_email_sender.handler.handler",
        "lambda_handlers.reply_classifier.handler.handler",
        "lambda_handlers.sms_settings.handler.handler",
        "lambda_handlers.smtp_credentials.handler.handler",
    ]
    with pytest.raises(ValueError, match="unknown handler"):
        entry_point("nope")


def test_every_handler_package_is_listed_and_its_entry_point_is_callable() -> None:
    # GIVEN every sub-package of lambda_handlers with a handler module
    from pathlib import Path

    import lambda_handlers

    packages = {p.parent.name for p in Path(lambda_handlers.PACKAGE_DIR).glob("*/handler.py")}
    # THEN each is a listed handler, and its entry point names a callable
    assert packages == set(HANDLER_NAMES)
    for name in HANDLER_NAMES:
        module_name, _, attribute = entry_point(name).rpartition(".")
        assert callable(getattr(importlib.import_module(module_name), attribute))


# ---------------------------------------------------------------------------------------- error policy
class RecordingForwarder:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.forwarded: list[dict[str, Any]] = []

    def forward(
        self, *, body: str, reason: str, source_message_id: str, message_group_id: str | None
    ) -> None:
        if self.fail:
            raise client_error("AccessDenied", 403)
        self.forwarded.append(
            {"body": body, "reason": reason, "id": source_message_id, "group": message_group_id}
        )


RECORD = SqsRecordInfo(message_id="m-1", body='{"x": 1}', message_group_id="g", receive_count=1)
LOGGER = Logger(service="policy-tests")


def run(work: Any, forwarder: RecordingForwarder | None) -> tuple[Any, list[str]]:
    counted: list[str] = []
    result = process_with_error_policy(RECORD, work, forwarder=forwarder, logger=LOGGER, count=counted.append)
    return result, counted


def test_policy_returns_the_result_of_successful_work() -> None:
    assert run(lambda record: record.message_id, None) == ("m-1", [])


def test_policy_forwards_permanent_errors_and_swallows_them() -> None:
    # GIVEN work that fails permanently and a DLQ forwarder
    forwarder = RecordingForwarder()

    def work(_: SqsRecordInfo) -> None:
        raise SchemaError("total: must equal the sum")

    # WHEN the policy runs it
    result, counted = run(work, forwarder)

    # THEN the original body goes to the DLQ with the reason and the record counts as processed
    assert result is None
    assert forwarder.forwarded == [
        {"body": '{"x": 1}', "reason": "total: must equal the sum", "id": "m-1", "group": "g"}
    ]
    assert counted == ["PermanentFailure", "DeadLettered"]


def test_fails_if_permanent_error_cannot_be_forwarded() -> None:
    def work(_: SqsRecordInfo) -> None:
        raise SchemaError("bad")

    counted: list[str] = []
    with pytest.raises(SchemaError, match="bad"):
        process_with_error_policy(
            RECORD, work, forwarder=RecordingForwarder(fail=True), logger=LOGGER, count=counted.append
        )
    assert counted == ["PermanentFailure", "DeadLetterForwardFailed"]


def test_fails_if_permanent_error_has_no_dlq() -> None:
    def work(_: SqsRecordInfo) -> None:
        raise SchemaError("bad")

    with pytest.raises(SchemaError, match="bad"):
        run(work, None)


@pytest.mark.parametrize(
    ("exc", "metric"),
    [(client_error("ThrottlingException"), "TransientFailure"), (KeyError("bug"), "UnexpectedFailure")],
)
def test_fails_if_work_raises_a_retryable_error(exc: Exception, metric: str) -> None:
    forwarder = RecordingForwarder()

    def work(_: SqsRecordInfo) -> None:
        raise exc

    counted: list[str] = []
    with pytest.raises(type(exc)):
        process_with_error_policy(RECORD, work, forwarder=forwarder, logger=LOGGER, count=counted.append)
    assert counted == [metric]
    assert forwarder.forwarded == []


def test_record_info_from_a_raw_sqs_record() -> None:
    info = SqsRecordInfo.from_raw(
        {"messageId": "m", "body": "b", "attributes": {"MessageGroupId": "g", "ApproximateReceiveCount": "3"}}
    )
    assert info == SqsRecordInfo(message_id="m", body="b", message_group_id="g", receive_count=3)


def test_package_import_stays_free_of_boto3_and_powertools() -> None:
    # GIVEN a fresh interpreter (the CDK side imports/locates lambda_handlers at synth time)
    import subprocess
    import sys

    code = (
        "import sys, lambda_handlers, lambda_handlers.common; "
        "heavy = {'boto3', 'botocore', 'aws_lambda_powertools'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    # WHEN the package is imported / THEN nothing heavy comes along
    subprocess.run([sys.executable, "-c", code], check=True)
