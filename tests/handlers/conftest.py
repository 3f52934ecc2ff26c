"""Fixtures for running the real handler entry points against moto (no network, no AWS account).

Every test gets fake credentials, a fresh ``mock_aws`` context, freshly built handler services (the
handlers cache config + clients per execution environment; :func:`_fresh_handlers` resets that cache)
and helpers to build realistic SQS events (raw bodies or SNS envelopes).
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sesv2.responses import SESV2Response

from lambda_handlers.bounce_processor import handler as bounce_handler
from lambda_handlers.order_email_sender import handler as sender_handler
from lambda_handlers.order_writer import handler as writer_handler

REGION = "eu-west-1"
EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
SENDER_IDENTITY = "example.com"
SENDER_ADDRESS = "Example Shop <orders@example.com>"
CONFIGURATION_SET = "order-emails"
TEMPLATE_NAME = "order-confirmation"
SOURCE_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{DEFAULT_ACCOUNT_ID}:source-queue"

# The template the CDK side creates (Handlebars; names match the handler's TemplateData keys).
TEMPLATE_SUBJECT = "Your order {{order_id}} is confirmed"
TEMPLATE_TEXT = (
    "Hello {{customer_name}},\n"
    "order {{order_id}} placed at {{placed_at}}:\n"
    "{{#each items}}{{quantity}} x {{name}} ({{sku}}) {{unit_price}} = {{line_total}}\n{{/each}}"
    "Total: {{total}} {{currency}}\n"
)
TEMPLATE_HTML = (
    "<p>Hello {{customer_name}}</p><ul>{{#each items}}<li>{{quantity}} x {{name}}: {{line_total}}</li>"
    "{{/each}}</ul><p>Total: {{total}} {{currency}}</p>"
)


# --------------------------------------------------------------------------------------------- context
@dataclass
class FakeLambdaContext:
    """The attributes Powertools reads from the Lambda context."""

    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:test-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2024/05/01/[$LATEST]abcdef"
    remaining_millis: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


# ------------------------------------------------------------------------------------------ environment
@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region so nothing can reach a real account; no handler variables leak in."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "notification-tests")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "NotificationConstructsTests")
    for name in (
        "DEAD_LETTER_QUEUE_URL",
        "SENDER_ADDRESS",
        "CONFIGURATION_SET_NAME",
        "TEMPLATE_NAME",
        "SUPPRESSION_TABLE_NAME",
        "IDEMPOTENCY_TABLE_NAME",
        "IDEMPOTENCY_TTL_SECONDS",
        "ORDERS_TABLE_NAME",
        "SOFT_BOUNCE_TABLE_NAME",
        "SOFT_BOUNCE_THRESHOLD",
        "SOFT_BOUNCE_WINDOW_HOURS",
        "ALERT_TOPIC_ARN",
        "USE_ACCOUNT_SUPPRESSION_LIST",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _fresh_handlers() -> Iterator[None]:
    """Each test builds its own services (config, boto3 clients) inside its own moto context."""
    for module in (sender_handler, writer_handler, bounce_handler):
        module.shell.reset()
    yield
    for module in (sender_handler, writer_handler, bounce_handler):
        module.shell.reset()


@pytest.fixture(autouse=True)
def handler_logs() -> Iterator[io.StringIO]:
    """The JSON log lines the handlers write during this test.

    Powertools loggers keep the stream they were created with (one handler shared by the three modules,
    whose service name is the same in tests); point it at a buffer per test and restore it afterwards.
    """
    buffer = io.StringIO()
    handlers = {
        id(h): h
        for h in (m.shell.logger.registered_handler for m in (sender_handler, writer_handler, bounce_handler))
    }
    previous = {key: handler.setStream(buffer) for key, handler in handlers.items()}  # type: ignore[attr-defined]
    yield buffer
    for key, handler in handlers.items():
        handler.setStream(previous[key])  # type: ignore[attr-defined]


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


# ----------------------------------------------------------------------------------------- resources
def create_table(name: str, key: str, ttl_attribute: str | None = None) -> str:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    if ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute}
        )
    return name


@pytest.fixture
def suppression_table(aws: None) -> str:
    return create_table("suppression", "address")


@pytest.fixture
def dlq(aws: None) -> str:
    return boto3.client("sqs", region_name=REGION).create_queue(QueueName="handler-dlq")["QueueUrl"]


@pytest.fixture
def fifo_dlq(aws: None) -> str:
    return boto3.client("sqs", region_name=REGION).create_queue(
        QueueName="handler-dlq.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]


def receive_all(queue_url: str) -> list[dict[str, Any]]:
    """Every message in the queue, removed from it."""
    sqs = boto3.client("sqs", region_name=REGION)
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
        # Consumed: on a slow machine a long drain would otherwise outlast the visibility timeout and
        # receive the first messages again, forever.
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )


@dataclass
class FakeSesExtras:
    """What moto's SESv2 lacks, recorded by :func:`ses_extras`."""

    rendered: list[dict[str, Any]] = field(default_factory=list)
    suppressed_destinations: dict[str, str] = field(default_factory=dict)


