"""lambda_handlers.common.powertools: Powertools' JMESPath helpers (and typing_extensions) are loaded on
first use, not at every cold start, and the Logger features that use them still work."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from lambda_handlers.common.powertools import JMESPATH_UTILS, DeferredModule, defer_jmespath_utils

ROOT = Path(__file__).resolve().parents[2]


def run_fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter (Powertools not imported yet); its stdout."""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize(
    "handler", ["order_writer", "bounce_processor", "shipment_notifier", "incident_tracker"]
)
def test_a_handler_import_leaves_the_jmespath_helpers_unloaded(handler: str) -> None:
    # GIVEN a fresh interpreter / WHEN the handler module is imported (Shell: Logger and Metrics built)
    out = run_fresh(
        "import json, sys\n"
        f"import lambda_handlers.{handler}.handler as module\n"
        f"deferred = sys.modules[{JMESPATH_UTILS!r}]\n"
        "print(json.dumps({'deferred': type(deferred).__name__, "
        "'typing_extensions': 'typing_extensions' in sys.modules, "
        "'logger': type(module.shell.logger).__module__, 'metrics': type(module.shell.metrics).__module__}))"
    )
    # THEN neither the helpers' code nor typing_extensions ran, and the Powertools Logger/Metrics are real
    assert json.loads(out) == {
        "deferred": "DeferredModule",
        "typing_extensions": False,
        "logger": "aws_lambda_powertools.logging.logger",
        "metrics": "aws_lambda_powertools.metrics.metrics",
    }


def test_inject_lambda_context_with_a_correlation_id_path_still_works() -> None:
    # GIVEN a fresh interpreter whose Powertools came through lambda_handlers.common.powertools
    code = """
import json, sys
from lambda_handlers.common.powertools import Logger
class Context:
    function_name = "f"; function_version = "$LATEST"; memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:f"
    aws_request_id = "req-1"; log_group_name = "g"; log_stream_name = "s"
logger = Logger(service="t")
before = type(sys.modules["aws_lambda_powertools.utilities.jmespath_utils"]).__name__
@logger.inject_lambda_context(correlation_id_path="headers.id")
def handler(event, context):
    return logger.get_correlation_id()
print(json.dumps({"before": before, "correlation_id": handler({"headers": {"id": "abc-123"}}, Context())}))
"""
    # WHEN a handler decorated with a correlation_id_path is invoked
    result = json.loads(run_fresh(code).strip().splitlines()[-1])
    # THEN the helpers were deferred until then, and the JMESPath query extracted the id
    assert result == {"before": "DeferredModule", "correlation_id": "abc-123"}


def test_the_deferred_module_is_the_real_one_once_used() -> None:
    out = run_fresh(
        "import sys\n"
        "import lambda_handlers.common.shell\n"
        "import aws_lambda_powertools.utilities as utilities\n"
        "from aws_lambda_powertools.utilities.jmespath_utils import envelopes, query\n"
        f"module = sys.modules[{JMESPATH_UTILS!r}]\n"
        "print(utilities.jmespath_utils is module, type(module) is type(sys), "
        "query({'a': {'b': 'c'}}, 'a.b'), envelopes.SQS)"
    )
    assert out.split() == ["True", "True", "c", "Records[*].powertools_json(body)"]


def test_nothing_is_deferred_once_powertools_is_imported() -> None:
    # GIVEN this test process, which has imported Powertools / THEN deferring is a no-op
    assert "aws_lambda_powertools" in sys.modules
    assert defer_jmespath_utils() is None


def _deferred_module(tmp_path: Path, name: str, source: str) -> types.ModuleType:
    from importlib.machinery import PathFinder
    from importlib.util import module_from_spec

    (tmp_path / f"{name}.py").write_text(source)
    spec = PathFinder.find_spec(name, [str(tmp_path)])
    assert spec is not None
    module = module_from_spec(spec)
    module.__class__ = DeferredModule
    sys.modules[name] = module
    return module


def test_a_deferred_module_runs_its_code_at_the_first_missing_name(tmp_path: Path) -> None:
    name = "deferred_probe_ok"
    module = _deferred_module(tmp_path, name, "import sys\nsys.modules[__name__].runs = 1\nVALUE = 42\n")
    try:
        # GIVEN a deferred module: its import metadata is there, its code has not run
        assert module.__spec__ is not None and module.__spec__.name == name
        assert "VALUE" not in vars(module)
        # WHEN a name it does not have yet is looked up / THEN its code runs once, in that same module
        assert module.VALUE == 42
        assert type(module) is types.ModuleType
        assert vars(module)["runs"] == 1
        assert sys.modules[name] is module
    finally:
        sys.modules.pop(name, None)


def test_a_deferred_module_that_fails_is_dropped_like_a_failed_import(tmp_path: Path) -> None:
    name = "deferred_probe_broken"
    module = _deferred_module(tmp_path, name, "raise ImportError('missing dependency')\n")
    try:
        # WHEN its code fails at the first use / THEN the error surfaces and the next import starts afresh
        with pytest.raises(ImportError, match="missing dependency"):
            _ = module.anything
        assert name not in sys.modules
    finally:
        sys.modules.pop(name, None)
