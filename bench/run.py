"""``make bench``: every benchmark in turn, each printing its figures and their ratio to a floor measured in
the same run; the figures go to ``build/bench/*.json`` and a summary table to ``build/bench/results.md``
(the machine it ran on first: processors, CPU model, Python, date).

1. cold start per handler (``cold_start.py``), 2. warm cost per record (``warm.py``), 3. and 4. AWS
requests per order and a burst drained under the SES send rate on the local sandbox (``pipelines.py``),
5. synth cost (``synth.py``), 6. cost per 1,000 orders and per month (``cost.py``).

``--quick`` (``make bench-quick``, and ``tests/unit/test_bench_quick.py``): a smoke run in well under a
minute - one cold-start pair, two warm rounds of two handlers, the cost from the last full run's template
if there is one; no sandbox and no synth (a deploy alone takes longer); its figures go to
``build/bench-quick/``. ``--full``: a burst of 1,000.

    .venv/bin/python bench/run.py [--quick | --full] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or model
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()}, "
        f"{time.strftime('%Y-%m-%d')}"
    )


def _step(title: str, argv: list[str]) -> None:
    print(f"\n== {title}\n$ {' '.join(Path(a).name if a == sys.executable else a for a in argv)}", flush=True)
    started = time.monotonic()
    result = subprocess.run([sys.executable, *argv], cwd=ROOT, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{title} failed (exit {result.returncode})")
    print(f"({time.monotonic() - started:.0f} s)", flush=True)


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return loaded


def summary(out: Path, quick: bool) -> str:
    """The results table (markdown) of the JSON files in ``out``."""
    rows = ["| benchmark | figure | floor | ratio | goal |", "|---|---|---|---|---|"]
    cold = _load(out / "cold_start.json")
    for name, f in cold.get("cold_start", {}).items():
        rows.append(
            f"| cold start `{name}` | {f['handler'] * 1000:.0f} ms | {f['floor'] * 1000:.0f} ms | "
            f"{f['ratio']:.2f} (pairwise {f['pair_ratio']:.2f}) | <= {cold.get('goal', 1.15)} |"
        )
    for name, f in _load(out / "warm.json").get("warm", {}).items():
        rows.append(
            f"| warm `{name}` ({f['requests_per_record']:.1f} requests/record) | "
            f"{f['handler_records_per_s']:.0f} records/s | {f['floor_records_per_s']:.0f} records/s | "
            f"{f['ratio']:.2f} | - |"
        )
    pipelines = _load(out / "pipelines.json").get("pipelines", {})
    if pipelines:
        r, b = pipelines["requests_per_order"], pipelines["burst"]
        rows.append(
            f"| AWS requests per order ({r['orders']} orders) | {r['per_order']:.2f} | {r['minimum']:.0f} | "
            f"{r['ratio']:.2f} | <= {r['goal']} requests |"
        )
        rows.append(
            f"| burst drain ({b['orders']} orders at {b['rate']:g}/s) | {b['drain_s']:.1f} s | "
            f"N/R {b['limit_s']:.1f} s | {b['ratio']:.2f} | {b['throttled']} throttled, {b['lost']} lost, "
            f"{b['duplicated']} duplicated |"
        )
    synth = _load(out / "synth.json").get("synth", {})
    if synth.get("ratio"):
        s, n = synth["seconds"], synth["resources"]
        # "example": a synth.json from before bench/ours_app.py (the example against plain)
        subject = "ours" if "ours" in s else "example"
        above = synth.get("ratio_above_empty")
        rows.append(
            f"| cdk synth: {subject} ({n[subject]} resources) / plain ({n['plain']}) | {s[subject]:.1f} s | "
            f"{s['plain']:.1f} s (empty app {s.get('empty', 0):.1f} s) | {synth['ratio']:.2f}"
            + (f" (above the empty app {above:.2f})" if above else "")
            + " | - |"
        )
        if synth.get("nag_ratio"):
            rows.append(
                f"| cdk synth: ours with cdk-nag / without | {s['ours_nag']:.1f} s | {s['ours']:.1f} s | "
                f"{synth['nag_ratio']:.2f} | - |"
            )
        if subject == "ours" and "example" in s:
            rows.append(
                f"| cdk synth: full example ({n['example']} resources, cdk-nag; reference) | "
                f"{s['example']:.1f} s | - | - | - |"
            )
    cost = _load(out / "cost.json").get("cost", {})
    if cost:
        rows.append(
            f"| cost per 1,000 orders (prices {cost['prices_as_of']}) | "
            f"${cost['per_1000_orders_total']:.4f} | SES alone "
            f"${cost['per_1000_orders'].get('SES e-mails', 0):.4f} | "
            f"{cost['per_1000_orders_total'] / max(cost['per_1000_orders'].get('SES e-mails', 0), 1e-9):.2f} | - |"
        )
        rows.append(f"| fixed cost per month | ${cost['fixed_per_month_total']:.2f} | - | - | - |")
    header = f"Machine: {machine()}" + (" (quick run: smoke figures only)" if quick else "")
    return header + "\n\n" + "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a smoke run (no sandbox, no synth)")
    mode.add_argument("--full", action="store_true", help="the burst with 1,000 orders")
    parser.add_argument("--out", type=Path, help="where the figures go (build/bench, build/bench-quick)")
    args = parser.parse_args()
    out: Path = args.out or ROOT / "build" / ("bench-quick" if args.quick else "bench")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.json"):
        stale.unlink()
    templates = ROOT / "build" / "bench-templates"
    print(f"Machine: {machine()}")
    cold, warm = str(BENCH / "cold_start.py"), str(BENCH / "warm.py")
    if args.quick:
        _step(
            "1. cold start (quick: 1 run, order_writer)",
            [cold, "--runs", "1", "--handler", "order_writer", "--json", str(out / "cold_start.json")],
        )
        _step(
            "2. warm cost per record (quick: 2 rounds)",
            [
                warm,
                "--rounds",
                "2",
                "--top",
                "3",
                "--handler",
                "order_writer",
                "--handler",
                "order_email_sender",
                "--json",
                str(out / "warm.json"),
            ],
        )
        print("\n== 3.-5. sandbox and synth benchmarks: skipped in --quick (a deploy alone takes longer)")
    else:
        _step("1. cold start per handler", [cold, "--json", str(out / "cold_start.json")])
        _step("2. warm cost per record", [warm, "--json", str(out / "warm.json")])
        burst = ["--full"] if args.full else []
        _step(
            "3.+4. AWS requests per order, burst drain (sandbox)",
            [str(BENCH / "pipelines.py"), *burst, "--json", str(out / "pipelines.json")],
        )
        _step(
            "5. synth cost",
            [str(BENCH / "synth.py"), "--templates", str(templates), "--json", str(out / "synth.json")],
        )
    stacks = sorted(templates.glob("*.template.json"))
    if stacks:
        cost_argv = [str(BENCH / "cost.py"), "--warm", str(out / "warm.json")]
        cost_argv += [arg for path in stacks for arg in ("--template", str(path))]
        if (out / "pipelines.json").exists():
            cost_argv += ["--pipelines", str(out / "pipelines.json")]
        _step("6. cost per 1,000 orders and per month", [*cost_argv, "--json", str(out / "cost.json")])
    else:
        print("\n== 6. cost: skipped (no synthesized template yet: run make bench once)")
    table = summary(out, args.quick)
    (out / "results.md").write_text(table)
    print(f"\n== results ({out / 'results.md'})\n\n{table}")


if __name__ == "__main__":
    main()
