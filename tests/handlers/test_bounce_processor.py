"""bounce_processor against moto: the real entry point, suppression + soft-bounce tables, SNS alerts, DLQ."""

from __future__ import annotations

import copy
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from lambda_handlers.bounce_processor import handler as bounces
from lambda_handlers.common.errors import ConfigError
from tests.handlers.conftest import (
    REGION,
    FakeLambdaContext,
    FakeSesExtras,
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

SUPPRESSION_TABLE = "suppression"
SOFT_BOUNCE_TABLE = "soft-bounces"


@pytest.fixture
def alert_queue(aws: None) -> tuple[str, str]:
    """An SNS alert topic with an SQS queue subscribed (SNS envelope, so the Subject is visible)."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name="support-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="support-alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, queue_url


@pytest.fixture
def bounce_env(monkeypatch: pytest.MonkeyPatch, suppression_table: str, alert_queue: tuple[str, str]) -> str:
    create_table(SOFT_BOUNCE_TABLE, "address", ttl_attribute="expires_at")
    monkeypatch.setenv("SUPPRESSION_TABLE_NAME", suppression_table)
    monkeypatch.setenv("SOFT_BOUNCE_TABLE_NAME", SOFT_BOUNCE_TABLE)
    monkeypatch.setenv("ALERT_TOPIC_ARN", alert_queue[0])
    return alert_queue[1]


def suppressed(address: str) -> dict[str, Any] | None:
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=SUPPRESSION_TABLE, Key={"address": {"S": address}}
    )
    return item.get("Item")


def soft_bounce_item(address: str) -> dict[str, Any] | None:
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=SOFT_BOUNCE_TABLE, Key={"address": {"S": address}}
    )
    return item.get("Item")


def alerts(queue_url: str) -> list[dict[str, Any]]:
    return [json.loads(message["Body"]) for message in receive_all(queue_url)]


def invoke(*records: dict[str, Any], remaining_millis: int = 30_000) -> dict[str, Any]:
    return bounces.handler(sqs_event(*records), FakeLambdaContext(remaining_millis=remaining_millis))


def soft_bounce(message_id: str, at: datetime, address: str = "soft.bouncer@example.net") -> dict[str, Any]:
    event = copy.deepcopy(load_event("ses_notification_bounce_transient.json"))
    event["mail"]["messageId"] = message_id
    event["mail"]["timestamp"] = event["bounce"]["timestamp"] = at.isoformat(timespec="milliseconds")
    event["bounce"]["bouncedRecipients"][0]["emailAddress"] = address
    return event


def test_permanent_bounce_suppresses_only_the_bounced_recipient(bounce_env: str) -> None:
    # GIVEN an identity bounce notification (SNS envelope) for jane, on a mail also sent to mary and richard
    event = load_event("ses_notification_bounce_permanent.json")

    # WHEN the processor handles it
    response = invoke(sqs_record(sns_envelope(event, topic="ses-events")))

    # THEN jane is suppressed with the documented attributes, the other recipients are not
    assert failed_ids(response) == []
    item = suppressed("jane@example.net")
    assert item is not None
    assert item["reason"] == {"S": "BOUNCE"}
    assert item["ses_message_id"] == {"S": event["mail"]["messageId"]}
    assert datetime.fromisoformat(item["suppressed_at"]["S"]).tzinfo is not None
    assert item["detail"]["M"] == {
        "source": {"S": "permanent-bounce"},
        "bounce_type": {"S": "Permanent"},
        "bounce_sub_type": {"S": "General"},
    }
    assert suppressed("mary@example.net") is None
    assert suppressed("richard@example.net") is None


def test_redelivered_bounce_is_idempotent(bounce_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN an event-publishing bounce that was already processed
    body = json.dumps(load_event("ses_event_bounce.json"))
    invoke(sqs_record(body))
    first = suppressed("nobody@example.net")
    capsys.readouterr()

    # WHEN it is delivered again
    response = invoke(sqs_record(body))

    # THEN the record succeeds, the item is unchanged, and the metric says "already suppressed"
    assert failed_ids(response) == []
    assert suppressed("nobody@example.net") == first
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["AddressAlreadySuppressed"] == 1
    assert "AddressSuppressed" not in metrics


def test_soft_bounces_suppress_after_the_threshold_within_the_window(
    bounce_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN threshold 3 / 72 h, one soft bounce long ago and two recent ones (one of them redelivered)
    now = datetime.now(UTC)
    old = soft_bounce("msg-old", now - timedelta(hours=100))
    second = soft_bounce("msg-2", now - timedelta(hours=2))
    third = soft_bounce("msg-3", now - timedelta(minutes=5))
    invoke(
        sqs_record(json.dumps(old)), sqs_record(json.dumps(soft_bounce("msg-1", now - timedelta(hours=30))))
    )
    invoke(sqs_record(json.dumps(second)), sqs_record(sns_envelope(second)))

    # THEN two soft bounces in the window (the old one does not count, the duplicate adds nothing)
    assert suppressed("soft.bouncer@example.net") is None
    item = soft_bounce_item("soft.bouncer@example.net")
    assert item is not None
    assert len(item["bounces"]["SS"]) == 2  # the stale element was removed
    assert int(item["expires_at"]["N"]) > (now + timedelta(hours=71)).timestamp()
    capsys.readouterr()

    # WHEN the third soft bounce within the window arrives
    response = invoke(sqs_record(json.dumps(third)))

    # THEN the address is suppressed as a soft-bounce-threshold bounce
    assert failed_ids(response) == []
    entry = suppressed("soft.bouncer@example.net")
    assert entry is not None
    assert entry["reason"] == {"S": "BOUNCE"}
    assert entry["detail"]["M"]["source"] == {"S": "soft-bounce-threshold"}
    assert entry["detail"]["M"]["soft_bounce_count"] == {"S": "3"}
    assert emitted_metrics(capsys.readouterr().out)["SoftBounceThresholdReached"] == 1


def test_custom_threshold_from_the_environment(bounce_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN SOFT_BOUNCE_THRESHOLD=1
    monkeypatch.setenv("SOFT_BOUNCE_THRESHOLD", "1")

    # WHEN one soft bounce arrives
    invoke(sqs_record(json.dumps(soft_bounce("msg-1", datetime.now(UTC)))))

    # THEN it is suppressed at once
    assert suppressed("soft.bouncer@example.net") is not None


def test_complaint_suppresses_and_alerts(bounce_env: str) -> None:
    # GIVEN an abuse complaint (event publishing) from a mixed-case address
    # WHEN the processor handles it
    response = invoke(sqs_record(json.dumps(load_event("ses_event_complaint.json"))))

    # THEN the lower-cased address is suppressed for COMPLAINT and support gets one alert
    assert failed_ids(response) == []
    item = suppressed("angry.customer@example.net")
    assert item is not None
    assert item["reason"] == {"S": "COMPLAINT"}
    assert item["detail"]["M"] == {"source": {"S": "complaint"}, "feedback_type": {"S": "abuse"}}
    [alert] = alerts(bounce_env)
    assert "1 Complaint suppression" in alert["Subject"]
    assert "a***@example.net" in alert["Message"]
    assert "angry.customer@" not in alert["Message"]


def test_not_spam_complaint_is_ignored(bounce_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a complaint with feedback type not-spam
    # WHEN the processor handles it
    response = invoke(sqs_record(json.dumps(load_event("ses_event_complaint_not_spam.json"))))

    # THEN nothing is suppressed, nobody is alerted, and it is counted
    assert failed_ids(response) == []
    assert suppressed("happy.customer@example.net") is None
    assert alerts(bounce_env) == []
    assert emitted_metrics(capsys.readouterr().out)["NotSpamComplaintIgnored"] == 1


def test_one_alert_summary_per_batch(bounce_env: str, handler_logs: io.StringIO) -> None:
    # GIVEN a batch with a Reject, a Rendering Failure, a complaint and a delivery
    batch = [
        sqs_record(json.dumps(load_event("ses_event_reject.json"))),
        sqs_record(sns_envelope(load_event("ses_event_rendering_failure.json"))),
        sqs_record(json.dumps(load_event("ses_notification_complaint.json"))),
        sqs_record(json.dumps(load_event("ses_event_delivery.json"))),
    ]

    # WHEN the batch is processed
    response = invoke(*batch)

    # THEN support receives exactly one readable summary with counts, SES ids and masked addresses
    assert failed_ids(response) == []
    [alert] = alerts(bounce_env)
    assert alert["Subject"] == "SES alert: 1 Reject, 1 Rendering Failure, 1 Complaint suppression"
    body = alert["Message"]
    assert "3 SES event(s) need attention" in body
    assert load_event("ses_event_reject.json")["mail"]["messageId"] in body
    assert "template order-confirmation: Attribute 'customer_name' is not present" in body
    assert "v***@example.net" in body and "virus.victim@example.net" not in body
    assert "r***@example.net" in body and "richard@example.net" not in body
    assert "virus.victim@example.net" not in handler_logs.getvalue()


def test_failed_alert_publish_retries_the_contributing_records(
    bounce_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN SNS fails the next Publish
    inject_client_error(
        bounces.shell.service.alerts.client,  # type: ignore[union-attr]
        "Publish",
        code="InternalError",
        status=500,
    )
    reject = sqs_record(json.dumps(load_event("ses_event_reject.json")))
    complaint = sqs_record(json.dumps(load_event("ses_event_complaint.json")))
    delivery = sqs_record(json.dumps(load_event("ses_event_delivery.json")))

    # WHEN the batch is processed
    response = invoke(reject, complaint, delivery)

    # THEN the records behind the summary are retried; the suppression is already written
    assert sorted(failed_ids(response)) == sorted([reject["messageId"], complaint["messageId"]])
    assert suppressed("angry.customer@example.net") is not None
    assert alerts(bounce_env) == []
    assert emitted_metrics(capsys.readouterr().out)["AlertPublishFailed"] == 1

    # WHEN SQS redelivers them
    retry = invoke(reject, complaint)

    # THEN the summary goes out (the complaint is still reported, though already suppressed)
    assert failed_ids(retry) == []
    [alert] = alerts(bounce_env)
    assert alert["Subject"] == "SES alert: 1 Reject, 1 Complaint suppression"


@pytest.mark.parametrize(
    "name",
    [
        "ses_event_delivery.json",
        "ses_event_send.json",
        "ses_event_open.json",
        "ses_event_click.json",
        "ses_event_delivery_delay.json",
        "ses_event_subscription.json",
        "ses_notification_delivery.json",
        "ses_notification_sns_subscription_succeeded.json",
    ],
)
def test_informational_events_only_emit_metrics(
    bounce_env: str, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an informational SES event
    event = load_event(name)

    # WHEN the processor handles it
    response = invoke(sqs_record(sns_envelope(event, topic="ses-events")))

    # THEN it succeeds, suppresses nothing, alerts nobody, and counts the event type
    assert failed_ids(response) == []
    assert boto3.client("dynamodb", region_name=REGION).scan(TableName=SUPPRESSION_TABLE)["Items"] == []
    assert alerts(bounce_env) == []
    event_type = event.get("eventType") or event["notificationType"]
    assert emitted_metrics(capsys.readouterr().out)["SesEvent" + event_type.replace(" ", "")] == 1


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"eventType": "Teleport", "mail": {"messageId": "x"}}, "eventType: unknown SES event type"),
        (
            {"notificationType": "Reject", "mail": {"messageId": "x"}},
            "SES does not send Reject in this format",
        ),
        ({"Records": []}, "neither eventType nor notificationType"),
        ({"eventType": "Bounce", "mail": {"messageId": "x"}, "bounce": {"bounceType": "Soft"}}, "bounceType"),
    ],
)
def test_unknown_or_invalid_events_are_dead_lettered(
    bounce_env: str, monkeypatch: pytest.MonkeyPatch, dlq: str, message: dict[str, Any], reason: str
) -> None:
    # GIVEN a DLQ and an event the processor does not understand
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    record = sqs_record(sns_envelope(message))

    # WHEN it is processed
    response = invoke(record)

    # THEN it is forwarded with the reason and counts as processed
    assert failed_ids(response) == []
    [forwarded] = receive_all(dlq)
    assert forwarded["Body"] == record["body"]
    assert reason in forwarded["MessageAttributes"]["failure_reason"]["StringValue"]


def test_throttled_suppression_write_is_retried(bounce_env: str) -> None:
    # GIVEN DynamoDB throttles the next PutItem on the suppression table
    inject_client_error(
        bounces.shell.service.suppressions.client,  # type: ignore[attr-defined]
        "PutItem",
        code="ProvisionedThroughputExceededException",
        status=400,
    )
    record = sqs_record(json.dumps(load_event("ses_event_bounce.json")))

    # WHEN the record is processed and then redelivered
    first, second = invoke(record), invoke(record)

    # THEN the first attempt is retried and the second suppresses the address
    assert failed_ids(first) == [record["messageId"]]
    assert failed_ids(second) == []
    assert suppressed("nobody@example.net") is not None


def test_account_level_suppression_list(
    bounce_env: str, monkeypatch: pytest.MonkeyPatch, ses_extras: FakeSesExtras
) -> None:
    # GIVEN USE_ACCOUNT_SUPPRESSION_LIST=true
    monkeypatch.setenv("USE_ACCOUNT_SUPPRESSION_LIST", "true")

    # WHEN a permanent bounce and a complaint are processed
    invoke(
        sqs_record(json.dumps(load_event("ses_event_bounce.json"))),
        sqs_record(json.dumps(load_event("ses_event_complaint.json"))),
    )

    # THEN SES's account-level list gets the addresses with the matching reasons as well
    assert ses_extras.suppressed_destinations == {
        "nobody@example.net": "BOUNCE",
        "angry.customer@example.net": "COMPLAINT",
    }
    assert suppressed("nobody@example.net") is not None


def test_alerts_are_only_logged_without_a_topic(
    bounce_env: str, monkeypatch: pytest.MonkeyPatch, handler_logs: io.StringIO
) -> None:
    # GIVEN no ALERT_TOPIC_ARN
    monkeypatch.delenv("ALERT_TOPIC_ARN")

    # WHEN a Reject arrives
    response = invoke(sqs_record(json.dumps(load_event("ses_event_reject.json"))))

    # THEN the record succeeds and the (masked) summary is logged instead of published
    assert failed_ids(response) == []
    assert alerts(bounce_env) == []
    logs = handler_logs.getvalue()
    assert "SES alert summary (no ALERT_TOPIC_ARN configured)" in logs
    assert "v***@example.net" in logs and "virus.victim@example.net" not in logs


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize(
    ("variable", "value"),
    [("SOFT_BOUNCE_THRESHOLD", "three"), ("SOFT_BOUNCE_WINDOW_HOURS", "0"), ("ALERT_TOPIC_ARN", "support")],
)
def test_fails_if_configuration_is_invalid(
    bounce_env: str, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    # GIVEN an invalid value
    monkeypatch.setenv(variable, value)

    # WHEN / THEN the invocation fails loudly naming the variable
    with pytest.raises(ConfigError, match=variable):
        invoke(sqs_record(json.dumps(load_event("ses_event_send.json"))))


def test_valid_recipients_are_suppressed_when_another_one_is_invalid(
    bounce_env: str, capsys: pytest.CaptureFixture[str], handler_logs: io.StringIO
) -> None:
    # GIVEN a permanent bounce for two valid recipients and one entry that is not an address
    event = load_event("ses_event_bounce.json")
    event["bounce"]["bouncedRecipients"] = [
        {"emailAddress": "first@example.net"},
        {"emailAddress": "not-an-address"},
        {"emailAddress": "Second@Example.net"},
    ]

    # WHEN the processor handles it
    response = invoke(sqs_record(json.dumps(event)))

    # THEN both valid addresses are suppressed, the invalid entry is counted and named by its path
    assert failed_ids(response) == []
    assert suppressed("first@example.net") is not None
    assert suppressed("second@example.net") is not None
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["InvalidRecipientSkipped"] == 1
    assert metrics["AddressSuppressed"] == 2
    [warning] = [
        json.loads(line)
        for line in handler_logs.getvalue().splitlines()
        if "Recipients without a valid e-mail address" in line
    ]
    assert warning["invalid_recipients"] == ["bounce.bouncedRecipients[1].emailAddress"]
    assert "not-an-address" not in handler_logs.getvalue()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            json.dumps(
                {
                    **load_event("ses_event_bounce.json"),
                    "bounce": {**load_event("ses_event_bounce.json")["bounce"], "bouncedRecipients": []},
                }
            ),
            "bounce.bouncedRecipients: must not be empty",
        ),
        (
            json.dumps(
                {
                    **load_event("ses_event_complaint.json"),
                    "complaint": {
                        **load_event("ses_event_complaint.json")["complaint"],
                        "complainedRecipients": [],
                    },
                }
            ),
            "complaint.complainedRecipients: must not be empty",
        ),
        (
            json.dumps(
                {"Type": "Notification", "TopicArn": "arn:aws:sns:eu-west-1:1:t", "Message": {"a": 1}}
            ),
            "SNS envelope: Message must be a string",
        ),
        (
            json.dumps(
                {"Type": "Notification", "TopicArn": "arn:aws:sns:eu-west-1:1:t", "Message": "{not json"}
            ),
            "SNS envelope: Message is not valid JSON",
        ),
        (
            json.dumps({"Type": "SubscriptionConfirmation", "TopicArn": "arn:t", "Message": "{}"}),
            'SNS envelope: Type must be "Notification"',
        ),
    ],
    ids=["empty-bounced", "empty-complained", "message-not-string", "message-not-json", "wrong-type"],
)
def test_malformed_recipient_lists_and_envelopes_are_dead_lettered_with_their_reason(
    bounce_env: str, monkeypatch: pytest.MonkeyPatch, dlq: str, body: str, reason: str
) -> None:
    # GIVEN a DLQ and a record that is malformed in its recipients or in its SNS envelope
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)

    # WHEN it is processed
    response = invoke(sqs_record(body))

    # THEN it is forwarded with a reason naming the recipient list / the envelope
    assert failed_ids(response) == []
    [forwarded] = receive_all(dlq)
    assert forwarded["MessageAttributes"]["failure_reason"]["StringValue"].startswith(reason)
    assert boto3.client("dynamodb", region_name=REGION).scan(TableName=SUPPRESSION_TABLE)["Items"] == []


def test_bounce_with_a_timestamp_in_year_9999_is_handled(bounce_env: str) -> None:
    # GIVEN a soft bounce whose timestamp cannot be converted to UTC, but whose mail timestamp can
    event = soft_bounce("msg-9999", datetime.now(UTC))
    event["bounce"]["timestamp"] = "9999-12-31T23:59:59-01:00"

    # WHEN it is processed
    response = invoke(sqs_record(json.dumps(event)))

    # THEN it succeeds using the mail timestamp (no OverflowError)
    assert failed_ids(response) == []
    assert soft_bounce_item("soft.bouncer@example.net") is not None


def test_alert_summary_of_10000_events_in_one_batch_fits_sns(
    bounce_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN one batch of 10,000 bounced sends that SES rejected (each one an alert), long domains included
    template = load_event("ses_event_reject.json")
    records = []
    for n in range(10_000):
        event = copy.deepcopy(template)
        event["mail"]["messageId"] = f"0100018f3a1b1a1a-e9aedb9a-02f9-4d12-a87d-{n:012d}-000000"
        event["mail"]["destination"] = [f"user{n}.{k}@{'d' * 60}.example.net" for k in range(20)]
        records.append(sqs_record(json.dumps(event)))

    # WHEN the batch is processed (by a function with Lambda's longest timeout: 10,000 records through moto
    # take longer than 30 s on a loaded 2-core machine, and the handler rightly refuses AWS calls it has no
    # time left for)
    response = invoke(*records, remaining_millis=900_000)

    # THEN every record succeeds and support receives one summary under SNS's limit, remainder counted
    assert failed_ids(response) == []
    [alert] = alerts(bounce_env)
    assert alert["Subject"] == "SES alert: 10000 Reject"
    body = alert["Message"]
    assert len(body.encode("utf-8")) < 256 * 1024
    assert "10000 SES event(s) need attention" in body
    assert body.count("  - Reject:") == 50
    assert "  ... and 9,950 more" in body
    assert "user1.0@" not in body
    assert emitted_metrics(capsys.readouterr().out)["AlertSummaryPublished"] == 1
