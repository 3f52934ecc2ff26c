"""reply_classifier against moto (S3, SESv2, SQS): the real entry point, stored mail in a bucket, human
replies forwarded by e-mail and to a queue, automatic responses and bounces counted and dropped, bad input
dead-lettered with a reason, and logs without addresses, subjects or bodies."""

from __future__ import annotations

import email
import io
import json
import re
from collections.abc import Iterator
from email.policy import default as default_policy
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_handlers import contracts
from lambda_handlers.common.errors import ConfigError
from lambda_handlers.reply_classifier import activation
from lambda_handlers.reply_classifier import handler as classifier
from lambda_handlers.reply_classifier.config import load_config
from lambda_handlers.reply_classifier.logic import ReplyKind, classify, parse_mail
from tests.handlers.conftest import (
    EVENTS_DIR,
    REGION,
    FakeLambdaContext,
    emitted_metrics,
    failed_ids,
    receive_all,
    sent_messages,
    sns_envelope,
    sqs_event,
    sqs_record,
)

BUCKET = "inbound-replies-test"
IDENTITY = "shop.example.com"
FORWARD_FROM = f"Example Shop <replies@{IDENTITY}>"
FORWARD_TO = "support-team@example.com"


def eml(name: str) -> bytes:
    return (EVENTS_DIR / f"inbound_{name}.eml").read_bytes()


@pytest.fixture(autouse=True)
def _fresh_classifier(handler_logs: io.StringIO) -> Iterator[None]:
    """A new service per test; the classifier's log lines go to the ``handler_logs`` buffer too."""
    classifier.shell.reset()
    log_handler: Any = classifier.shell.logger.registered_handler
    previous = log_handler.setStream(handler_logs)
    yield
    log_handler.setStream(previous)
    classifier.shell.reset()


@pytest.fixture
def inbox(aws: None, monkeypatch: pytest.MonkeyPatch, dlq: str) -> str:
    """The bucket, a verified sending identity, the forward queue; returns the forward queue URL."""
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=IDENTITY)
    queue_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="human-replies")["QueueUrl"]
    monkeypatch.setenv(contracts.INBOUND_BUCKET_NAME_ENV, BUCKET)
    monkeypatch.setenv(contracts.FORWARD_FROM_ADDRESS_ENV, FORWARD_FROM)
    monkeypatch.setenv(contracts.FORWARD_TO_ADDRESS_ENV, FORWARD_TO)
    monkeypatch.setenv(contracts.FORWARD_QUEUE_URL_ENV, queue_url)
    monkeypatch.setenv(contracts.DEAD_LETTER_QUEUE_URL_ENV, dlq)
    return queue_url


def store(raw: bytes, message_id: str) -> str:
    key = f"{contracts.INBOUND_OBJECT_PREFIX}{message_id}"
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=raw)
    return key


def notification(message_id: str, *, bucket: str = BUCKET, key: str | None = None) -> dict[str, Any]:
    """What the S3 action publishes to its topic (receiving-email-notifications-contents)."""
    return {
        "notificationType": "Received",
        "receipt": {
            "timestamp": "2026-11-30T09:12:00.500Z",
            "processingTimeMillis": 320,
            "recipients": [f"replies@{IDENTITY}"],
            "spamVerdict": {"status": "PASS"},
            "virusVerdict": {"status": "PASS"},
            "spfVerdict": {"status": "PASS"},
            "dkimVerdict": {"status": "PASS"},
            "dmarcVerdict": {"status": "PASS"},
            "action": {
                "type": "S3",
                "topicArn": f"arn:aws:sns:{REGION}:123456789012:inbound",
                "bucketName": bucket,
                "objectKeyPrefix": contracts.INBOUND_OBJECT_PREFIX,
                "objectKey": key or f"{contracts.INBOUND_OBJECT_PREFIX}{message_id}",
            },
        },
        "mail": {
            "timestamp": "2026-11-30T09:12:00.180Z",
            "source": "jane.doe@example.net",
            "messageId": message_id,
            "destination": [f"replies@{IDENTITY}"],
            "headersTruncated": False,
        },
    }


