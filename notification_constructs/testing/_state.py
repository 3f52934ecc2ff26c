"""In-process state of a running sandbox server, shared by its components (server side only).

Every component (CloudFormation models, Lambda runner, SQS poller, SNS delivery, SES emulation) is a module
with ``install(state)`` (patch moto once; idempotent) and, if it runs threads, ``start(state)`` /
``stop(state)``. The server process creates one :class:`SandboxState` and hands it to each.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Account and region the sandbox answers as (moto's default account).
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


@dataclass
class Outbox:
    """Everything that left the sandbox for a person or an outside system: e-mails sent by SES, SMS,
    SNS e-mail / e-mail-json / push deliveries, HTTP(S) deliveries. Each entry is a JSON-able dict with at
    least ``kind`` (``email`` | ``sms`` | ``sns-email`` | ``push`` | ``http``) and ``at`` (epoch seconds)."""

    _entries: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, kind: str, **fields: Any) -> dict[str, Any]:
        entry = {"kind": kind, "at": time.time(), **fields}
        with self._lock:
            entry["seq"] = next(self._seq)
            self._entries.append(entry)
        return entry

    def entries(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries if kind is None or e["kind"] == kind]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class SandboxState:
    """What the components share. ``endpoint_url`` is the sandbox's own URL (``http://localhost:PORT``),
    which the functions it runs use as ``AWS_ENDPOINT_URL``."""

    endpoint_url: str
    account_id: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    outbox: Outbox = field(default_factory=Outbox)
    #: SES maximum send rate (e-mails per second); None = unlimited. Settable at run time.
    ses_max_send_rate: float | None = None
    #: PEM certificates HTTPS deliveries trust besides the system's CAs (a loopback test server's own
    #: self-signed certificate; SNS itself trusts only publicly trusted CAs). Added at run time.
    trusted_certificates: list[str] = field(default_factory=list)
    #: Free-form per-component state (each component keeps its own key).
    extras: dict[str, Any] = field(default_factory=dict)
    #: Named callables returning how much work a component has in progress (running invocations, pending
    #: deliveries, polled-but-unfinished batches); the sum is served at /_sandbox/busy.
    busy_checks: dict[str, Callable[[], int]] = field(default_factory=dict)
    #: Recent activity lines (function invocations, deliveries, errors) for diagnostics.
    activity: list[dict[str, Any]] = field(default_factory=list)
    _activity_lock: threading.Lock = field(default_factory=threading.Lock)

    def log(self, component: str, message: str, **fields: Any) -> None:
        """Record a line of activity (kept in memory, the last 5,000, and served at /_sandbox/activity)."""
        entry = {"at": time.time(), "component": component, "message": message, **fields}
        with self._activity_lock:
            self.activity.append(entry)
            if len(self.activity) > 5000:
                del self.activity[:1000]
