"""Cold start of each handler against its floor, with AWS answered by a local fake at the HTTP layer.

For every handler two kinds of fresh Python process are started in turn (A B A B ...):

- *handler*: imports ``lambda_handlers.<name>.handler`` and handles a one-record SQS batch;
- *floor*: only imports boto3 and json, creates the same boto3 clients, parses the same JSON (the event
  and the record body) and makes the same AWS calls with plain ``boto3.client(...)``.

Both talk to one tiny ``http.server`` on 127.0.0.1 that answers DynamoDB, SESv2, SQS and SNS with canned
responses (``AWS_ENDPOINT_URL`` points every client at it), so importing boto3 and creating clients count
wherever they happen, and no network or account is needed. Each process is timed from start to exit
(wall clock); the figure is the median of ``--runs`` runs of each, after one warm-up run of each.

    .venv/bin/python bench/cold_start.py [--runs 10] [--handler order_writer ...]

Prints per handler: floor median, handler median, their ratio (handler / floor), and the median of the
pair-by-pair ratios. ``--importtime NAME`` prints the 25 heaviest imports of the handler process instead.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "tests" / "events"
REGION = "eu-west-1"
ACCOUNT = "123456789012"


# ------------------------------------------------------------------------------------ the fake AWS
class _FakeAws(BaseHTTPRequestHandler):
    """DynamoDB / SQS (JSON protocols, ``X-Amz-Target``), SESv2 (REST JSON), SNS (query protocol)."""

    protocol_version = "HTTP/1.1"
    calls: list[str] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        target = self.headers.get("X-Amz-Target", "")
        if target.startswith("DynamoDB_"):
            self.calls.append(target.split(".")[-1])
            self._answer("application/x-amz-json-1.0", b"{}")
        elif target.startswith("AmazonSQS."):
            self.calls.append("SendMessage")
            message = json.loads(body)["MessageBody"]
            md5 = hashlib.md5(message.encode("utf-8")).hexdigest()
            answer = {"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": md5}
            self._answer("application/x-amz-json-1.0", json.dumps(answer).encode())
        elif self.path.startswith("/v2/email/"):
            self.calls.append("SendEmail" if "outbound-emails" in self.path else self.path)
            self._answer("application/json", json.dumps({"MessageId": str(uuid.uuid4())}).encode())
        elif b"Action=Publish" in body:
            self.calls.append("Publish")
            xml = (
                '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
                f"<MessageId>{uuid.uuid4()}</MessageId></PublishResult><ResponseMetadata>"
                "<RequestId>r</RequestId></ResponseMetadata></PublishResponse>"
            )
            self._answer("text/xml", xml.encode())
        else:
            self.calls.append(f"unknown {self.path} {target}")
            self._answer("application/json", b"{}", status=400)

    def do_PUT(self) -> None:  # SESv2 PutSuppressedDestination
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.calls.append("PutSuppressedDestination")
        self._answer("application/json", b"{}")

    def _answer(self, content_type: str, payload: bytes, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", "bench")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def fake_aws() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeAws)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------------------- the cases
def _sqs_event(body: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "AQEBexample==",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1714564800000"},
                "messageAttributes": {},
                "md5OfBody": "0" * 32,
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:source-queue",
                "awsRegion": REGION,
            }
        ]
    }


ORDER = (EVENTS / "order_placed_v1.json").read_text()
COMPLAINT = (EVENTS / "ses_event_complaint.json").read_text()
DLQ_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/dlq"
ALERT_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"

CASES: dict[str, dict[str, Any]] = {
    "order_email_sender": {
        "body": ORDER,
        "env": {
            "SENDER_ADDRESS": "Shop <orders@example.com>",
            "CONFIGURATION_SET_NAME": "order-emails",
            "TEMPLATE_NAME": "order-confirmation",
            "SUPPRESSION_TABLE_NAME": "suppression",
            "IDEMPOTENCY_TABLE_NAME": "idempotency",
            "DEAD_LETTER_QUEUE_URL": DLQ_URL,
        },
        # idempotency record in progress, suppression lookup, send, idempotency record completed
        "floor": """