def invoke(*bodies: str) -> dict[str, Any]:
    records = [sqs_record(body, message_id=f"rec-{i}") for i, body in enumerate(bodies)]
    return classifier.handler(sqs_event(*records), FakeLambdaContext())


def test_a_human_reply_is_forwarded_from_our_identity_with_the_customer_as_reply_to(
    inbox: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a human reply stored by SES and its notification (raw message delivery)
    store(eml("human_reply"), "humanreply0001")
    # WHEN the classifier handles it
    response = invoke(json.dumps(notification("humanreply0001")))
    # THEN it succeeds and SES sent one forward to the team, From our identity, Reply-To the customer
    assert failed_ids(response) == []
    (sent,) = sent_messages()
    forwarded = email.message_from_string(sent.raw_data, policy=default_policy)
    assert set(sent.destinations) == {FORWARD_TO}  # moto adds the To header to the ToAddresses
    assert forwarded["From"] == FORWARD_FROM
    assert forwarded["Reply-To"] == "Jane Doe <jane.doe@example.net>"
    assert forwarded["To"] == FORWARD_TO
    assert forwarded["Subject"] == "Re: Your order ord-1001 is confirmed"
    assert forwarded["In-Reply-To"] == "<0102018abcdef@eu-west-1.amazonses.com>"
    # AND the original signature and recipients are gone, the body is unchanged
    assert forwarded["DKIM-Signature"] is None and forwarded["Cc"] is None
    assert "neighbour at number 12" in forwarded.get_content()
    # AND the queue got the reply's coordinates (no body)
    (queued,) = receive_all(inbox)
    body = json.loads(queued["Body"])
    assert set(body) == set(contracts.REPLY_MESSAGE_KEYS)
    assert body["event_type"] == contracts.REPLY_RECEIVED_EVENT_TYPE
    assert (body["bucket"], body["key"]) == (BUCKET, "inbound/humanreply0001")
    assert (body["from"], body["reply_to"]) == ("jane.doe@example.net", "jane.doe@example.net")
    assert body["in_reply_to"] == "<0102018abcdef@eu-west-1.amazonses.com>"
    assert "neighbour" not in queued["Body"]
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics[contracts.METRIC_REPLY_FORWARDED_BY_EMAIL] == 1
    assert metrics[contracts.METRIC_REPLY_FORWARDED_TO_QUEUE] == 1


def test_an_out_of_office_reply_is_an_auto_response_and_is_not_forwarded(
    inbox: str, capsys: pytest.CaptureFixture[str], handler_logs: io.StringIO
) -> None:
    # GIVEN an Exchange out-of-office reply in an SNS envelope (without raw message delivery)
    store(eml("out_of_office"), "outofoffice0001")
    # WHEN the classifier handles it
    response = invoke(sns_envelope(notification("outofoffice0001"), topic="inbound"))
    # THEN nothing is forwarded anywhere and the auto-response is counted
    assert failed_ids(response) == []
    assert sent_messages() == [] and receive_all(inbox) == []
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics[contracts.METRIC_AUTO_RESPONSE_RECEIVED] == 1
    assert contracts.METRIC_REPLY_FORWARDED_BY_EMAIL not in metrics
    # AND the log names the deciding headers, never their values
    (line,) = [json.loads(x) for x in handler_logs.getvalue().splitlines() if "Automatic response" in x]
    assert line["classification"] == "auto_response"
    assert line["signals"] == ["Auto-Submitted", "X-Auto-Response-Suppress"]


def test_a_delivery_report_is_a_bounce_and_is_not_forwarded(
    inbox: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a delivery report at the reply address WHEN handled THEN it is counted, not forwarded
    store(eml("bounce"), "bounce0001")
    response = invoke(json.dumps(notification("bounce0001")))
    assert failed_ids(response) == []
    assert sent_messages() == [] and receive_all(inbox) == []
    assert emitted_metrics(capsys.readouterr().out)[contracts.METRIC_INBOUND_BOUNCE_RECEIVED] == 1


def test_a_notification_of_another_action_is_ignored(inbox: str, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a notification of a Lambda action (no stored mail) WHEN handled THEN it is ignored and counted
    other = notification("lambdaaction0001")
    other["receipt"]["action"] = {"type": "Lambda", "functionArn": "arn:aws:lambda:eu-west-1:1:function:f"}
    response = invoke(json.dumps(other))
    assert failed_ids(response) == []
    assert emitted_metrics(capsys.readouterr().out)[contracts.METRIC_INBOUND_NOTIFICATION_IGNORED] == 1


def _dead_letters(dlq: str) -> list[str]:
    return [m["MessageAttributes"]["failure_reason"]["StringValue"] for m in receive_all(dlq)]


def test_a_missing_object_goes_to_the_dlq_with_a_reason(inbox: str, dlq: str) -> None:
    # GIVEN a notification whose object is not in the bucket (expired by the lifecycle rule)
    response = invoke(json.dumps(notification("expired0001")))
    # THEN the record is processed (parked), the DLQ has it with the reason, nothing is forwarded
    assert failed_ids(response) == []
    assert _dead_letters(dlq) == ["stored mail not found in the bucket (NoSuchKey)"]
    assert sent_messages() == []


def test_a_notification_naming_another_bucket_is_refused(inbox: str, dlq: str) -> None:
    # GIVEN a notification naming a bucket that is not ours WHEN handled THEN it is dead-lettered
    response = invoke(json.dumps(notification("elsewhere0001", bucket="someone-elses-bucket")))
    assert failed_ids(response) == []
    assert _dead_letters(dlq) == ["receipt.action.bucketName is not this deployment's inbound bucket"]


def test_a_mail_over_the_size_cap_is_dead_lettered_unread(
    inbox: str, dlq: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a stored mail larger than the cap WHEN handled THEN it goes to the DLQ without being read
    monkeypatch.setenv(contracts.MAX_INBOUND_MESSAGE_BYTES_ENV, "1024")
    store(eml("human_reply") + b"x" * 2048, "bigmail0001")
    response = invoke(json.dumps(notification("bigmail0001")))
    assert failed_ids(response) == []
    (reason,) = _dead_letters(dlq)
    assert reason.startswith("stored mail is ") and "the cap is 1024" in reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "record body is not valid JSON (JSONDecodeError)"),
        (json.dumps({"hello": "world"}), "notificationType is missing: not an SES receipt notification"),
        (json.dumps({**notification("x1"), "mail": []}), "mail must be an object"),
    ],
)
def test_malformed_notifications_go_to_the_dlq_with_a_reason(
    inbox: str, dlq: str, body: str, reason: str
) -> None:
    # GIVEN a malformed record body WHEN handled THEN the DLQ gets it with the field-naming reason
    response = invoke(body)
    assert failed_ids(response) == []
    assert _dead_letters(dlq) == [reason]


def test_a_human_looking_mail_without_a_sender_is_dead_lettered(inbox: str, dlq: str) -> None:
    # GIVEN a mail without From (no auto-response headers) WHEN handled THEN it cannot be forwarded: DLQ
    store(b"Subject: hello\r\n\r\nno From header here\r\n", "nosender0001")
    response = invoke(json.dumps(notification("nosender0001")))
    assert failed_ids(response) == []
    assert _dead_letters(dlq) == ["mail has no valid From address; it cannot be answered or forwarded"]


def test_queue_only_forwarding_needs_no_sending_identity(inbox: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN only a forward queue configured
    monkeypatch.delenv(contracts.FORWARD_TO_ADDRESS_ENV)
    monkeypatch.delenv(contracts.FORWARD_FROM_ADDRESS_ENV)
    store(eml("human_reply"), "queueonly0001")
    # WHEN a human reply arrives THEN it is queued and no e-mail is sent
    assert failed_ids(invoke(json.dumps(notification("queueonly0001")))) == []
    assert len(receive_all(inbox)) == 1 and sent_messages() == []


def test_the_logs_carry_no_address_subject_or_body(inbox: str, handler_logs: io.StringIO) -> None:
    # GIVEN a human reply and an out-of-office reply WHEN both are handled
    store(eml("human_reply"), "pii0001")
    store(eml("out_of_office"), "pii0002")
    invoke(json.dumps(notification("pii0001")), json.dumps(notification("pii0002")))
    logs = handler_logs.getvalue()
    assert "Human reply forwarded" in logs
    for secret in ("jane.doe@example.net", FORWARD_TO, "ord-1001", "neighbour", "out of the office"):
        assert secret not in logs
    assert "j***@example.net" in logs


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({contracts.INBOUND_BUCKET_NAME_ENV: BUCKET}, "human replies need somewhere to go"),
        (
            {contracts.INBOUND_BUCKET_NAME_ENV: BUCKET, contracts.FORWARD_TO_ADDRESS_ENV: FORWARD_TO},
            "FORWARD_FROM_ADDRESS is required",
        ),
        (
            {contracts.INBOUND_BUCKET_NAME_ENV: BUCKET, contracts.FORWARD_TO_ADDRESS_ENV: "nobody"},
            "FORWARD_TO_ADDRESS must be an e-mail address",
        ),
        (
            {contracts.FORWARD_QUEUE_URL_ENV: "https://sqs.eu-west-1.amazonaws.com/1/q"},
            "INBOUND_BUCKET_NAME is required",
        ),
    ],
)
def test_fails_if_the_configuration_is_incomplete(environ: dict[str, str], message: str) -> None:
    # GIVEN an incomplete environment WHEN loading THEN the error names the variable
    with pytest.raises(ConfigError, match=message):
        load_config(environ)


