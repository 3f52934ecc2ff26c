"""``bench/run.py --quick`` (``make bench-quick``) as a smoke check: it runs and produces its figures. Never
asserts on timings - only that each figure is there and is a measurement (a positive number)."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def _bench_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _measured(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("bench")
    result = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return result, out


def test_the_quick_run_succeeds_and_writes_a_results_table_naming_the_machine(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    # GIVEN the quick benchmark run (a subprocess, as make bench-quick runs it)
    result, out = quick_run
    # THEN it exits 0 and writes a markdown table headed by the machine it ran on
    assert result.returncode == 0, result.stderr[-3000:]
    table = (out / "results.md").read_text()
    assert table.startswith("Machine: ")
    assert "Python " in table.splitlines()[0]
    assert "| cold start `order_writer` |" in table
    assert "| warm `order_email_sender` (1.3 requests/record) |" in table


def test_the_quick_run_measures_cold_start_against_its_floor(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    # GIVEN the quick run's cold-start figures
    _, out = quick_run
    figures = json.loads((out / "cold_start.json").read_text())["cold_start"]["order_writer"]
    # THEN the handler, its floor and their ratio are measurements
    assert all(_measured(figures[key]) for key in ("floor", "handler", "ratio", "pair_ratio"))
    assert figures["ratio"] == pytest.approx(figures["handler"] / figures["floor"])


def test_the_quick_run_measures_warm_throughput_and_profiles_it(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    # GIVEN the quick run's warm figures
    _, out = quick_run
    warm = json.loads((out / "warm.json").read_text())["warm"]
    # THEN both handlers have records/s for themselves and their floor, log volume and a profile
    assert set(warm) == {"order_writer", "order_email_sender"}
    for figures in warm.values():
        assert all(
            _measured(figures[key])
            for key in ("handler_records_per_s", "floor_records_per_s", "ratio", "log_bytes_per_record")
        )
        assert figures["profile"]["packages"] and figures["profile"]["functions"]
    # a 10-record batch: one claims transaction, one suppression batch read, 10 sends, one batch write
    assert warm["order_email_sender"]["requests_per_record"] == 1.3


def test_the_fixed_cost_counts_the_templates_keys_alarm_metrics_and_dashboards() -> None:
    # GIVEN a template with 2 KMS keys, a plain alarm, a metric-math alarm over 2 metrics and a dashboard
    cost = _bench_module("cost")
    prices = json.loads((BENCH / "prices.json").read_text())
    math_alarm = {"Metrics": [{"Id": "a", "MetricStat": {}}, {"Id": "b", "MetricStat": {}}, {"Id": "e"}]}
    template = {
        "Resources": {
            "K1": {"Type": "AWS::KMS::Key", "Properties": {}},
            "K2": {"Type": "AWS::KMS::Key", "Properties": {}},
            "A1": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "Errors"}},
            "A2": {"Type": "AWS::CloudWatch::Alarm", "Properties": math_alarm},
            "D": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}},
        }
    }
    # WHEN the cost is computed without any running figures
    figures = cost.compute(prices, cost.template_facts(template), {}, {})
    # THEN the fixed part is 2 keys + 3 alarm metrics + 1 dashboard at the listed prices
    price = {name: entry["usd"] / entry["per"] for name, entry in prices["prices"].items()}
    expected = 2 * price["kms_key_month"] + 3 * price["cloudwatch_alarm_metric_month"]
    expected += price["cloudwatch_dashboard_month"]
    assert figures["fixed_per_month_total"] == pytest.approx(expected)
    assert figures["template"]["alarm_metrics"] == 3


def test_every_price_names_its_source_page() -> None:
    # GIVEN the dated price table WHEN read THEN every price has a positive amount and an AWS pricing URL
    prices = json.loads((BENCH / "prices.json").read_text())
    assert prices["as_of"] and prices["region"] == "us-east-1"
    for entry in prices["prices"].values():
        assert entry["usd"] > 0 and entry["per"] > 0
        assert entry["source"].startswith("https://aws.amazon.com/")