ddb = boto3.client("dynamodb")
ses = boto3.client("sesv2")
ddb.put_item(TableName="idempotency", Item={"id": {"S": "order-confirmation#" + message["order_id"]},
    "status": {"S": "INPROGRESS"}}, ConditionExpression="attribute_not_exists(id)")
ddb.get_item(TableName="suppression", Key={"address": {"S": message["customer"]["email"].lower()}},
    ConsistentRead=True)
ses.send_email(FromEmailAddress="Shop <orders@example.com>",
    Destination={"ToAddresses": [message["customer"]["email"]]}, ConfigurationSetName="order-emails",
    Content={"Template": {"TemplateName": "order-confirmation", "TemplateData": json.dumps(message)}})
ddb.update_item(TableName="idempotency", Key={"id": {"S": "order-confirmation#" + message["order_id"]}},
    UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
    ExpressionAttributeValues={":s": {"S": "COMPLETED"}})
""",
        "calls": ["PutItem", "GetItem", "SendEmail", "UpdateItem"],
    },
    "order_writer": {
        "body": ORDER,
        "env": {"ORDERS_TABLE_NAME": "orders", "DEAD_LETTER_QUEUE_URL": DLQ_URL},
        "floor": """
ddb = boto3.client("dynamodb")
ddb.put_item(TableName="orders", Item={"order_id": {"S": message["order_id"]},
    "customer_email": {"S": message["customer"]["email"]}}, ConditionExpression="attribute_not_exists(order_id)")
""",
        "calls": ["PutItem"],
    },
    "bounce_processor": {
        "body": COMPLAINT,
        "env": {
            "SUPPRESSION_TABLE_NAME": "suppression",
            "SOFT_BOUNCE_TABLE_NAME": "soft-bounces",
            "ALERT_TOPIC_ARN": ALERT_TOPIC,
            "DEAD_LETTER_QUEUE_URL": DLQ_URL,
        },
        # a complaint: one suppression, one alert summary
        "floor": f"""
ddb = boto3.client("dynamodb")
sns = boto3.client("sns")
address = message["complaint"]["complainedRecipients"][0]["emailAddress"].lower()
ddb.put_item(TableName="suppression", Item={{"address": {{"S": address}}, "reason": {{"S": "COMPLAINT"}}}},
    ConditionExpression="attribute_not_exists(address)")
sns.publish(TopicArn="{ALERT_TOPIC}", Subject="SES alert: 1 Complaint suppression", Message="summary")
""",
        "calls": ["PutItem", "Publish"],
    },
}

HANDLER_SCRIPT = """
import json, sys
event = json.loads(open(sys.argv[1]).read())
class Context:
    function_name = "bench"; function_version = "$LATEST"; memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
    aws_request_id = "bench-request"; log_group_name = "/aws/lambda/bench"; log_stream_name = "bench"
    def get_remaining_time_in_millis(self): return 30000
from lambda_handlers.{name}.handler import handler
response = handler(event, Context())
if response["batchItemFailures"]:
    sys.exit("batch item failures: %r" % response)
