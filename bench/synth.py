"""Synth cost: ``cdk synth`` of the example app against a plain aws-cdk-lib app with the same resources.

Three apps, each synthesized by the real CDK CLI (``node_modules/.bin/cdk synth --app ...``, cdk.json's
context and feature flags for all three) into a temporary directory, in turn (A B C A B C ...):

- *example*: ``examples/app.py`` (cdk.json's app: identity, configuration set, order, bounce and
  incident pipelines, dashboard, cdk-nag checks);
- *plain*: ``bench/plain_app.py``: the order and bounce pipelines with aws-cdk-lib alone (the floor);
- *empty*: ``bench/plain_app.py --empty``: one empty stack (the CLI's, jsii's and Python's own cost).

Prints each app's median wall time, resource count, and the ratios example / plain; and both above the
empty app's time (``- empty``: the cost of the constructs themselves). ``--templates DIR`` keeps the
example's synthesized stack templates (for ``cost.py``).

    .venv/bin/python bench/synth.py [--runs 3] [--templates DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
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
        "example": f"{python} examples/app.py",
        "plain": f"{python} bench/plain_app.py",
        "empty": f"{python} bench/plain_app.py --empty",
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


def synth_once(app: str, outdir: Path) -> tuple[float, int, list[Path]]:
    """Wall seconds, resources in all the app's stacks, the templates' paths."""
    argv = [str(CDK), "synth", "--app", app, "--output", str(outdir), "--quiet", "--no-notices"]
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, env=_environment(), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"cdk synth --app {app!r} failed:\n{result.stderr[-3000:]}")
    templates = sorted(outdir.glob("*.template.json"))
    resources = sum(len(json.loads(t.read_text()).get("Resources", {})) for t in templates)
    return elapsed, resources, templates


def run(runs: int, templates: Path | None = None, names: list[str] | None = None) -> dict[str, Any]:
    chosen = {name: app for name, app in apps(sys.executable).items() if names is None or name in names}
    times: dict[str, list[float]] = {name: [] for name in chosen}
    resources: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(runs):
            for name, app in chosen.items():
                outdir = Path(tmp) / f"{name}-{round_}"
                elapsed, count, paths = synth_once(app, outdir)
                times[name].append(elapsed)
                resources[name] = count
                if name == "example" and templates is not None and round_ == 0:
                    templates.mkdir(parents=True, exist_ok=True)
                    for path in paths:
                        shutil.copyfile(path, templates / path.name)
                shutil.rmtree(outdir, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    figures: dict[str, Any] = {
        "runs": runs,
        "seconds": medians,
        "resources": resources,
        "min_max": {name: (min(v), max(v)) for name, v in times.items()},
    }
    print(f"{'app':<8} {'resources':>9} {'median [s]':>11} {'min-max [s]':>13}")
    for name, median in medians.items():
        low, high = figures["min_max"][name]
        print(f"{name:<8} {resources[name]:>9} {median:>11.1f} {low:>6.1f}-{high:<6.1f}")
    if {"example", "plain"} <= medians.keys():
        figures["ratio"] = medians["example"] / medians["plain"]
        line = f"example / plain: {figures['ratio']:.2f}"
        if "empty" in medians:
            above = (medians["example"] - medians["empty"], medians["plain"] - medians["empty"])
            figures["ratio_above_empty"] = above[0] / above[1] if above[1] > 0 else None
            line += f"; above the empty app: example {above[0]:.1f} s, plain {above[1]:.1f} s" + (
                f" (ratio {figures['ratio_above_empty']:.2f})" if figures["ratio_above_empty"] else ""
            )
        print(
            line + f" (the example has {resources['example']} resources, the plain app {resources['plain']})"
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="synths of each app (default 3)")
    parser.add_argument("--app", action="append", choices=sorted(apps("python")), help="default: all three")
    parser.add_argument("--templates", type=Path, help="copy the example's stack templates to this directory")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    figures = run(args.runs, args.templates, args.app)
    if args.json:
        args.json.write_text(json.dumps({"synth": figures}, indent=2))


if __name__ == "__main__":
    main()
