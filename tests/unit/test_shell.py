"""The shell traces with the Powertools Tracer only where the function traces actively."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_lambda_powertools
import pytest

from lambda_handlers.common.shell import RecordService, Shell
from lambda_handlers.contracts import tracing_enabled


class _Service(RecordService):
    def process(self, record: Any) -> None:
        return None


class _RecordingTracer:
    wrapped: list[Callable[..., Any]] = []

    def capture_lambda_handler(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        self.wrapped.append(handler)
        return handler


@pytest.mark.parametrize(
    ("value", "expected"), [("false", True), ("0", True), ("true", False), (None, False)]
)
def test_tracing_is_on_only_when_the_construct_says_so(value: str | None, expected: bool) -> None:
    environ = {} if value is None else {"POWERTOOLS_TRACE_DISABLED": value}
    assert tracing_enabled(environ) is expected


def test_the_handler_is_wrapped_by_the_tracer_only_with_tracing(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a recording Tracer in place of Powertools'
    monkeypatch.setattr(aws_lambda_powertools, "Tracer", _RecordingTracer)
    _RecordingTracer.wrapped = []
    # WHEN shells are built without and with tracing
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    Shell(lambda logger, count: _Service())
    untraced = len(_RecordingTracer.wrapped)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    Shell(lambda logger, count: _Service())
    # THEN only the second handler is captured by the Tracer
    assert (untraced, len(_RecordingTracer.wrapped)) == (0, 1)