# --- classification: hypothesis over headers ------------------------------------------------------------
_HEADER_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=40
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "Auto-Submitted",
                    "Precedence",
                    "X-Autoreply",
                    "From",
                    "Subject",
                    "Return-Path",
                    "Content-Type",
                ]
            ),
            _HEADER_TEXT,
        ),
        max_size=6,
    ),
    body=st.binary(max_size=200),
)
def test_any_headers_yield_a_classification(headers: list[tuple[str, str]], body: bytes) -> None:
    # GIVEN a mail of arbitrary header values (and arbitrary body bytes)
    raw = b"".join(f"{n}: {v}\r\n".encode("utf-8", "surrogateescape") for n, v in headers) + b"\r\n" + body
    # WHEN it is parsed and classified THEN there is always an answer
    result = classify(parse_mail(raw))
    assert result.kind in set(ReplyKind)
    # AND an Auto-Submitted value other than "no" always makes it automatic, unless it is a bounce
    # (control characters count as blanks: a value made only of them is no value)
    auto = [re.sub(r"[\x00-\x1f\x7f]", " ", v) for n, v in headers if n == "Auto-Submitted"]
    if auto and auto[0].split(";")[0].strip().lower() not in ("", "no"):
        assert result.kind in (ReplyKind.AUTO_RESPONSE, ReplyKind.BOUNCE)


