"""Warm cost per record: records per second through each handler's whole path, against its floor.

Each handler runs in a process of its own, warm (its service built, clients created, one batch handled
before timing), on batches of ``--batch-size`` (10) SQS records. AWS is answered in memory by the canned
responses of ``_fake_aws.py`` (a botocore ``before-send`` hook: each request is still serialized, signed
and its answer parsed by botocore; only the socket is gone). Timed in turn, A B A B ...:

- *handler*: ``handler(event, context)`` of ``lambda_handlers.<name>.handler`` - the shell, Powertools'
  logger and metrics (their output goes to ``/dev/null``), parsing, decisions, gateways;
- *floor*: for every record ``json.loads`` of its body (the SNS message: raw message delivery) and the same
  AWS requests made with plain ``boto3.client(...)`` clients through the same fake (``cases.py``) - so the
  fakes' own cost, and botocore's, are in the floor too.

The handler's stdout (its log lines and EMF metrics, what CloudWatch Logs would ingest) is counted, not
kept: ``log_bytes_per_record`` feeds ``cost.py``.

The figure is the median over ``--rounds`` batches of each: records per second of both and their ratio
(handler time per record / floor time per record; 1.0 = no overhead above the floor). Then a profile of
the handler's batches (``cProfile``): self time by package, and the top functions.

    .venv/bin/python bench/warm.py [--rounds 30] [--handler order_writer ...] [--top 8] [--json FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _fake_aws
from cases import CASES, REGION, Context, sqs_event

ROOT = Path(__file__).resolve().parent.parent
BATCH_SIZE = 10


class _CountingSink(io.TextIOBase):
    """A stdout that counts the bytes written to it and keeps none."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, text: str) -> int:
        self.written += len(text.encode("utf-8"))
        return len(text)

    def writable(self) -> bool:
        return True


def _package(filename: str) -> str:
    """A short owner of a profiled function: ``botocore``, ``aws_lambda_powertools``, ``lambda_handlers``,
    ``stdlib:json`` ..."""
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins"
    path = Path(filename)
    parts = path.parts
    for marker in ("site-packages",):
        if marker in parts:
            return parts[parts.index(marker) + 1].removesuffix(".py")
    if "lambda_handlers" in parts:
        index = parts.index("lambda_handlers")
        return "/".join(parts[index : index + 2]).removesuffix(".py")
    if path.is_relative_to(ROOT / "bench"):
        return "bench (fakes)"
    return "stdlib:" + (parts[-2] if parts[-1] == "__init__.py" else path.stem)


def _self_times(work: Callable[[], object], rounds: int) -> list[tuple[float, str, str, int]]:
    """``(self seconds per round, package, function, calls per round)`` of everything ``work`` ran."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(rounds):
        work()
    profiler.disable()
    entries: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    return [
        (tottime / rounds, _package(filename), f"{Path(filename).name}:{line}({function})", calls // rounds)
        for (filename, line, function), (_, calls, tottime, _, _) in entries.items()
    ]


def _profile(
    handler: Callable[[], object], floor: Callable[[], object], rounds: int, top: int
) -> dict[str, Any]:
    """Self time per package of the handler and of the floor (ms per batch), the packages sorted by what
    the handler spends above the floor; and the handler's top functions by self time."""
    handler_times, floor_times = _self_times(handler, rounds), _self_times(floor, rounds)
    packages: dict[str, list[float]] = {}
    for index, times in enumerate((handler_times, floor_times)):
        for seconds, package, _, _ in times:
            packages.setdefault(package, [0.0, 0.0])[index] += seconds * 1000
    total = sum(seconds for seconds, _, _, _ in handler_times) or 1e-9
    return {
        "total_ms": [total * 1000, sum(seconds for seconds, _, _, _ in floor_times) * 1000],
        "packages": [
            [ms[0], ms[1], name] for name, ms in sorted(packages.items(), key=lambda kv: kv[1][1] - kv[1][0])
        ][:top],
        "functions": [
            [seconds / total, package, where, calls]
            for seconds, package, where, calls in sorted(handler_times)[::-1][:top]
        ],
    }


