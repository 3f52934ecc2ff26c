"""Synth cost: ``cdk synth`` of our constructs against plain aws-cdk-lib with the same resources.

Five apps, each synthesized by the real CDK CLI (``node_modules/.bin/cdk synth --app ...``, cdk.json's
context and feature flags for all) into a temporary directory, in turn (A B C D E A B C D E ...):

- *ours*: ``bench/ours_app.py``: identity, configuration set, order and bounce pipelines and dashboard,
  built with our constructs;
- *ours_nag*: ``bench/ours_app.py --nag``: the same with the example's cdk-nag checks (AwsSolutions and
  Serverless ``Validations`` plugins);
- *plain*: ``bench/plain_app.py``: the same resource types in the same counts with aws-cdk-lib alone
  (the floor; ``tests/unit/test_bench_synth_apps.py`` keeps the counts equal);
- *empty*: ``bench/plain_app.py --empty``: one empty stack, importing aws-cdk-lib's core only (the CLI's,
  jsii's and Python's own cost; not the service modules, ``aws_lambda`` and the rest, both apps import);
- *example*: ``examples/app.py`` (cdk.json's app: two stacks, every pipeline, cdk-nag): for reference.

Prints each app's median wall time, CPU time (user + system of the CLI, the app and its jsii Node.js
process: less disturbed by other load on the machine) and resource count, then for both: ours / plain (the
figure) and both above the empty app's time (``(ours - empty) / (plain - empty)``: the constructs' own cost
above the CLI's); ours with cdk-nag / ours without (what the checks cost); the example's time per resource.
``--templates DIR`` keeps the example's synthesized stack templates (for ``cost.py``).

    .venv/bin/python bench/synth.py [--runs 3] [--app ours --app plain ...] [--templates DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CDK = ROOT / "node_modules" / ".bin" / "cdk"


def apps(python: str) -> dict[str, str]:
    return {
        "ours": f"{python} bench/ours_app.py",
        "ours_nag": f"{python} bench/ours_app.py --nag",
        "plain": f"{python} bench/plain_app.py",
        "empty": f"{python} bench/plain_app.py --empty",
        "example": f"{python} examples/app.py",
    }


def _environment() -> dict[str, str]:
    path = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
    return {
        **os.environ,
        "PATH": path + os.environ.get("PATH", ""),
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "CDK_DISABLE_VERSION_CHECK": "true",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def synth_once(app: str, outdir: Path) -> tuple[float, float, int, list[Path]]:
    """Wall seconds, CPU seconds (user + system of the CLI and everything it waited for: the app, its jsii
    Node.js process), resources in all the app's stacks, the templates' paths."""
    argv = [str(CDK), "synth", "--app", app, "--output", str(outdir), "--quiet", "--no-notices"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, env=_environment(), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode != 0:
        raise SystemExit(f"cdk synth --app {app!r} failed:\n{result.stderr[-3000:]}")
    templates = sorted(outdir.glob("*.template.json"))
    resources = sum(len(json.loads(t.read_text()).get("Resources", {})) for t in templates)
    return elapsed, cpu, resources, templates


def run(runs: int, templates: Path | None = None, names: list[str] | None = None) -> dict[str, Any]:
    chosen = {name: app for name, app in apps(sys.executable).items() if names is None or name in names}
    times: dict[str, list[float]] = {name: [] for name in chosen}
    cpu_times: dict[str, list[float]] = {name: [] for name in chosen}
    resources: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(runs):
            for name, app in chosen.items():
                outdir = Path(tmp) / f"{name}-{round_}"
                elapsed, cpu, count, paths = synth_once(app, outdir)
                times[name].append(elapsed)
                cpu_times[name].append(cpu)
                resources[name] = count
                if name == "example" and templates is not None and round_ == 0:
                    templates.mkdir(parents=True, exist_ok=True)
                    for path in paths:
                        shutil.copyfile(path, templates / path.name)
                shutil.rmtree(outdir, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu_times.items()}
    figures: dict[str, Any] = {
        "runs": runs,
        "seconds": medians,
        "cpu_seconds": cpu_medians,
        "resources": resources,
        "min_max": {name: (min(v), max(v)) for name, v in times.items()},
    }
    print(f"{'app':<9} {'resources':>9} {'median [s]':>11} {'min-max [s]':>13} {'CPU median [s]':>15}")
    for name, median in medians.items():
        low, high = figures["min_max"][name]
        print(
            f"{name:<9} {resources[name]:>9} {median:>11.1f} {low:>6.1f}-{high:<6.1f} {cpu_medians[name]:>15.1f}"
        )
    print("wall time:")
    figures.update(_ratios(medians, resources))
    # CPU time: less disturbed than wall time by whatever else the machine runs (on 2 CPUs, e2e tests).
    print("CPU time:")
    figures["cpu"] = _ratios(cpu_medians, resources)
    return figures


def _ratios(medians: dict[str, float], resources: dict[str, int]) -> dict[str, Any]:
    """The comparisons among the apps measured (printed too); ``None`` where a difference is not positive."""
    figures: dict[str, Any] = {}
    if {"ours", "plain"} <= medians.keys():
        figures["ratio"] = medians["ours"] / medians["plain"]
        figures["ours_minus_plain"] = medians["ours"] - medians["plain"]
        line = (
            f"  ours / plain ({resources['ours']} / {resources['plain']} resources): {figures['ratio']:.2f} "
            f"({figures['ours_minus_plain']:+.1f} s)"
        )
        if "empty" in medians:
            above = (medians["ours"] - medians["empty"], medians["plain"] - medians["empty"])
            figures["above_empty"] = {"ours": above[0], "plain": above[1]}
            figures["ratio_above_empty"] = above[0] / above[1] if above[1] > 0 else None
            line += f"; above the empty app: ours {above[0]:.1f} s, plain {above[1]:.1f} s" + (
                f" (ratio {figures['ratio_above_empty']:.2f})" if figures["ratio_above_empty"] else ""
            )
        print(line)
    if {"ours", "ours_nag"} <= medians.keys():
        figures["nag_ratio"] = medians["ours_nag"] / medians["ours"]
        figures["nag_seconds"] = medians["ours_nag"] - medians["ours"]
        print(
            f"  ours with cdk-nag / without: {figures['nag_ratio']:.2f} "
            f"(the checks: {figures['nag_seconds']:+.1f} s)"
        )
    if "example" in medians:
        line = f"  example (reference, with cdk-nag): {resources['example']} resources, {medians['example']:.1f} s"
        if "empty" in medians and resources["example"]:
            per = (medians["example"] - medians["empty"]) / resources["example"] * 1000
            figures["example_ms_per_resource"] = per
            line += f", {per:.0f} ms per resource above the empty app"
        print(line)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="synths of each app (default 3)")
    parser.add_argument("--app", action="append", choices=sorted(apps("python")), help="default: all five")
    parser.add_argument("--templates", type=Path, help="copy the example's stack templates to this directory")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    figures = run(args.runs, args.templates, args.app)
    if args.json:
        args.json.write_text(json.dumps({"synth": figures}, indent=2))


if __name__ == "__main__":
    main()