@settings(max_examples=100, deadline=None)
@given(value=st.sampled_from(["auto-replied", "auto-generated", "Auto-Notified; owner-email=x@example.com"]))
def test_rfc_3834_auto_submitted_values_are_auto_responses(value: str) -> None:
    # GIVEN any RFC 3834 Auto-Submitted value other than no THEN the mail is an automatic response
    raw = f"From: a@example.net\r\nAuto-Submitted: {value}\r\nSubject: Re: hi\r\n\r\nbody".encode()
    assert classify(parse_mail(raw)).kind is ReplyKind.AUTO_RESPONSE


@pytest.mark.parametrize(
    ("headers", "kind", "signals"),
    [
        ("Auto-Submitted: no\r\nSubject: Re: order", ReplyKind.HUMAN, ()),
        ("Precedence: junk\r\nSubject: Re: order", ReplyKind.AUTO_RESPONSE, ("Precedence",)),
        ("Precedence: list\r\nSubject: Re: order", ReplyKind.HUMAN, ()),
        ("X-Autorespond: yes\r\nSubject: Re: order", ReplyKind.AUTO_RESPONSE, ("X-Autorespond",)),
        ("Subject: Out of Office: back Monday", ReplyKind.AUTO_RESPONSE, ("Subject",)),
        ("Subject: Abwesenheitsnotiz: Urlaub", ReplyKind.AUTO_RESPONSE, ("Subject",)),
        ("Auto-Submitted: no\r\nSubject: Automatic reply: not really", ReplyKind.HUMAN, ()),
        ("Subject: Re: Out of Office question", ReplyKind.HUMAN, ()),
        ("Return-Path: <>\r\nSubject: Re: order", ReplyKind.BOUNCE, ("Return-Path",)),
        ("Return-Path: <>\r\nAuto-Submitted: auto-replied", ReplyKind.AUTO_RESPONSE, ("Auto-Submitted",)),
    ],
)
def test_classification_rules(headers: str, kind: ReplyKind, signals: tuple[str, ...]) -> None:
    # GIVEN headers of one rule WHEN classified THEN the kind and the deciding signals are as documented
    raw = f"From: Jane <jane@example.net>\r\n{headers}\r\n\r\nbody".encode()
    result = classify(parse_mail(raw))
    assert (result.kind, result.signals) == (kind, signals)