def _stringify(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _stringify(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_stringify(item) for item in value]
    return value if isinstance(value, str) else str(value)


@pytest.fixture
def ses_extras(monkeypatch: pytest.MonkeyPatch) -> FakeSesExtras:
    """Teach moto's SESv2 ``SendEmail`` the ``Template`` content (rendered with the SES v1 template
    store, so a key the template needs but TemplateData lacks fails the test) and
    ``PutSuppressedDestination`` (moto 5.2 implements neither)."""
    extras = FakeSesExtras()
    original_send_email = SESV2Response.send_email

    def send_email(self: SESV2Response) -> str:
        params = json.loads(self.body)
        template = params.get("Content", {}).get("Template")
        if template is None:
            return original_send_email(self)
        core = self.sesv2_backend.core_backend
        # moto's Handlebars renderer cannot concatenate numbers (SES can): render a stringified copy.
        as_text = json.dumps(_stringify(json.loads(template["TemplateData"])))
        rendered = core.render_template({"name": template["TemplateName"], "data": as_text})
        message = core.send_templated_email(
            source=params["FromEmailAddress"],
            template=template["TemplateName"],
            template_data=template["TemplateData"],
            destinations=params.get("Destination", {}),
        )
        extras.rendered.append({"params": params, "rendered": rendered})
        return json.dumps({"MessageId": message.id})

    def put_suppressed_destination(self: SESV2Response) -> str:
        params = json.loads(self.body)
        extras.suppressed_destinations[params["EmailAddress"]] = params["Reason"]
        return "{}"

    monkeypatch.setattr(SESV2Response, "send_email", send_email)
    monkeypatch.setattr(
        SESV2Response, "put_suppressed_destination", put_suppressed_destination, raising=False
    )
    return extras


@pytest.fixture
def ses(aws: None, ses_extras: FakeSesExtras) -> FakeSesExtras:
    """A verified domain identity, the configuration set and the order-confirmation template."""
    sesv2 = boto3.client("sesv2", region_name=REGION)
    sesv2.create_email_identity(EmailIdentity=SENDER_IDENTITY)
    sesv2.create_configuration_set(ConfigurationSetName=CONFIGURATION_SET)
    boto3.client("ses", region_name=REGION).create_template(
        Template={
            "TemplateName": TEMPLATE_NAME,
            "SubjectPart": TEMPLATE_SUBJECT,
            "TextPart": TEMPLATE_TEXT,
            "HtmlPart": TEMPLATE_HTML,
        }
    )
    return ses_extras


def sent_messages() -> list[Any]:
    """Every message moto's SES accepted in this test (SESv2 piggybacks on the v1 store)."""
    return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


# ---------------------------------------------------------------------------------------------- events
#: Every SES event / notification sample in tests/events (each handled by the bounce processor).
SES_EVENTS = [
    "ses_event_bounce.json",
    "ses_event_click.json",
    "ses_event_complaint.json",
    "ses_event_complaint_not_spam.json",
    "ses_event_delivery.json",
    "ses_event_delivery_delay.json",
    "ses_event_open.json",
    "ses_event_reject.json",
    "ses_event_rendering_failure.json",
    "ses_event_send.json",
    "ses_event_subscription.json",
    "ses_notification_bounce_permanent.json",
    "ses_notification_bounce_transient.json",
    "ses_notification_complaint.json",
    "ses_notification_delivery.json",
    "ses_notification_sns_subscription_succeeded.json",
]


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / name).read_text())


def sns_envelope(
    message: dict[str, Any] | str, *, topic: str = "order-events", subject: str | None = None
) -> str:
    """The body SQS receives from an SNS subscription *without* raw message delivery."""
    envelope = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:{topic}",
        "Message": message if isinstance(message, str) else json.dumps(message),
        "Timestamp": "2024-05-01T12:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+..",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
        "MessageAttributes": {"event_type": {"Type": "String", "Value": "order.placed"}},
    }
    if subject is not None:
        envelope["Subject"] = subject
    return json.dumps(envelope)


def sqs_record(
    body: str, *, message_id: str | None = None, receive_count: int = 1, group_id: str | None = None
) -> dict[str, Any]:
    attributes = {
        "ApproximateReceiveCount": str(receive_count),
        "SentTimestamp": "1714564800000",
        "SenderId": "AIDAEXAMPLE",
        "ApproximateFirstReceiveTimestamp": "1714564800001",
    }
    if group_id is not None:
        attributes["MessageGroupId"] = group_id
        attributes["SequenceNumber"] = "18849496460467696128"
        attributes["MessageDeduplicationId"] = str(uuid.uuid4())
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEBexample==",
        "body": body,
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": SOURCE_QUEUE_ARN + (".fifo" if group_id else ""),
        "awsRegion": REGION,
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


# --------------------------------------------------------------------------------------------- metrics
def emitted_metrics(stdout: str) -> dict[str, float]:
    """Sum of every EMF metric printed by Powertools in ``stdout``."""
    totals: dict[str, float] = {}
    for line in stdout.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict) or "_aws" not in document:
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                values = value if isinstance(value, list) else [value]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(values)
    return totals


# ------------------------------------------------------------------------------------- fault injection
def inject_client_error(
    client: Any, operation: str, *, code: str, status: int, message: str = "injected", times: int = 1
) -> list[int]:
    """Make the next ``times`` calls of ``operation`` on this boto3 ``client`` fail with ``code``.

    Uses botocore's ``before-call`` hook (as ``Stubber`` does), so the gateway's own error mapping runs.
    Returns a one-element list counting the injected failures.
    """
    from botocore.awsrequest import AWSResponse

    injected = [0]
    service_id = client.meta.service_model.service_id.hyphenize()

    def fail(**_: Any) -> Any:
        if injected[0] >= times:
            return None
        injected[0] += 1
        parsed = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return AWSResponse("https://example.invalid", status, {}, None), parsed

    client.meta.events.register(f"before-call.{service_id}.{operation}", fail)
    return injected
