"""The send path's delivery guarantee at the HTTP layer: what is retried, what never is, and time budgets.

These tests do not use moto: a local HTTP server plays SES (and DynamoDB) and counts the requests that
really reached it, so "SendEmail was not repeated" is observed on the wire, with the real botocore client
configuration of the handlers (``make_client``) and the real deadline hook.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from lambda_handlers.common.aws import (
    MAX_ATTEMPTS,
    RESPONSE_MARGIN_SECONDS,
    DeadlineExceededError,
    deadline,
    make_client,
)
from lambda_handlers.common.errors import TransientError
from lambda_handlers.order_email_sender.gateways import (
    SEND_MAX_ATTEMPTS,
    EmailRejectedError,
    SesV2EmailGateway,
    proves_not_accepted,
)
from lambda_handlers.order_email_sender.logic import SendEmailRequest, SimpleContent

Action = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class FakeAws:
    """A local AWS endpoint answering each request with the next scripted action (the last one repeats)."""

    url: str
    actions: list[Action] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def script(self, *actions: Action) -> None:
        self.actions[:] = actions

    def next_action(self, path: str) -> Action:
        self.requests.append(path)
        return self.actions[min(len(self.requests), len(self.actions)) - 1]


@pytest.fixture
def fake_aws() -> Iterator[FakeAws]:
    fake: FakeAws

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            fake.next_action(self.path)(self)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake = FakeAws(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch, fake_aws: FakeAws) -> FakeAws:
    """boto3 clients made by ``make_client`` talk to the fake (service-specific endpoint variables)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", fake_aws.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", fake_aws.url)
    return fake_aws


def answer(status: int, body: dict[str, Any], error_type: str | None = None) -> Action:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        payload = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        if error_type:
            handler.send_header("x-amzn-ErrorType", error_type)
        handler.end_headers()
        handler.wfile.write(payload)

    return respond


ACCEPTED = answer(200, {"MessageId": "ses-message-1"})


def error(status: int, code: str) -> Action:
    return answer(status, {"__type": code, "message": "injected"}, error_type=code)


def hang(seconds: float) -> Action:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)

    return respond


def drop(handler: BaseHTTPRequestHandler) -> None:
    """Read the request, then close the connection without answering (as after SES accepted it)."""
    handler.connection.shutdown(socket.SHUT_RDWR)
    handler.close_connection = True


@dataclass
class FakeContext:
    remaining_millis: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


REQUEST = SendEmailRequest(
    from_address="orders@example.com",
    to_address="jane@example.net",
    configuration_set_name="order-emails",
    tags=(("order_id", "ord-1"),),
    content=SimpleContent(subject="s", text="t", html="<p>h</p>"),
)


@dataclass
class Sleeps:
    delays: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def gateway(sleeps: Sleeps | None = None) -> SesV2EmailGateway:
    return SesV2EmailGateway(sleep=sleeps or Sleeps(), jitter=lambda low, high: high)


# ------------------------------------------------------------------------------ never repeated in-process
@pytest.mark.parametrize(
    ("action", "name"),
    [
        (error(500, "InternalFailure"), "a 5xx"),
        (error(503, "ServiceUnavailable"), "a 503"),
        (drop, "a connection dropped after sending"),
    ],
)
def test_a_send_that_may_have_reached_ses_is_not_repeated(
    endpoint: FakeAws, action: Action, name: str
) -> None:
    # GIVEN SES answers with something that does not prove it refused the message
    endpoint.script(action)

    # WHEN the gateway sends
    with pytest.raises(TransientError, match="SES SendEmail failed with a retryable error"):
        gateway().send(REQUEST)

    # THEN exactly one request reached SES: the record fails as transient, redelivery + idempotency do the rest
    assert endpoint.requests == ["/v2/email/outbound-emails"], name


def test_a_read_timeout_is_not_repeated_and_ends_within_the_invocation(endpoint: FakeAws) -> None:
    # GIVEN SES hangs, and the invocation has 3.5 s left
    endpoint.script(hang(5))
    started = time.monotonic()

    # WHEN the gateway sends
    with deadline.running(FakeContext(3_500)), pytest.raises(TransientError, match="ReadTimeoutError"):
        gateway().send(REQUEST)

    # THEN one request only, given up after the read timeout derived from the time left (3.5 - 1 s margin
    # - 1 s kept for completing the idempotency record - 1 s connect allowance = 0.5 s)
    elapsed = time.monotonic() - started
    assert endpoint.requests == ["/v2/email/outbound-emails"]
    assert 0.4 < elapsed < 3.5 - RESPONSE_MARGIN_SECONDS


# ------------------------------------------------------------------------------------ retried in-process
def test_throttling_is_retried_until_ses_accepts(endpoint: FakeAws) -> None:
    # GIVEN SES throttles twice (the two throttling shapes SES uses), then accepts
    endpoint.script(error(429, "TooManyRequestsException"), error(400, "LimitExceededException"), ACCEPTED)
    sleeps = Sleeps()

    # WHEN the gateway sends
    message_id = gateway(sleeps).send(REQUEST)

    # THEN it retried with a bounded backoff and SES accepted one message
    assert message_id == "ses-message-1"
    assert len(endpoint.requests) == 3
    assert sleeps.delays == [0.1, 0.2]