# --- the activation custom resource -----------------------------------------------------------------------
class _Response:
    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def read(self) -> bytes:
        return b""


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the activation handler PUTs to CloudFormation's response URL."""
    recorded: list[dict[str, Any]] = []
    original = activation.custom_resource.run

    def opener(request: Any, timeout: float) -> _Response:
        recorded.append(json.loads(request.data))
        return _Response()

    monkeypatch.setattr(
        activation.custom_resource, "run", lambda event, **kw: original(event, opener=opener, **kw)
    )
    return recorded


def _cfn(request_type: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response.example/presigned?sig=1",
        "StackId": f"arn:aws:cloudformation:{REGION}:123456789012:stack/Mail/1",
        "RequestId": "req-1",
        "LogicalResourceId": "RepliesActivation",
        "ResourceType": "Custom::SesActiveReceiptRuleSet",
        "ResourceProperties": {"ServiceToken": "arn:fn", "RuleSetName": name},
        **extra,
    }


def _active() -> str | None:
    return (
        boto3.client("ses", region_name=REGION)
        .describe_active_receipt_rule_set()
        .get("Metadata", {})
        .get("Name")
    )


def test_activation_activates_and_deactivates_only_its_own_rule_set(
    aws: None, answers: list[dict[str, Any]]
) -> None:
    ses = boto3.client("ses", region_name=REGION)
    for name in ("older", "replies"):
        ses.create_receipt_rule_set(RuleSetName=name)
    ses.set_active_receipt_rule_set(RuleSetName="older")
    # WHEN the resource is created THEN our set is active and the previous one is reported
    activation.handler(_cfn("Create", "replies"), None)
    assert _active() == "replies"
    assert answers[-1]["Status"] == "SUCCESS"
    assert answers[-1]["PhysicalResourceId"] == "active-receipt-rule-set/replies"
    assert answers[-1]["Data"] == {"RuleSetName": "replies", "PreviouslyActive": "older"}
    # WHEN it is deleted while still active THEN no rule set is active (the old one is not restored)
    activation.handler(_cfn("Delete", "replies", PhysicalResourceId="active-receipt-rule-set/replies"), None)
    assert _active() is None
    # WHEN someone activated another set meanwhile THEN a delete leaves that one alone
    ses.set_active_receipt_rule_set(RuleSetName="older")
    activation.handler(_cfn("Delete", "replies", PhysicalResourceId="active-receipt-rule-set/replies"), None)
    assert _active() == "older"
    assert all(answer["Status"] == "SUCCESS" for answer in answers)