"""

FLOOR_SCRIPT = """
import json, sys
import boto3
event = json.loads(open(sys.argv[1]).read())
message = json.loads(event["Records"][0]["body"])
{calls}
"""


def _environment(endpoint: str, extra: dict[str, str]) -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV"}
    env = {key: value for key, value in os.environ.items() if key in keep}
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "bench",
            "POWERTOOLS_METRICS_NAMESPACE": "Bench",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": str(ROOT),
            **extra,
        }
    )
    return env


def _run(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} failed:\n{result.stderr[-3000:]}")
    return elapsed


def measure(name: str, runs: int, endpoint: str, workdir: Path, python: str) -> dict[str, float]:
    case = CASES[name]
    event_file = workdir / f"{name}.json"
    event_file.write_text(json.dumps(_sqs_event(case["body"])))
    handler_script = workdir / f"{name}_handler.py"
    handler_script.write_text(HANDLER_SCRIPT.replace("{name}", name))
    floor_script = workdir / f"{name}_floor.py"
    floor_script.write_text(FLOOR_SCRIPT.replace("{calls}", case["floor"]))
    env = _environment(endpoint, case["env"])

    _FakeAws.calls.clear()
    _run([python, str(handler_script), str(event_file)], env)
    if _FakeAws.calls != case["calls"]:
        raise SystemExit(f"{name}: the handler made {_FakeAws.calls}, the floor makes {case['calls']}")
    _FakeAws.calls.clear()
    _run([python, str(floor_script), str(event_file)], env)
    if _FakeAws.calls != case["calls"]:
        raise SystemExit(f"{name}: the floor made {_FakeAws.calls}, expected {case['calls']}")

    floors: list[float] = []
    handlers: list[float] = []
    for _ in range(runs):
        floors.append(_run([python, str(floor_script), str(event_file)], env))
        handlers.append(_run([python, str(handler_script), str(event_file)], env))
    floor, handler = statistics.median(floors), statistics.median(handlers)
    pairs = statistics.median(h / f for h, f in zip(handlers, floors, strict=True))
    return {"floor": floor, "handler": handler, "ratio": handler / floor, "pair_ratio": pairs}


def _import_times(script: Path, event_file: Path, env: dict[str, str], python: str) -> dict[str, int]:
    """Self import time in microseconds per module of one process (``python -X importtime``)."""
    result = subprocess.run(
        [python, "-X", "importtime", str(script), str(event_file)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    times: dict[str, int] = {}
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            self_us, _, module = line.removeprefix("import time:").split("|", 2)
            times[module.strip()] = int(self_us)
    return times


def importtime(name: str, workdir: Path, python: str, top: int = 30) -> None:
    """What the handler process imports that the floor does not, grouped by package (self times)."""
    case = CASES[name]
    event_file = workdir / f"{name}.json"
    event_file.write_text(json.dumps(_sqs_event(case["body"])))
    handler_script = workdir / f"{name}_handler.py"
    handler_script.write_text(HANDLER_SCRIPT.replace("{name}", name))
    floor_script = workdir / f"{name}_floor.py"
    floor_script.write_text(FLOOR_SCRIPT.replace("{calls}", case["floor"]))
    with fake_aws() as endpoint:
        env = _environment(endpoint, case["env"])
        handler = _import_times(handler_script, event_file, env, python)
        floor = _import_times(floor_script, event_file, env, python)
    extra = {module: us for module, us in handler.items() if module not in floor}
    groups: dict[str, list[int]] = {}
    for module, us in extra.items():
        parts = module.split(".")
        key = ".".join(parts[:3]) if parts[0] == "aws_lambda_powertools" else ".".join(parts[:2])
        groups.setdefault(key, []).append(us)
    print(
        f"{name}: handler imports {len(handler)} modules ({sum(handler.values()) / 1000:.0f} ms), floor "
        f"{len(floor)} ({sum(floor.values()) / 1000:.0f} ms); {len(extra)} only in the handler "
        f"({sum(extra.values()) / 1000:.0f} ms), by package:"
    )
    for key, values in sorted(groups.items(), key=lambda kv: -sum(kv[1]))[:top]:
        print(f"  {sum(values) / 1000:7.1f} ms {len(values):4d} modules  {key}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10, help="runs of each process per handler (default 10)")
    parser.add_argument("--handler", action="append", choices=sorted(CASES), help="default: all three")
    parser.add_argument("--importtime", choices=sorted(CASES), help="show the heaviest imports instead")
    parser.add_argument("--python", default=sys.executable, help="the interpreter to start")
    args = parser.parse_args()
    if args.importtime:
        with tempfile.TemporaryDirectory() as tmp:
            importtime(args.importtime, Path(tmp), args.python)
        return
    with fake_aws() as endpoint, tempfile.TemporaryDirectory() as tmp:
        print(f"{'handler':<20} {'floor [ms]':>11} {'handler [ms]':>13} {'ratio':>6} {'pairwise':>9}")
        for name in args.handler or list(CASES):
            figures = measure(name, args.runs, endpoint, Path(tmp), args.python)
            print(
                f"{name:<20} {figures['floor'] * 1000:>11.0f} {figures['handler'] * 1000:>13.0f}"
                f" {figures['ratio']:>6.2f} {figures['pair_ratio']:>9.2f}"
            )


if __name__ == "__main__":
    main()
