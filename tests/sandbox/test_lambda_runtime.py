"""The sandbox's Lambda runner: functions created with boto3 run from their zip in warm worker processes."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from notification_constructs.testing.sandbox import Sandbox

HANDLER_SOURCE = """
import os
import time

import boto3


def handler(event, context):
    print("handling", event.get("action"))
    action = event.get("action")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "fail":
        raise ValueError("the handler failed on purpose")
    if action == "exit":
        os._exit(3)
    if action == "call-sqs":
        boto3.client("sqs").list_queues()
    if action == "record":
        with open(os.environ["RECORD_FILE"], "a") as f:
            f.write(context.aws_request_id + "\\n")
        raise RuntimeError("recorded, now failing")
    return {
        "pid": os.getpid(),
        "greeting": os.environ.get("GREETING"),
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "env": {k: os.environ.get(k) for k in (
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_REGION", "AWS_DEFAULT_REGION", "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_LAMBDA_LOG_GROUP_NAME",
            "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ENDPOINT_URL", "POWERTOOLS_TRACE_DISABLED")},
        "cwd": os.getcwd(),
    }
"""

POWERTOOLS_LAYER = (
    "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:18"
)


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, source in files.items():
            archive.writestr(name, source)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def role_arn(sandbox: Sandbox) -> str:
    role = sandbox.client("iam").create_role(RoleName="lambda-runtime-tests", AssumeRolePolicyDocument="{}")
    return str(role["Role"]["Arn"])


@pytest.fixture(scope="module")
def lam(sandbox: Sandbox) -> Any:
    return sandbox.client("lambda")


def create_function(
    lam: Any,
    role_arn: str,
    *,
    files: dict[str, str] | None = None,
    handler: str = "app.handler",
    **kwargs: Any,
) -> str:
    name = f"fn-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role_arn,
        Handler=handler,
        Code={"ZipFile": zip_of(files or {"app.py": HANDLER_SOURCE})},
        **kwargs,
    )
    return name


def call(lam: Any, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    return response, json.loads(response["Payload"].read())


def wait_idle(sandbox: Sandbox, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sandbox.control("GET", "busy")["busy"] == 0:
            return
        time.sleep(0.05)
    raise AssertionError(
        f"the sandbox stayed busy: {sandbox.control('GET', 'busy')}; log {sandbox._log_path}"
    )


def test_request_response_returns_the_payload_with_lambda_environment_and_context(
    sandbox: Sandbox, lam: Any, role_arn: str
) -> None:
    # GIVEN a function with an environment variable, 256 MB and a 5 s timeout
    name = create_function(
        lam, role_arn, Environment={"Variables": {"GREETING": "hello"}}, MemorySize=256, Timeout=5
    )

    # WHEN it is invoked synchronously
    response, payload = call(lam, name, {"action": "echo"})

    # THEN the handler's return value comes back, with Lambda's reserved variables and context
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert payload["greeting"] == "hello"
    assert payload["function_name"] == name
    assert payload["function_version"] == "$LATEST"
    assert payload["invoked_function_arn"].endswith(f":function:{name}")
    assert str(payload["memory_limit_in_mb"]) == "256"
    assert payload["log_group_name"] == f"/aws/lambda/{name}"
    assert 0 < payload["remaining_ms"] <= 5000
    env = payload["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == sandbox.region
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == payload["log_stream_name"]
    assert env["AWS_ENDPOINT_URL"] == sandbox.endpoint_url
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert env["LAMBDA_TASK_ROOT"] == payload["cwd"]
    # AND the log tail holds the function's output and Lambda's REPORT line with the cold start
    log = base64.b64decode(response["LogResult"]).decode()
    assert "handling echo" in log
    assert f"REPORT RequestId: {payload['aws_request_id']}" in log
    assert "Init Duration" in log


def test_warm_environment_is_reused_and_config_change_starts_a_new_one(
    sandbox: Sandbox, lam: Any, role_arn: str
) -> None:
    # GIVEN a function invoked once (cold start)
    name = create_function(lam, role_arn, Environment={"Variables": {"GREETING": "one"}})
    _, first = call(lam, name, {})

    # WHEN it is invoked again, then after a configuration change
    response, second = call(lam, name, {})
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"GREETING": "two"}})
    _, third = call(lam, name, {})

    # THEN the second runs in the same (warm) process without an init phase; the third in a fresh one
    assert second["pid"] == first["pid"]
    assert "Init Duration" not in base64.b64decode(response["LogResult"]).decode()
    assert third["pid"] != first["pid"]
    assert third["greeting"] == "two"


def test_unhandled_exception_is_a_function_error(sandbox: Sandbox, lam: Any, role_arn: str) -> None:
    # GIVEN a function whose handler raises
    name = create_function(lam, role_arn)

    # WHEN it is invoked
    response, payload = call(lam, name, {"action": "fail"})

    # THEN Lambda's error object comes back with X-Amz-Function-Error
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "the handler failed on purpose"
    assert any("app.py" in frame for frame in payload["stackTrace"])
    assert (
        "[ERROR] ValueError: the handler failed on purpose"
        in base64.b64decode(response["LogResult"]).decode()
    )


def test_timeout_kills_the_environment_and_the_next_invocation_gets_a_fresh_one(
    sandbox: Sandbox, lam: Any, role_arn: str
) -> None:
    # GIVEN a function with a 1 s timeout, warmed up
    name = create_function(lam, role_arn, Timeout=1)
    _, warm = call(lam, name, {})

    # WHEN an invocation runs longer than the timeout
    started = time.monotonic()
    response, payload = call(lam, name, {"action": "sleep", "seconds": 10})
    elapsed = time.monotonic() - started

    # THEN it fails like Lambda's timeout, promptly
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert elapsed < 5
    # AND the next invocation runs in a new environment
    _, after = call(lam, name, {})
    assert after["pid"] != warm["pid"]


def test_runtime_exit_is_an_exit_error(sandbox: Sandbox, lam: Any, role_arn: str) -> None:
    # GIVEN a function whose handler ends its process
    name = create_function(lam, role_arn)

    # WHEN it is invoked
    response, payload = call(lam, name, {"action": "exit"})

    # THEN the result is Runtime.ExitError with the exit status, and the function still works afterwards
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Runtime exited with error: exit status 3")
    assert "pid" in call(lam, name, {})[1]


def test_fails_if_the_handler_module_cannot_be_imported(sandbox: Sandbox, lam: Any, role_arn: str) -> None:
    # GIVEN a function whose handler names a module that is not in the package
    name = create_function(lam, role_arn, handler="missing.handler")

    # WHEN it is invoked
    response, payload = call(lam, name, {})

    # THEN the error is Lambda's import error
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'missing'" in payload["errorMessage"]


def test_aws_calls_of_a_function_carry_its_name_as_caller(sandbox: Sandbox, lam: Any, role_arn: str) -> None:
    # GIVEN a function that calls SQS with boto3 (endpoint from AWS_ENDPOINT_URL)
    name = create_function(lam, role_arn)

    # WHEN it is invoked
    response, _ = call(lam, name, {"action": "call-sqs"})

    # THEN the sandbox counted the request with the function as caller
    assert "FunctionError" not in response
    counts = sandbox.control("GET", "requests")
    assert {"service": "sqs", "operation": "ListQueues", "caller": name, "count": 1} in counts


def test_event_invocation_returns_at_once_and_retries_twice_on_error(
    sandbox: Sandbox, lam: Any, role_arn: str, tmp_path: Path
) -> None:
    # GIVEN a function that records each attempt and then fails
    record = tmp_path / "attempts.txt"
    name = create_function(lam, role_arn, Environment={"Variables": {"RECORD_FILE": str(record)}})

    # WHEN it is invoked asynchronously
    started = time.monotonic()
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"action": "record"}')
    returned_after = time.monotonic() - started
    wait_idle(sandbox)

    # THEN the call returned 202 at once, and Lambda's two retries ran: three attempts, one request id
    assert response["StatusCode"] == 202
    assert returned_after < 1.0
    attempts = record.read_text().split()
    assert len(attempts) == 3
    assert len(set(attempts)) == 1


def test_function_logs_are_in_cloudwatch_logs(sandbox: Sandbox, lam: Any, role_arn: str) -> None:
    # GIVEN a function that prints
    name = create_function(lam, role_arn)

    # WHEN it is invoked
    _, payload = call(lam, name, {"action": "logged"})

    # THEN its log stream in the function's log group has the output and the REPORT line
    logs = sandbox.client("logs")
    events = logs.get_log_events(logGroupName=f"/aws/lambda/{name}", logStreamName=payload["log_stream_name"])
    messages = [event["message"] for event in events["events"]]
    assert "handling logged" in messages
    assert any(m.startswith(f"REPORT RequestId: {payload['aws_request_id']}") for m in messages)


def test_powertools_layer_is_substituted_by_the_installed_powertools(
    sandbox: Sandbox, lam: Any, role_arn: str
) -> None:
    # GIVEN a function that uses Powertools through the public Powertools layer
    source = (
        "from aws_lambda_powertools import Logger\n"
        "logger = Logger(service='layer-test')\n"
        "@logger.inject_lambda_context\n"
        "def handler(event, context):\n"
        "    logger.info('with powertools')\n"
        "    return {'ok': True}\n"
    )
    name = create_function(lam, role_arn, files={"app.py": source}, Layers=[POWERTOOLS_LAYER])

    # WHEN it is invoked
    response, payload = call(lam, name, {})

    # THEN it runs with the sandbox's aws_lambda_powertools, and Powertools logged the context
    assert "FunctionError" not in response, payload
    assert payload == {"ok": True}
    log = base64.b64decode(response["LogResult"]).decode()
    assert '"function_name":"' + name in log.replace(" ", "")
