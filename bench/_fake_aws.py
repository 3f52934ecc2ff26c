"""Canned AWS answers for the benchmarks: one table of responses, served two ways.

- over HTTP (:func:`http_fake`): a tiny ``http.server`` on 127.0.0.1 that every client reaches through
  ``AWS_ENDPOINT_URL`` (the cold-start benchmark: importing boto3 and creating clients count wherever
  they happen);
- in memory (:func:`install_in_memory`): a botocore ``before-send`` hook on a boto3 session that answers
  every request without a socket (the warm benchmark: the request is still serialized, signed and its
  answer parsed by botocore, as in Lambda).

Both answer the operations the handlers make: DynamoDB and SQS (JSON), SESv2 (REST JSON), SNS (query)
and S3 ``GetObject`` (REST XML). Every answer is stateless - each run of a handler sees an empty world
(no item stored, no address suppressed, nobody opted out) - and every request is recorded as
``(service, operation)`` in :data:`CALLS`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
#: The raw mail :func:`answer` serves for every S3 ``GetObject`` (a human reply).
INBOUND_MAIL = (ROOT / "tests" / "events" / "inbound_human_reply.eml").read_bytes()
#: Contacts in the one page of the contact list ``ListContacts`` returns (bulk sender).
CONTACTS_PER_PAGE = 10

#: Every request answered, as ``"service:Operation"``, in order (cleared by the callers).
CALLS: list[str] = []
_CALLS_LOCK = threading.Lock()

Answer = tuple[int, dict[str, str], bytes]


def _json(payload: Any, content_type: str = "application/x-amz-json-1.0") -> Answer:
    return 200, {"Content-Type": content_type}, json.dumps(payload).encode()


def _query_xml(operation: str, result: str) -> Answer:
    xml = (
        f'<{operation}Response xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><{operation}Result>{result}'
        f"</{operation}Result><ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    )
    return 200, {"Content-Type": "text/xml"}, xml.encode()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def answer(service: str, operation: str, body: bytes) -> Answer:
    """The canned answer to one request; ``(400, ..)`` for an operation the table does not know."""
    with _CALLS_LOCK:
        CALLS.append(f"{service}:{operation}")
    rest_json = "application/json"
    match service, operation:
        case "dynamodb", "BatchGetItem":
            tables = json.loads(body).get("RequestItems", {})
            return _json({"Responses": {table: [] for table in tables}, "UnprocessedKeys": {}})
        case "dynamodb", _:
            return _json({})
        case "sqs", "SendMessage":
            message = json.loads(body)["MessageBody"]
            return _json({"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": _md5(message)})
        case "sesv2", "SendEmail":
            return _json({"MessageId": str(uuid.uuid4())}, rest_json)
        case "sesv2", "SendBulkEmail":
            entries = json.loads(body).get("BulkEmailEntries", [])
            results = [{"Status": "SUCCESS", "MessageId": str(uuid.uuid4())} for _ in entries]
            return _json({"BulkEmailEntryResults": results}, rest_json)
        case "sesv2", "GetContactList":
            topic = {"TopicName": "offers", "DisplayName": "Offers", "DefaultSubscriptionStatus": "OPT_IN"}
            return _json({"ContactListName": "shop", "Topics": [topic]}, rest_json)
        case "sesv2", "ListContacts":
            contacts = [
                {"EmailAddress": f"customer{index}@example.net", "UnsubscribeAll": False}
                for index in range(CONTACTS_PER_PAGE)
            ]
            return _json({"Contacts": contacts}, rest_json)
        case "sesv2", "PutSuppressedDestination":
            return _json({}, rest_json)
        case "sns", "Publish":
            return _query_xml("Publish", f"<MessageId>{uuid.uuid4()}</MessageId>")
        case "sns", "CheckIfPhoneNumberIsOptedOut":
            return _query_xml("CheckIfPhoneNumberIsOptedOut", "<isOptedOut>false</isOptedOut>")
        case "s3", "GetObject":
            headers = {"Content-Type": "message/rfc822", "ETag": f'"{_md5(INBOUND_MAIL.decode())}"'}
            return 200, headers, INBOUND_MAIL
    return 400, {"Content-Type": rest_json}, json.dumps({"message": f"bench: {service} {operation}"}).encode()


# ----------------------------------------------------------------------------------------- in memory
class _RawBody:
    """What botocore reads an answer's body from (``stream()``, ``read()``), as urllib3's response."""

    def __init__(self, payload: bytes) -> None:
        self._payload = payload
        self._read = False

    def stream(self, **_: Any) -> Iterator[bytes]:
        if not self._read:
            self._read = True
            yield self._payload

    def read(self, *_: Any, **__: Any) -> bytes:
        payload, self._payload = (b"", b"") if self._read else (self._payload, b"")
        self._read = True
        return payload

    def close(self) -> None:
        pass


def _in_memory(request: Any, event_name: str, **_: Any) -> Any:
    from botocore.awsrequest import AWSResponse

    _event, service, operation = event_name.split(".", 2)
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode("utf-8")
    status, headers, payload = answer(service, operation, bytes(body or b""))
    response_headers = {**headers, "Content-Length": str(len(payload)), "x-amzn-RequestId": "bench"}
    return AWSResponse(request.url, status, response_headers, _RawBody(payload))


def install_in_memory(session: Any = None) -> Any:
    """Answer every request of the clients made from ``session`` (default: boto3's default session, which
    the handlers' ``boto3.client(...)`` uses) in memory, from now on; returns the session."""
    import boto3

    if session is None:
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
    session.events.register("before-send", _in_memory)
    return session


# ------------------------------------------------------------------------------------------ over HTTP
_TARGET_SERVICES = {"DynamoDB_20120810": "dynamodb", "AmazonSQS": "sqs"}


def _identify(method: str, path: str, headers: Any, body: bytes) -> tuple[str, str]:
    target = headers.get("X-Amz-Target", "")
    if "." in target:
        prefix, operation = target.split(".", 1)
        return _TARGET_SERVICES.get(prefix, prefix), operation
    if b"Action=" in body:
        return "sns", parse_qs(body.decode()).get("Action", ["?"])[0]
    route = urlsplit(path).path
    if route.startswith("/v2/email/"):
        parts = route.removeprefix("/v2/email/").split("/")
        if parts[0] == "outbound-emails":
            return "sesv2", "SendEmail"
        if parts[0] == "outbound-bulk-emails":
            return "sesv2", "SendBulkEmail"
        if parts[0] == "suppression":
            return "sesv2", "PutSuppressedDestination"
        if parts[0] == "contact-lists":
            return "sesv2", "ListContacts" if parts[-1] == "list" else "GetContactList"
        return "sesv2", f"{method} {route}"
    if method == "GET":
        return "s3", "GetObject"
    return "unknown", f"{method} {route}"


class _FakeAwsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        service, operation = _identify(self.command, self.path, self.headers, body)
        status, headers, payload = answer(service, operation, body)
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(payload)), "x-amzn-RequestId": "b"}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _serve

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def http_fake() -> Iterator[str]:
    """Serve :func:`answer` on 127.0.0.1; yields the endpoint URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeAwsHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
