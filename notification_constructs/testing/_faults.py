"""Fault injection and request accounting at the sandbox's HTTP layer.

Every AWS request that reaches the sandbox is attributed to ``(service, operation, caller)`` - the
caller is the Lambda function that made it (the sandbox's function runner adds an
``x-sandbox-function`` header) or ``-``. Fault rules match on those and answer with an AWS error in the
service's own wire protocol (so botocore raises the ``ClientError`` it would raise against AWS) and/or
delay the request (to make a function time out).
"""

from __future__ import annotations

import io
import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qs

# SigV4 signing names whose service-model name differs.
_SIGNING_ALIASES = {"monitoring": "cloudwatch", "email": "ses", "execute-api": "apigateway"}
_STATUS_TEXT = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class FaultRule:
    """One fault. ``service``/``operation``/``caller`` of ``None`` match anything.

    ``error_code`` - the AWS error code to answer with (``None``: no error, only ``delay_seconds``).
    ``probability`` - share of matching requests affected (0-1); ``count`` - stop after this many;
    ``skip`` - let the first N matching requests through first; ``seed`` - makes the choice repeatable.
    """

    service: str | None = None
    operation: str | None = None
    caller: str | None = None
    error_code: str | None = None
    status: int = 400
    message: str = "injected by the notification-constructs sandbox"
    probability: float = 1.0
    count: int | None = None
    skip: int = 0
    delay_seconds: float = 0.0
    seed: int | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    matched: int = 0
    injected: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.probability <= 1:
            raise ValueError(f"probability {self.probability}: must be 0-1")
        if self.error_code is None and self.delay_seconds <= 0:
            raise ValueError("a fault needs an error_code, a delay_seconds > 0, or both")
        if self.status not in _STATUS_TEXT:
            raise ValueError(f"status {self.status}: one of {sorted(_STATUS_TEXT)}")
        if self.delay_seconds < 0 or self.delay_seconds > 900:
            raise ValueError(f"delay_seconds {self.delay_seconds}: must be 0-900")
        self._random = random.Random(self.seed)

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


class FaultInjector:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()

    # -- rules -----------------------------------------------------------------------------------------
    def add(self, spec: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(spec, dict):
            raise ValueError("a fault rule is a JSON object")
        allowed = set(FaultRule.__dataclass_fields__) - {"id", "matched", "injected"}
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields {sorted(unknown)}; allowed: {sorted(allowed)}")
        rule = FaultRule(**spec)
        with self._lock:
            self._rules.append(rule)
        return rule.public()

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.public() for r in self._rules]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def request_counts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"service": s, "operation": o, "caller": c, "count": n}
                for (s, o, c), n in sorted(self._counts.items())
            ]

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()

    # -- the WSGI hook -----------------------------------------------------------------------------------
    def intercept(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """Count the request; return ``(status, headers, body)`` to answer with an error, else None."""
        body = _buffer_body(environ)
        service, operation = identify(environ, body)
        caller = environ.get("HTTP_X_SANDBOX_FUNCTION") or "-"
        delay, error = 0.0, None
        with self._lock:
            self._counts[(service, operation, caller)] += 1
            for rule in self._rules:
                if not _matches(rule, service, operation, caller):
                    continue
                rule.matched += 1
                if rule.matched <= rule.skip or (rule.count is not None and rule.injected >= rule.count):
                    continue
                if rule._random.random() >= rule.probability:
                    continue
                rule.injected += 1
                delay = max(delay, rule.delay_seconds)
                if rule.error_code is not None:
                    error = rule
                    break
        if delay:
            time.sleep(delay)
        if error is None:
            return None
        return error_response(service, error.error_code or "", error.message, error.status)


def _matches(rule: FaultRule, service: str, operation: str, caller: str) -> bool:
    return (
        (rule.service is None or rule.service == service)
        and (rule.operation is None or rule.operation == operation)
        and (rule.caller is None or rule.caller == caller)
    )


def _buffer_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def identify(environ: dict[str, Any], body: bytes) -> tuple[str, str]:
    """``(service, operation)`` of a SigV4-signed AWS request, e.g. ``("sesv2", "SendEmail")``."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", auth)
    signing = match.group(1) if match else "unknown"
    path = environ.get("PATH_INFO", "")
    service = _SIGNING_ALIASES.get(signing, signing)
    if service == "ses" and path.startswith("/v2/"):
        service = "sesv2"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target and "." in target:
        return service, target.rsplit(".", 1)[1]
    content_type = environ.get("CONTENT_TYPE", "")
    if body and "x-www-form-urlencoded" in content_type:
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return service, action[0]
    method = environ.get("REQUEST_METHOD", "GET")
    for op_method, pattern, name in _rest_operations(service):
        if op_method == method and pattern.fullmatch(path):
            return service, name
    return service, f"{method} {path}"


@cache
def _rest_operations(service: str) -> tuple[tuple[str, re.Pattern[str], str], ...]:
    model = _service_model(service)
    if model is None:
        return ()
    ops = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http.get("requestUri", "/").split("?", 1)[0]
        literal = len(re.sub(r"\{[^}]+\}", "", uri))
        regex = re.escape(uri)
        regex = re.sub(r"\\\{[^}]+?\\\+\\\}", r".+", regex)  # greedy labels {Key+}
        regex = re.sub(r"\\\{[^}]+?\\\}", r"[^/]+", regex)
        ops.append((literal, http.get("method", "POST"), re.compile(regex.rstrip("/") + "/?"), name))
    ops.sort(key=lambda o: -o[0])
    return tuple((m, p, n) for _, m, p, n in ops)


@cache
def _service_model(service: str) -> Any:
    import botocore.session

    try:
        return botocore.session.get_session().get_service_model(service)
    except Exception:  # unknown service name: no REST mapping
        return None


def error_response(
    service: str, code: str, message: str, status: int
) -> tuple[str, list[tuple[str, str]], bytes]:
    """An AWS error in the wire protocol of ``service`` (json / rest-json / query / rest-xml)."""
    model = _service_model(service)
    protocol = model.metadata.get("protocol", "json") if model is not None else "json"
    request_id = str(uuid.uuid4())
    status_line = f"{status} {_STATUS_TEXT[status]}"
    if protocol in ("json", "rest-json"):
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = "application/x-amz-json-1.0" if protocol == "json" else "application/json"
        headers = [
            ("Content-Type", content_type),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
        ]
    elif protocol == "query":
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{_xml(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    else:  # rest-xml, ec2
        body = f"<Error><Code>{code}</Code><Message>{_xml(message)}</Message><RequestId>{request_id}</RequestId></Error>".encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    headers.append(("Content-Length", str(len(body))))
    return status_line, headers, body


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