def test_throttling_beyond_the_retry_budget_fails_the_record_as_transient(endpoint: FakeAws) -> None:
    # GIVEN SES throttles every attempt
    endpoint.script(error(400, "Throttling"))

    # WHEN / THEN after SEND_MAX_ATTEMPTS requests the record fails for SQS to redeliver
    with pytest.raises(TransientError, match=r"SES SendEmail failed with a retryable error \(Throttling\)"):
        gateway().send(REQUEST)
    assert len(endpoint.requests) == SEND_MAX_ATTEMPTS


def test_a_connection_error_before_sending_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an SES endpoint nobody listens on (the request can never have been sent)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", f"http://127.0.0.1:{port}")
    sleeps = Sleeps()

    # WHEN / THEN it is tried SEND_MAX_ATTEMPTS times, then fails as transient
    with pytest.raises(TransientError, match="EndpointConnectionError"):
        gateway(sleeps).send(REQUEST)
    assert len(sleeps.delays) == SEND_MAX_ATTEMPTS - 1


def test_fails_if_ses_rejects_the_message_without_a_retry(endpoint: FakeAws) -> None:
    # GIVEN SES rejects the message
    endpoint.script(error(400, "MessageRejected"))

    # WHEN / THEN a permanent error naming only the code, after one request
    with pytest.raises(EmailRejectedError, match=r"^SES rejected the message \(MessageRejected\)$"):
        gateway().send(REQUEST)
    assert len(endpoint.requests) == 1


def test_only_throttling_and_unsent_requests_prove_ses_did_not_accept() -> None:
    # GIVEN the error shapes botocore raises
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    def client_error(code: str, status: int) -> ClientError:
        return ClientError(
            {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
            "SendEmail",
        )

    # WHEN / THEN only these are safe to send again
    assert proves_not_accepted(client_error("TooManyRequestsException", 429))
    assert proves_not_accepted(client_error("Throttling", 400))
    assert proves_not_accepted(client_error("LimitExceededException", 400))
    assert proves_not_accepted(EndpointConnectionError(endpoint_url="https://x"))
    assert proves_not_accepted(ConnectTimeoutError(endpoint_url="https://x"))
    assert not proves_not_accepted(client_error("TooManyRequestsException", 500))
    assert not proves_not_accepted(client_error("InternalFailure", 500))
    assert not proves_not_accepted(client_error("MessageRejected", 400))
    assert not proves_not_accepted(ReadTimeoutError(endpoint_url="https://x"))
    assert not proves_not_accepted(ConnectionClosedError(endpoint_url="https://x"))
    assert not proves_not_accepted(ValueError("bug"))


# ----------------------------------------------------------------------------------------- time budgets
def test_fails_if_too_little_time_is_left_to_start_a_send(endpoint: FakeAws) -> None:
    # GIVEN an invocation with 2 s left (1 s is the response margin, 1 s is kept to complete idempotency)
    endpoint.script(ACCEPTED)

    # WHEN / THEN the send is not even started: nothing reaches SES, the record is retried later
    with (
        deadline.running(FakeContext(2_000)),
        pytest.raises(DeadlineExceededError, match="not enough time left in the invocation"),
    ):
        gateway().send(REQUEST)
    assert endpoint.requests == []


def test_other_clients_keep_botocore_standard_retries(endpoint: FakeAws) -> None:
    # GIVEN DynamoDB answers two 500s, then the item
    endpoint.script(error(500, "InternalServerError"), error(500, "InternalServerError"), answer(200, {}))

    # WHEN a handler client reads
    response = make_client("dynamodb").get_item(TableName="t", Key={"address": {"S": "a@example.com"}})

    # THEN botocore retried (reads and conditional writes are safe to repeat)
    assert "Item" not in response
    assert len(endpoint.requests) == MAX_ATTEMPTS


def test_a_hanging_dynamodb_call_fails_before_the_invocation_ends(endpoint: FakeAws) -> None:
    # GIVEN DynamoDB hangs and the invocation has 3 s left
    endpoint.script(hang(10))
    client = make_client("dynamodb")
    started = time.monotonic()

    # WHEN / THEN the call fails (read timeout, then no time for another attempt) before the response margin
    with deadline.running(FakeContext(3_000)), pytest.raises(Exception) as raised:
        client.get_item(TableName="t", Key={"address": {"S": "a@example.com"}})
    elapsed = time.monotonic() - started
    assert type(raised.value).__name__ in {"ReadTimeoutError", "DeadlineExceededError"}
    assert elapsed < 3.0 - RESPONSE_MARGIN_SECONDS + 0.2


def test_outside_an_invocation_only_the_caps_apply() -> None:
    # GIVEN no running invocation
    # WHEN / THEN there is no deadline and nothing is refused
    assert deadline.seconds_left() is None
    assert deadline.read_timeout() is None
    deadline.require(1_000, "anything")
