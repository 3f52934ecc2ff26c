"""Cold start of each handler against its floor, with AWS answered by a local fake at the HTTP layer.

For every handler two kinds of fresh Python process are started in turn (A B A B ...):

- *handler*: imports ``lambda_handlers.<name>.handler`` and handles a one-record SQS batch;
- *floor*: only imports boto3 and json, creates the same boto3 clients, parses the same JSON (the event
  and the record body) and makes the same AWS calls with plain ``boto3.client(...)``.

Both talk to one tiny ``http.server`` on 127.0.0.1 that answers DynamoDB, SESv2, SQS, SNS and S3 with the
canned responses of ``_fake_aws.py`` (``AWS_ENDPOINT_URL`` points every client at it), so importing boto3
and creating clients count wherever they happen, and no network or account is needed. The cases (event,
environment, floor, the requests both must make) are in ``cases.py``, shared with ``warm.py``. Each process is timed from start to exit
(wall clock); the figure is the median of ``--runs`` runs of each, after one warm-up run of each.

    .venv/bin/python bench/cold_start.py [--runs 10] [--handler order_writer ...] [--json FILE]

Prints per handler: floor median, handler median, their ratio (handler / floor), and the median of the
pair-by-pair ratios. ``--importtime NAME`` prints the 25 heaviest imports of the handler process instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _fake_aws
from cases import CASES, REGION, Case, sqs_event

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.15
"""The issue's goal for the handler / floor ratio."""

SOURCE_ONLY_PRELUDE = """
import os, sys
from importlib.machinery import EXTENSION_SUFFIXES, SOURCE_SUFFIXES
from importlib.machinery import ExtensionFileLoader, FileFinder, SourceFileLoader
class _SourceOnly(SourceFileLoader):
    def get_code(self, fullname):  # never a __pycache__ .pyc: compiled from the source every time
        return self.source_to_code(self.get_data(self.path), self.path)
_stdlib = os.path.dirname(os.__file__)
_finder = FileFinder.path_hook((ExtensionFileLoader, EXTENSION_SUFFIXES), (_SourceOnly, SOURCE_SUFFIXES))
def _source_only(path):
    if (path == _stdlib or path.startswith(_stdlib + os.sep)) and "site-packages" not in path:
        raise ImportError(path)  # the runtime's standard library: precompiled in Lambda as well
    return _finder(path)
sys.path_hooks.insert(0, _source_only)
sys.path_importer_cache.clear()
"""
"""First lines of both scripts: every module outside the standard library (boto3, Powertools, the handlers)
is compiled from source, as in Lambda, whose code asset has no ``__pycache__`` - whatever ``__pycache__``
directories a test run has left in the venv or the tree (``PYTHONDONTWRITEBYTECODE`` only stops writing
them). Without it the figures depend on which packages some earlier process happened to cache."""

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
messages, i, last = [message], 0, True
{clients}
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


def _scripts(name: str, case: Case, workdir: Path) -> tuple[Path, Path, Path]:
    event_file = workdir / f"{name}.json"
    event_file.write_text(json.dumps(sqs_event([case.body(0)])))
    handler_script = workdir / f"{name}_handler.py"
    handler_script.write_text(SOURCE_ONLY_PRELUDE + HANDLER_SCRIPT.replace("{name}", name))
    floor_script = workdir / f"{name}_floor.py"
    floor_script.write_text(
        SOURCE_ONLY_PRELUDE
        + FLOOR_SCRIPT.replace("{clients}", case.floor_clients).replace("{calls}", case.floor_calls)
    )
    return event_file, handler_script, floor_script


def measure(name: str, runs: int, endpoint: str, workdir: Path, python: str) -> dict[str, float]:
    case = CASES[name]
    event_file, handler_script, floor_script = _scripts(name, case, workdir)
    env = _environment(endpoint, case.env)
    expected = case.calls + case.per_batch_calls
    for what, script in (("handler", handler_script), ("floor", floor_script)):
        _fake_aws.CALLS.clear()
        _run([python, str(script), str(event_file)], env)  # also the warm-up run
        made = list(_fake_aws.CALLS)
        if made != expected:
            raise SystemExit(f"{name}: the {what} made {made}, expected {expected}")

    floors: list[float] = []
    handlers: list[float] = []
    for _ in range(runs):
        floors.append(_run([python, str(floor_script), str(event_file)], env))
        handlers.append(_run([python, str(handler_script), str(event_file)], env))
    floor, handler = statistics.median(floors), statistics.median(handlers)
    pairs = statistics.median(h / f for h, f in zip(handlers, floors, strict=True))
    return {"floor": floor, "handler": handler, "ratio": handler / floor, "pair_ratio": pairs, "runs": runs}


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
    event_file, handler_script, floor_script = _scripts(name, case, workdir)
    with _fake_aws.http_fake() as endpoint:
        env = _environment(endpoint, case.env)
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


def run(names: list[str], runs: int, python: str = sys.executable) -> dict[str, dict[str, float]]:
    """Measure each handler; prints one line each as it goes; returns the figures by handler."""
    figures: dict[str, dict[str, float]] = {}
    with _fake_aws.http_fake() as endpoint, tempfile.TemporaryDirectory() as tmp:
        print(f"{'handler':<20} {'floor [ms]':>11} {'handler [ms]':>13} {'ratio':>6} {'pairwise':>9}  goal")
        for name in names:
            result = figures[name] = measure(name, runs, endpoint, Path(tmp), python)
            verdict = "met" if result["ratio"] <= GOAL else "NOT met"
            print(
                f"{name:<20} {result['floor'] * 1000:>11.0f} {result['handler'] * 1000:>13.0f}"
                f" {result['ratio']:>6.2f} {result['pair_ratio']:>9.2f}  <= {GOAL} {verdict}",
                flush=True,
            )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10, help="runs of each process per handler (default 10)")
    parser.add_argument("--handler", action="append", choices=sorted(CASES), help="default: all of them")
    parser.add_argument("--importtime", choices=sorted(CASES), help="show the heaviest imports instead")
    parser.add_argument("--python", default=sys.executable, help="the interpreter to start")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if args.importtime:
        with tempfile.TemporaryDirectory() as tmp:
            importtime(args.importtime, Path(tmp), args.python)
        return
    figures = run(args.handler or list(CASES), args.runs, args.python)
    if args.json:
        args.json.write_text(json.dumps({"cold_start": figures, "goal": GOAL}, indent=2))


if __name__ == "__main__":
    main()
