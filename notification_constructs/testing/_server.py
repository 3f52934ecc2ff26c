"""The sandbox server process: moto's server plus the parts of AWS that moto lacks, on loopback only.

Run with ``python -m notification_constructs.testing serve [--port N]``; it prints
``SANDBOX_READY <endpoint-url>`` on stdout once it accepts requests. Requests under ``/_sandbox/`` are
the sandbox's own control API (JSON); everything else goes to moto (with optional fault injection).
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from ._faults import FaultInjector
from ._state import SandboxState

#: Components, in install order. Each module has ``install(state)`` and optionally ``start``/``stop``.
COMPONENTS = (
    "notification_constructs.testing._moto_speedups",
    "notification_constructs.testing.cloudformation",
    "notification_constructs.testing._ses",
    "notification_constructs.testing._sns",
    "notification_constructs.testing._cloudwatch",
    "notification_constructs.testing._lambda_runtime",
    "notification_constructs.testing._event_sources",
)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SandboxApp:
    """WSGI app: ``/_sandbox/*`` control routes, fault injection, then moto."""

    def __init__(self, state: SandboxState, moto_app: WsgiApp, faults: FaultInjector) -> None:
        self.state = state
        self.moto_app = moto_app
        self.faults = faults

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sandbox/"):
            return self._control(environ, start_response, path[len("/_sandbox/") :])
        injected = self.faults.intercept(environ)
        if injected is not None:
            status, headers, body = injected
            start_response(status, headers)
            return [body]
        return self.moto_app(environ, start_response)

    # -- control API ---------------------------------------------------------------------------------
    def _control(
        self, environ: dict[str, Any], start_response: Callable[..., Any], route: str
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
            result = self._route(method, route.rstrip("/"), body, _query(environ))
            status = "200 OK"
        except KeyError as exc:
            result, status = (
                {"error": f"unknown route {method} /_sandbox/{route}", "detail": str(exc)},
                "404 Not Found",
            )
        except (ValueError, TypeError) as exc:
            result, status = {"error": str(exc)}, "400 Bad Request"
        payload = json.dumps(result, default=str).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]

    def _route(self, method: str, route: str, body: Any, query: dict[str, str]) -> Any:
        state = self.state
        if (method, route) == ("GET", "health"):
            return {
                "ok": True,
                "endpoint_url": state.endpoint_url,
                "account": state.account_id,
                "region": state.region,
            }
        if (method, route) == ("GET", "outbox"):
            return state.outbox.entries(query.get("kind") or None)
        if (method, route) == ("DELETE", "outbox"):
            state.outbox.clear()
            return {"cleared": True}
        if (method, route) == ("GET", "config"):
            return {"ses_max_send_rate": state.ses_max_send_rate}
        if (method, route) == ("PUT", "config"):
            if "ses_max_send_rate" in body:
                rate = body["ses_max_send_rate"]
                if rate is not None and (not isinstance(rate, int | float) or rate <= 0):
                    raise ValueError("ses_max_send_rate: a positive number of e-mails per second, or null")
                state.ses_max_send_rate = None if rate is None else float(rate)
            return {"ses_max_send_rate": state.ses_max_send_rate}
        if (method, route) == ("POST", "trusted-certificates"):
            from ._sns import trust_certificate

            return {"trusted": trust_certificate(state, body.get("pem") if isinstance(body, dict) else None)}
        if (method, route) == ("GET", "faults"):
            return self.faults.rules()
        if (method, route) == ("POST", "faults"):
            return self.faults.add(body)
        if (method, route) == ("DELETE", "faults"):
            self.faults.clear()
            return {"cleared": True}
        if (method, route) == ("GET", "requests"):
            return self.faults.request_counts()
        if (method, route) == ("DELETE", "requests"):
            self.faults.reset_counts()
            return {"cleared": True}
        if (method, route) == ("GET", "activity"):
            since = float(query.get("since", 0) or 0)
            return [a for a in list(state.activity) if a["at"] > since]
        if (method, route) == ("GET", "busy"):
            details = {name: check() for name, check in list(state.busy_checks.items())}
            return {"busy": sum(details.values()), "details": details}
        raise KeyError(route)


def _query(environ: dict[str, Any]) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(environ.get("QUERY_STRING", "")))


def load_components() -> list[ModuleType]:
    return [importlib.import_module(name) for name in COMPONENTS]


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ses_max_send_rate: float | None = None,
    log_dir: str | None = None,
) -> None:
    """Start the sandbox and block until SIGTERM / SIGINT."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the sandbox listens on loopback only (127.0.0.1, localhost or ::1)")
    moto_app = DomainDispatcherApplication(create_backend_app)
    faults = FaultInjector()
    state = SandboxState(endpoint_url="http://localhost:0", ses_max_send_rate=ses_max_send_rate)
    if log_dir:
        state.extras["log_dir"] = log_dir  # function logs go to <log_dir>/lambda/<function>.log
    app = SandboxApp(state, moto_app, faults)
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    # "localhost" (not 127.0.0.1): moto parses S3 template URLs path-style only for hosts containing it.
    state.endpoint_url = f"http://localhost:{server.server_port}"
    components = load_components()
    for component in components:
        component.install(state)
    for component in components:
        if hasattr(component, "start"):
            component.start(state)

    stopping = threading.Event()

    def _stop(*_: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"SANDBOX_READY {state.endpoint_url}", flush=True)
    try:
        server.serve_forever()
    finally:
        for component in reversed(components):
            if hasattr(component, "stop"):
                try:
                    component.stop(state)
                except Exception as exc:  # keep stopping the others
                    print(f"sandbox: stopping {component.__name__} failed: {exc!r}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m notification_constructs.testing")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", help="run the sandbox server on loopback")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=0, help="0 = any free port (default)")
    serve_cmd.add_argument("--ses-max-send-rate", type=float, default=None)
    serve_cmd.add_argument(
        "--log-dir", default=None, help="where function logs go (default: a temporary dir)"
    )
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.host, args.port, ses_max_send_rate=args.ses_max_send_rate, log_dir=args.log_dir)