def child(name: str, rounds: int, batch_size: int, top: int) -> dict[str, Any]:
    """Runs in the handler's own process (``--child``): the measurement, as a JSON-able dict."""
    case = CASES[name]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "bench",
            "POWERTOOLS_METRICS_NAMESPACE": "Bench",
            **case.env,
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    sink = _CountingSink()
    sys.stdout = sink  # the handlers' log and metric lines (Lambda: stdout, to CloudWatch Logs)
    _fake_aws.install_in_memory()
    handler = importlib.import_module(f"lambda_handlers.{name}.handler").handler
    event = sqs_event([case.body(i) for i in range(batch_size)])
    context = Context()

    import boto3  # the floor: plain clients from the same (faked) default session

    namespace: dict[str, Any] = {"boto3": boto3, "json": json}
    exec(case.floor_clients, namespace)
    floor_code = compile(case.floor_calls, f"<floor {name}>", "exec")

    def run_handler() -> None:
        response = handler(event, context)
        if response["batchItemFailures"]:
            raise SystemExit(f"{name}: batch item failures {response}")

    def run_floor() -> None:
        records = event["Records"]
        messages = [json.loads(record["body"]) for record in records]
        for index, message in enumerate(messages):
            namespace.update(message=message, messages=messages, i=index, last=index == len(records) - 1)
            exec(floor_code, namespace)

    expected = case.requests(batch_size)
    for what, work in (("handler", run_handler), ("floor", run_floor)):
        _fake_aws.CALLS.clear()
        work()  # also the warm-up
        made = list(_fake_aws.CALLS)
        if made != expected:
            raise SystemExit(f"{name}: the {what} made {made}, expected {expected}")

    sink.written = 0
    run_handler()
    log_bytes = sink.written / batch_size
    handler_times: list[float] = []
    floor_times: list[float] = []
    for _ in range(rounds):
        for times, work in ((floor_times, run_floor), (handler_times, run_handler)):
            start = time.perf_counter()
            work()
            times.append(time.perf_counter() - start)
    handler_time, floor_time = statistics.median(handler_times), statistics.median(floor_times)
    return {
        "batch_size": batch_size,
        "rounds": rounds,
        "requests_per_record": len(expected) / batch_size,
        "handler_records_per_s": batch_size / handler_time,
        "floor_records_per_s": batch_size / floor_time,
        "handler_ms_per_record": handler_time / batch_size * 1000,
        "floor_ms_per_record": floor_time / batch_size * 1000,
        "ratio": handler_time / floor_time,
        "log_bytes_per_record": log_bytes,
        "pair_ratio": statistics.median(h / f for h, f in zip(handler_times, floor_times, strict=True)),
        "profile": _profile(run_handler, run_floor, max(3, rounds // 3), top),
    }


def run(names: list[str], rounds: int, batch_size: int = BATCH_SIZE, top: int = 8) -> dict[str, Any]:
    """Each handler in a fresh process; prints its figures and profile; returns them by handler."""
    figures: dict[str, Any] = {}
    print(
        f"{'handler':<20} {'req/rec':>7} {'floor rec/s':>12} {'handler rec/s':>14} {'ratio':>6} {'pairwise':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            out = Path(tmp) / f"{name}.json"
            argv = [sys.executable, __file__, "--child", name, "--rounds", str(rounds)]
            argv += ["--batch-size", str(batch_size), "--top", str(top), "--json", str(out)]
            result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise SystemExit(f"warm {name} failed:\n{result.stderr[-3000:]}")
            item = figures[name] = json.loads(out.read_text())
            print(
                f"{name:<20} {item['requests_per_record']:>7.1f} {item['floor_records_per_s']:>12.0f}"
                f" {item['handler_records_per_s']:>14.0f} {item['ratio']:>6.2f} {item['pair_ratio']:>9.2f}",
                flush=True,
            )
    print(
        "\nWhere the time goes (cProfile self time per batch, which the profiler inflates; handler / floor"
        " ms by package, most above the floor first; then the handler's top functions):"
    )
    for name, item in figures.items():
        profile = item["profile"]
        handler_ms, floor_ms = profile["total_ms"]
        packages = ", ".join(f"{package} {ms:.1f}/{fl:.1f}" for ms, fl, package in profile["packages"][:5])
        print(f"  {name}: {handler_ms:.1f} / {floor_ms:.1f} ms - {packages}")
        for share, _, where, calls in profile["functions"][:top]:
            print(f"      {share:5.1%}  {calls:>5}/batch  {where}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30, help="timed batches of each (default 30)")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="records per batch (default 10)")
    parser.add_argument("--handler", action="append", choices=sorted(CASES), help="default: all of them")
    parser.add_argument("--top", type=int, default=8, help="profile entries to show (default 8)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--child", choices=sorted(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        figures = child(args.child, args.rounds, args.batch_size, args.top)
        args.json.write_text(json.dumps(figures))
        return
    result = run(args.handler or list(CASES), args.rounds, args.batch_size, args.top)
    if args.json:
        args.json.write_text(json.dumps({"warm": result}, indent=2))


if __name__ == "__main__":
    main()