def test_activation_fails_with_a_reason_without_a_name(aws: None, answers: list[dict[str, Any]]) -> None:
    # GIVEN no RuleSetName WHEN created THEN CloudFormation gets FAILED with the reason
    activation.handler(_cfn("Create", ""), None)
    assert answers[-1]["Status"] == "FAILED"
    assert answers[-1]["Reason"] == "property RuleSetName is missing or empty"


# --- the sandbox stand-in for SES receiving ---------------------------------------------------------------
def test_receive_email_feeds_the_classifier_through_topic_and_queue(inbox: str) -> None:
    from notification_constructs.testing._inbound import receive_email

    # GIVEN the S3 action's topic with a raw-delivery queue subscribed (as InboundReplies wires it)
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name="inbound")["TopicArn"]
    source_url = sqs.create_queue(QueueName="inbound-notifications")["QueueUrl"]
    source_arn = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=source_arn, Attributes={"RawMessageDelivery": "true"}
    )
    # WHEN a human reply and an out-of-office reply are "received"
    for name in ("human_reply", "out_of_office"):
        receive_email(
            lambda service: boto3.client(service, region_name=REGION),
            eml(name),
            bucket=BUCKET,
            topic_arn=topic_arn,
            recipients=[f"replies@{IDENTITY}"],
        )
    # AND the classifier handles what arrived on its queue
    bodies = [m["Body"] for m in receive_all(source_url)]
    assert len(bodies) == 2
    assert failed_ids(invoke(*bodies)) == []
    # THEN only the human reply was forwarded
    (sent,) = sent_messages()
    assert "Reply-To: Jane Doe <jane.doe@example.net>" in sent.raw_data
    assert len(receive_all(inbox)) == 1


def test_the_active_rule_sets_s3_actions_store_and_notify_only_matching_mail(inbox: str) -> None:
    from notification_constructs.testing._inbound import deliver_to_active_rule_set

    # GIVEN an active rule set whose rule stores mail for the reply address (as InboundReplies deploys it)
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name="inbound")["TopicArn"]
    source_url = sqs.create_queue(QueueName="inbound-notifications")["QueueUrl"]
    source_arn = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=source_arn, Attributes={"RawMessageDelivery": "true"}
    )
    ses = boto3.client("ses", region_name=REGION)
    ses.create_receipt_rule_set(RuleSetName="replies")
    action = {"BucketName": BUCKET, "ObjectKeyPrefix": contracts.INBOUND_OBJECT_PREFIX, "TopicArn": topic_arn}
    rule = {"Name": "store", "Enabled": True, "Recipients": [IDENTITY], "Actions": [{"S3Action": action}]}
    ses.create_receipt_rule(RuleSetName="replies", Rule=rule)
    ses.set_active_receipt_rule_set(RuleSetName="replies")

    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    # WHEN mail arrives for the reply domain, and for an address no rule covers
    keys = deliver_to_active_rule_set(client, eml("human_reply"), recipients=[f"replies@{IDENTITY}"])
    missed = deliver_to_active_rule_set(client, eml("human_reply"), recipients=["someone@example.org"])
    # THEN only the first is stored and announced, and the classifier forwards it
    assert len(keys) == 1 and keys[0].startswith(contracts.INBOUND_OBJECT_PREFIX) and missed == []
    bodies = [m["Body"] for m in receive_all(source_url)]
    assert len(bodies) == 1
    assert failed_ids(invoke(*bodies)) == []
    assert len(sent_messages()) == 1
