"""Lambda without Docker: run Python functions from their deployed code in warm worker processes.

moto keeps each function's code (the zip from ``Code.ZipFile`` or the S3 object of ``Code.S3Bucket`` /
``S3Key``) but runs it only in Docker. This component runs it on this machine instead:

* the zip is extracted once per ``CodeSha256`` into a cache directory; each *execution environment* is a
  :mod:`~notification_constructs.testing._worker` process (``sys.executable``, so boto3 and Powertools
  are those of the sandbox) with the function's environment variables plus Lambda's reserved ones,
  ``AWS_ENDPOINT_URL`` = the sandbox and dummy credentials; the public Powertools layer is substituted by
  the installed ``aws_lambda_powertools``, other layers come from moto (their ``python/`` directory);
* environments are reused like Lambda's: one warm worker per concurrent execution, a cold start (init
  phase, not counted in the function's timeout) on first use, a fresh one after a configuration or code
  change; the function's ``Timeout`` kills the worker ("Task timed out after N.NN seconds"); a worker
  that dies is a ``Runtime.ExitError``;
* logs (the function's stdout / stderr, with Lambda's START / END / REPORT lines) go to one file per
  function under :func:`log_dir` and to moto's CloudWatch Logs (group ``/aws/lambda/<name>``, one stream
  per environment), and the last 4 KB of each invocation come back as ``log_tail``;
* moto's ``LambdaFunction.invoke`` - the path of the Invoke API and of moto's internal callers (SNS,
  S3 notifications, EventBridge, CloudFormation custom resources) - runs here. Internal callers invoke
  asynchronously, as those services do.

Public API (used by the other components): :func:`invoke`, :class:`InvocationResult`, :func:`log_dir`,
:func:`log_file`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import math
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._state import SandboxState

__all__ = ["FunctionNotFoundError", "InvocationResult", "invoke", "log_dir", "log_file"]

_EXTRAS_KEY = "lambda_runtime"
_WORKER_SCRIPT = str(Path(__file__).with_name("_worker.py"))
#: Lambda's init phase may take up to 10 s for on-demand functions
#: (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html#runtimes-lifecycle-ib).
INIT_TIMEOUT_SECONDS = 10.0
#: Lambda returns the last 4 KB of the execution log with ``LogType=Tail``
#: (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html).
LOG_TAIL_BYTES = 4096
#: Warm environments idle this long are stopped (Lambda keeps them for an unspecified while).
IDLE_SECONDS = 300.0
#: Async invocations: Lambda retries a failed event twice, about 1 and 2 minutes later
#: (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html); the sandbox waits
#: 1 and 2 seconds instead (override with ``state.extras["lambda_async_retry_delays"]``).
ASYNC_RETRY_DELAYS = (1.0, 2.0)
#: How many async events run at once (Lambda's internal queue feeds functions as concurrency allows).
ASYNC_CONCURRENCY = 8
#: Layers that are replaced by what the sandbox's interpreter has installed.
_SUBSTITUTED_LAYERS = ("AWSLambdaPowertoolsPython",)


class FunctionNotFoundError(LookupError):
    """No Lambda function of that name or ARN exists in the sandbox."""


@dataclass(frozen=True)
class InvocationResult:
    """The outcome of one invocation, as the Invoke API reports it.

    ``payload`` - the function's response (parsed JSON), or None (no response, an error, or async).
    ``error`` - ``{"errorType", "errorMessage", ...}`` when the function failed (Lambda's
    ``X-Amz-Function-Error``), else None. ``log_tail`` - the last 4 KB of the invocation's log.
    """

    payload: Any
    error: dict[str, Any] | None
    duration_ms: float
    log_tail: str
    request_id: str = ""
    function_name: str = ""
    cold_start: bool = False
    #: The response exactly as the function produced it (JSON text); the error object's JSON on failure.
    raw_payload: str = "null"
    throttled: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def invoke(
    state: SandboxState, function: str, event: Any, *, invocation_type: str = "RequestResponse"
) -> InvocationResult:
    """Invoke ``function`` (a name, ``name:qualifier`` or an ARN) with ``event`` (a JSON-able value).

    ``invocation_type="RequestResponse"`` runs it and returns the result; ``"Event"`` queues it (run in the
    background with Lambda's retries on error) and returns at once with an empty result.
    Raises :class:`FunctionNotFoundError` when there is no such function.
    """
    runtime = _runtime(state)
    fn = runtime.resolve(function)
    raw = json.dumps(event)
    if invocation_type == "Event":
        request_id = runtime.submit_async(fn, raw)
        return InvocationResult(None, None, 0.0, "", request_id=request_id, function_name=fn.function_name)
    if invocation_type != "RequestResponse":
        raise ValueError(f"invocation_type {invocation_type!r}: 'RequestResponse' or 'Event'")
    return runtime.run(fn, raw)


def invoke_in_running_sandbox(function: str, event: Any) -> InvocationResult:
    """Invoke ``function`` synchronously in the runtime of the running sandbox (for callers that have no
    :class:`SandboxState` at hand, such as the CloudFormation engine's custom resources)."""
    if _ACTIVE is None:
        raise RuntimeError("the Lambda runtime component is not installed in this sandbox")
    return _ACTIVE.run(_ACTIVE.resolve(function), json.dumps(event))


def log_dir(state: SandboxState) -> Path:
    """Directory of the per-function log files (``state.extras["log_dir"]/lambda`` when the server names
    a log directory, else a temporary directory)."""
    return _runtime(state).log_dir


def log_file(state: SandboxState, function_name: str) -> Path:
    """The log file of ``function_name`` (all its environments, in order of writing)."""
    return _runtime(state).log_dir / f"{_safe_name(function_name)}.log"


# -- component hooks ------------------------------------------------------------------------------------

_ACTIVE: _Runtime | None = None
_PATCHED = False


def install(state: SandboxState) -> None:
    """Create the runner for ``state`` and route moto's Lambda invocations to it (patches moto once)."""
    global _ACTIVE
    if _EXTRAS_KEY not in state.extras:
        state.extras[_EXTRAS_KEY] = _Runtime(state)
    runtime: _Runtime = state.extras[_EXTRAS_KEY]
    _ACTIVE = runtime
    state.busy_checks["lambda"] = runtime.busy
    _patch_moto()


def start(state: SandboxState) -> None:
    _runtime(state).start()


def stop(state: SandboxState) -> None:
    _runtime(state).stop()


def _runtime(state: SandboxState) -> _Runtime:
    runtime = state.extras.get(_EXTRAS_KEY)
    if runtime is None:
        raise RuntimeError("the Lambda runtime component is not installed in this sandbox state")
    assert isinstance(runtime, _Runtime)
    return runtime


# -- the function, as this runner needs it ----------------------------------------------------------------


@dataclass(frozen=True)
class _FunctionSpec:
    """A snapshot of a moto ``LambdaFunction``: what an execution environment is built from."""

    name: str
    arn: str
    version: str
    account: str
    region: str
    handler: str
    runtime: str
    package_type: str
    memory_mb: int
    timeout_s: float
    env_vars: tuple[tuple[str, str], ...]
    layers: tuple[str, ...]
    code_digest: str
    reserved_concurrency: int | None
    fingerprint: str = field(default="", compare=False)

    @classmethod
    def of(cls, fn: Any) -> _FunctionSpec:
        version = str(fn.version)
        env = tuple(sorted((str(k), str(v)) for k, v in (fn.environment_vars or {}).items()))
        reserved = fn.reserved_concurrency
        spec = cls(
            name=fn.function_name,
            arn=fn.function_arn,
            version=version if version.isdigit() else "$LATEST",
            account=fn.account_id,
            region=fn.region,
            handler=fn.handler or "",
            runtime=fn.run_time or "",
            package_type=fn.package_type or "Zip",
            memory_mb=int(fn.memory_size or 128),
            timeout_s=float(fn.timeout or 3),
            env_vars=env,
            layers=tuple(layer["Arn"] for layer in fn.layers or []),
            code_digest=getattr(fn, "code_digest", "") or "",
            reserved_concurrency=None if reserved in (None, "") else int(reserved),
        )
        fingerprint = hashlib.sha256(
            json.dumps(
                [
                    spec.handler,
                    spec.runtime,
                    spec.memory_mb,
                    spec.timeout_s,
                    spec.env_vars,
                    spec.layers,
                    spec.code_digest,
                    spec.version,
                ]
            ).encode()
        ).hexdigest()
        object.__setattr__(spec, "fingerprint", fingerprint)
        return spec


class _InitFailure(Exception):
    def __init__(self, error_type: str, message: str, log: str = "") -> None:
        super().__init__(message)
        self.error = {"errorType": error_type, "errorMessage": message}
        self.log = log


class _Throttled(Exception):
    pass


# -- one execution environment ----------------------------------------------------------------------------


class _Worker:
    """A worker process: JSON lines over two pipes; its stdout + stderr are the function's log."""

    def __init__(
        self, runtime: _Runtime, spec: _FunctionSpec, code_dir: Path, layer_paths: list[str]
    ) -> None:
        self.spec = spec
        self.runtime = runtime
        self.id = uuid.uuid4().hex
        now = datetime.now(UTC)
        self.log_stream = f"{now:%Y/%m/%d}/[{spec.version}]{self.id}"
        self.log_group = f"/aws/lambda/{spec.name}"
        self.last_used = time.monotonic()
        self.init_ms = 0.0
        self._lines: list[str] = []
        self._lines_lock = threading.Lock()
        self._end_seen = threading.Event()
        self._end_marker = ""
        self._buffer = b""
        self._cloudwatch = _CloudWatchStream(spec.account, spec.region, self.log_group, self.log_stream)

        env = runtime.environment(spec, code_dir, layer_paths, self.log_stream)
        req_read, req_write = os.pipe()
        resp_read, resp_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-s", _WORKER_SCRIPT, str(req_read), str(resp_write)],
                pass_fds=(req_read, resp_write),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(code_dir),
                start_new_session=True,
            )
        finally:
            os.close(req_read)
            os.close(resp_write)
        self._requests = os.fdopen(req_write, "w", encoding="utf-8")
        self._replies = resp_read
        self._selector = selectors.DefaultSelector()
        self._selector.register(resp_read, selectors.EVENT_READ)
        self._log_thread = threading.Thread(
            target=self._pump_logs, name=f"lambda-log-{spec.name}", daemon=True
        )
        self._log_thread.start()

    # -- lifecycle --------------------------------------------------------------------------------------
    def wait_ready(self) -> None:
        """Wait for the init phase; raises :class:`_InitFailure` (and stops the worker) if it fails."""
        started = time.monotonic()
        try:
            message = self._read(started + INIT_TIMEOUT_SECONDS)
        except TimeoutError:
            self.kill()
            raise _InitFailure(
                "Sandbox.Timedout", f"Init phase timed out after {INIT_TIMEOUT_SECONDS:.2f} seconds"
            ) from None
        self.init_ms = (time.monotonic() - started) * 1000
        if message is None:
            code = self._exit_code(1.0)
            self._log_thread.join(timeout=1.0)
            raise _InitFailure("Runtime.ExitError", f"Runtime exited with error: {_exit_status(code)}")
        if message.get("init_error"):
            error = message["init_error"]
            self.kill()
            self._log_thread.join(timeout=1.0)
            failure = _InitFailure(error.get("errorType", "Runtime.Unknown"), error.get("errorMessage", ""))
            failure.error = error
            raise failure

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.process.wait(timeout=5)
        self._close()

    def stop(self) -> None:
        """Stop an idle worker: close its request pipe (it exits), kill it if it lingers."""
        with contextlib.suppress(OSError):
            self._requests.close()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close()

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            self._requests.close()
        with contextlib.suppress(Exception):
            self._selector.close()
        with contextlib.suppress(OSError):
            os.close(self._replies)

    def _exit_code(self, wait: float) -> int | None:
        try:
            return self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return None

    # -- one invocation ------------------------------------------------------------------------------
    def invoke(self, request_id: str, raw_event: str, invoked_arn: str) -> tuple[dict[str, Any], str]:
        """Run one event; returns (outcome, log text). Outcome: ``payload`` (JSON text) or ``error``;
        ``timed_out`` / ``crashed`` are set when the worker had to be / was killed (it is then gone)."""
        timeout = self.spec.timeout_s
        with self._lines_lock:
            self._lines = []
        self._end_seen.clear()
        self._end_marker = f"END RequestId: {request_id}"
        deadline = time.monotonic() + timeout
        request = {
            "type": "invoke",
            "request_id": request_id,
            "event": raw_event,
            "invoked_function_arn": invoked_arn,
            "deadline_ms": time.time() * 1000 + timeout * 1000,
        }
        try:
            self._requests.write(json.dumps(request) + "\n")
            self._requests.flush()
            message = self._read(deadline)
        except TimeoutError:
            self.kill()
            self._log_thread.join(timeout=1.0)
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            # Lambda's timeout error (https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html).
            self._log(f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds")
            error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds",
            }
            return {"error": error, "timed_out": True}, self._take_lines()
        except (BrokenPipeError, OSError):
            message = None
        if message is None:  # the process died mid-invocation
            code = self._exit_code(2.0)
            self._log_thread.join(timeout=1.0)
            status = _exit_status(code)
            self._log(f"RequestId: {request_id} Error: Runtime exited with error: {status}")
            error = {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {status}",
            }
            self._close()
            return {"error": error, "crashed": True}, self._take_lines()
        self._end_seen.wait(timeout=1.0)
        self.last_used = time.monotonic()
        return message, self._take_lines()

    def _read(self, deadline: float) -> dict[str, Any] | None:
        """The next reply, or None at end of file; raises TimeoutError at ``deadline``."""
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(timeout=remaining):
                raise TimeoutError
            chunk = os.read(self._replies, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        return message

    # -- logs ------------------------------------------------------------------------------------------
    def _pump_logs(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self._log(raw.decode("utf-8", "replace").rstrip("\n"))
        self._cloudwatch.flush()
        self._end_seen.set()

    def _log(self, line: str) -> None:
        with self._lines_lock:
            self._lines.append(line)
        self.runtime.write_log(self.spec.name, line)
        self._cloudwatch.add(line)
        if line == self._end_marker:
            self._cloudwatch.flush()
            self._end_seen.set()

    def _take_lines(self) -> str:
        with self._lines_lock:
            lines, self._lines = self._lines, []
        return "\n".join(lines) + ("\n" if lines else "")

    def report(self, request_id: str, duration_ms: float, max_rss_mb: int, cold: bool) -> str:
        line = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration_ms)} ms\tMemory Size: {self.spec.memory_mb} MB\t"
            f"Max Memory Used: {max_rss_mb} MB"
        )
        if cold:
            line += f"\tInit Duration: {self.init_ms:.2f} ms"
        self.runtime.write_log(self.spec.name, line)
        self._cloudwatch.add(line)
        self._cloudwatch.flush()
        return line


class _CloudWatchStream:
    """The environment's log stream in moto's CloudWatch Logs (best effort: never fails an invocation)."""

    def __init__(self, account: str, region: str, group: str, stream: str) -> None:
        self._account, self._region, self._group, self._stream = account, region, group, stream
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._created = False

    def add(self, line: str) -> None:
        with self._lock:
            self._pending.append({"timestamp": int(time.time() * 1000), "message": line})
        if len(self._pending) >= 100:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            events, self._pending = self._pending, []
            if not events:
                return
            try:
                from moto.logs.models import logs_backends

                backend = logs_backends[self._account][self._region]
                if not self._created:
                    backend.ensure_log_group(self._group)
                    backend.ensure_log_stream(self._group, self._stream)
                    self._created = True
                backend.put_log_events(self._group, self._stream, events)
            except Exception as exc:  # a deleted group, moto validation: keep the file log
                print(f"sandbox lambda: CloudWatch Logs write failed: {exc!r}", file=sys.stderr)


# -- the runner ---------------------------------------------------------------------------------------------


@dataclass
class _Pool:
    idle: list[_Worker] = field(default_factory=list)
    running: int = 0


class _Runtime:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._pools: dict[str, _Pool] = {}
        self._running = 0
        self._pending_async = 0
        self._stopping = threading.Event()
        self._async = ThreadPoolExecutor(max_workers=ASYNC_CONCURRENCY, thread_name_prefix="lambda-async")
        self._log_lock = threading.Lock()
        self._log_handles: dict[str, io.TextIOWrapper] = {}
        self._timers: set[threading.Timer] = set()
        configured = state.extras.get("log_dir")
        #: A log directory of our own (no log_dir configured) is removed when the sandbox stops.
        self._own_log_dir = not configured
        if configured:
            self.log_dir = Path(configured) / "lambda"
        else:
            self.log_dir = Path(tempfile.mkdtemp(prefix="notification-sandbox-lambda-logs-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.code_root = Path(
            state.extras.get("code_cache_dir") or Path(tempfile.gettempdir()) / "notification-sandbox-code"
        )
        self._reaper: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        if self._reaper is None:
            self._reaper = threading.Thread(target=self._reap, name="lambda-reaper", daemon=True)
            self._reaper.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            timers = list(self._timers)
            self._timers.clear()
            workers = [w for pool in self._pools.values() for w in pool.idle]
            for pool in self._pools.values():
                pool.idle.clear()
        for timer in timers:
            timer.cancel()
        for worker in workers:
            worker.kill()
        self._async.shutdown(wait=False, cancel_futures=True)
        with self._log_lock:
            for handle in self._log_handles.values():
                handle.close()
            self._log_handles.clear()
        if self._own_log_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    def busy(self) -> int:
        with self._lock:
            return self._running + self._pending_async

    def _reap(self) -> None:
        idle_for = float(self.state.extras.get("lambda_idle_seconds", IDLE_SECONDS))
        while not self._stopping.wait(5.0):
            cutoff = time.monotonic() - idle_for
            with self._lock:
                stale = [w for pool in self._pools.values() for w in pool.idle if w.last_used < cutoff]
                for pool in self._pools.values():
                    pool.idle[:] = [w for w in pool.idle if w not in stale]
            for worker in stale:
                worker.stop()

    # -- functions ------------------------------------------------------------------------------------
    def resolve(self, function: str) -> Any:
        from moto.awslambda.models import lambda_backends

        account, region = self.state.account_id, self.state.region
        if function.startswith("arn:"):
            parts = function.split(":")
            if len(parts) < 7:
                raise FunctionNotFoundError(f"{function!r} is not a Lambda function ARN")
            region, account = parts[3], parts[4]
        try:
            return lambda_backends[account][region].get_function(function, None)
        except Exception as exc:
            if type(exc).__name__ in (
                "UnknownFunctionException",
                "GenericResourcNotFound",
                "UnknownAliasException",
            ):
                raise FunctionNotFoundError(
                    f"no Lambda function {function!r} in the sandbox (account {account}, region {region})"
                ) from None
            raise

    def environment(
        self, spec: _FunctionSpec, code_dir: Path, layer_paths: list[str], stream: str
    ) -> dict[str, str]:
        """The worker's environment: the function's variables, then Lambda's reserved ones
        (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime),
        which a function cannot override, then the sandbox's endpoint and dummy credentials."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
        }
        env.update(dict(spec.env_vars))
        env.update(
            {
                "_HANDLER": spec.handler,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime or 'python3'}",
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": stream,
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "LAMBDA_TASK_ROOT": str(code_dir),
                "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).parent),
                "AWS_ACCESS_KEY_ID": "AKIASANDBOXLAMBDA001",
                "AWS_SECRET_ACCESS_KEY": "sandbox-lambda-secret",
                "AWS_SESSION_TOKEN": "sandbox-lambda-session-token",
                "AWS_ENDPOINT_URL": self.state.endpoint_url,
                # No X-Ray daemon in the sandbox.
                "POWERTOOLS_TRACE_DISABLED": "true",
                "AWS_XRAY_SDK_ENABLED": "false",
                "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
                # Never read the developer's own AWS configuration.
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
                "_SANDBOX_LAYER_PATHS": os.pathsep.join(layer_paths),
            }
        )
        return env

    def _prepare(self, spec: _FunctionSpec, fn: Any) -> tuple[Path, list[str]]:
        """Code directory and layer paths for ``spec``; raises :class:`_InitFailure` when unusable."""
        if spec.package_type != "Zip":
            raise _InitFailure(
                "Sandbox.UnsupportedPackageType",
                f"function {spec.name}: package type {spec.package_type} cannot run in the sandbox "
                "(only .zip packages of Python functions)",
            )
        if spec.runtime and not spec.runtime.startswith("python"):
            raise _InitFailure(
                "Sandbox.UnsupportedRuntime",
                f"function {spec.name}: runtime {spec.runtime} cannot run in the sandbox (Python only)",
            )
        code = getattr(fn, "code_bytes", b"") or b""
        if not code:
            raise _InitFailure(
                "Sandbox.CodeUnavailable",
                f"function {spec.name} has no code package in the sandbox (was its S3 object "
                "uploaded before the function was created?)",
            )
        code_dir = self._extract(spec.code_digest or hashlib.sha256(code).hexdigest(), code)
        layer_paths: list[str] = []
        for arn in spec.layers:
            if any(name in arn for name in _SUBSTITUTED_LAYERS):
                continue  # Powertools: the sandbox's installed aws_lambda_powertools is on sys.path
            layer_paths.extend(self._layer_paths(spec, arn))
        return code_dir, layer_paths

    def _layer_paths(self, spec: _FunctionSpec, arn: str) -> list[str]:
        from moto.awslambda.models import lambda_backends

        parts = arn.split(":")
        layer = None
        if len(parts) >= 8:
            with contextlib.suppress(Exception):
                layer = lambda_backends[parts[4]][parts[3]].layers_versions_by_arn(arn)
        if layer is None or not getattr(layer, "code_bytes", b""):
            raise _InitFailure(
                "Sandbox.LayerUnavailable",
                f"function {spec.name}: layer {arn} is not in the sandbox (publish it with "
                "PublishLayerVersion first; only the public Powertools layer is substituted)",
            )
        root = self._extract(
            layer.code_digest or hashlib.sha256(layer.code_bytes).hexdigest(), layer.code_bytes
        )
        # Lambda puts /opt/python and /opt/python/lib/pythonX.Y/site-packages on the path
        # (https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html#packaging-layers-paths).
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        return [str(root / "python"), str(root / "python" / "lib" / version / "site-packages")]

    def _extract(self, digest: str, data: bytes) -> Path:
        target = self.code_root / digest
        if target.is_dir():
            return target
        self.code_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=self.code_root))
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                archive.extractall(staging)
        except zipfile.BadZipFile as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise _InitFailure(
                "Sandbox.InvalidCodePackage", f"the code package is not a valid .zip file: {exc}"
            ) from None
        try:
            os.rename(staging, target)
        except OSError:  # another thread extracted the same package first
            shutil.rmtree(staging, ignore_errors=True)
        return target

    # -- invocations ---------------------------------------------------------------------------------------
    def run(self, fn: Any, raw_event: str, *, request_id: str | None = None) -> InvocationResult:
        """Run one event synchronously in a warm (or new) environment of ``fn``."""
        spec = _FunctionSpec.of(fn)
        request_id = request_id or str(uuid.uuid4())
        with self._lock:
            self._running += 1
        started = time.monotonic()
        try:
            return self._run(spec, fn, raw_event, request_id, started)
        finally:
            with self._lock:
                self._running -= 1

    def _run(
        self, spec: _FunctionSpec, fn: Any, raw_event: str, request_id: str, started: float
    ) -> InvocationResult:
        try:
            worker, cold = self._acquire(spec, fn)
        except _Throttled:
            error = {"errorType": "TooManyRequestsException", "errorMessage": "Rate Exceeded."}
            return self._result(spec, request_id, None, error, started, "", cold=False, throttled=True)
        except _InitFailure as failure:
            self.write_log(
                spec.name, f"[ERROR] {failure.error.get('errorType')}: {failure.error.get('errorMessage')}"
            )
            return self._result(spec, request_id, None, failure.error, started, failure.log, cold=True)
        reusable = False
        try:
            outcome, log = worker.invoke(request_id, raw_event, spec.arn)
            reusable = not (outcome.get("timed_out") or outcome.get("crashed"))
            duration = (time.monotonic() - started) * 1000 - (worker.init_ms if cold else 0.0)
            log += worker.report(request_id, duration, int(outcome.get("max_rss_mb") or 0), cold) + "\n"
            payload = outcome.get("payload")
            return self._result(
                spec, request_id, payload, outcome.get("error"), started, log, cold=cold, duration_ms=duration
            )
        finally:
            self._release(spec, worker, reusable)

    def _result(
        self,
        spec: _FunctionSpec,
        request_id: str,
        payload: str | None,
        error: dict[str, Any] | None,
        started: float,
        log: str,
        *,
        cold: bool,
        throttled: bool = False,
        duration_ms: float | None = None,
    ) -> InvocationResult:
        duration = duration_ms if duration_ms is not None else (time.monotonic() - started) * 1000
        tail = log.encode("utf-8")[-LOG_TAIL_BYTES:].decode("utf-8", "ignore")
        if error is not None:
            raw = json.dumps(error)
            parsed = None
        else:
            raw = payload if payload is not None else "null"
            parsed = json.loads(raw)
        self.state.log(
            "lambda",
            f"{spec.name} {'failed' if error else 'ok'} in {duration:.0f} ms",
            function=spec.name,
            request_id=request_id,
            duration_ms=round(duration, 2),
            cold_start=cold,
            error_type=(error or {}).get("errorType"),
        )
        return InvocationResult(
            parsed,
            error,
            duration,
            tail,
            request_id=request_id,
            function_name=spec.name,
            cold_start=cold,
            raw_payload=raw,
            throttled=throttled,
        )

    def _acquire(self, spec: _FunctionSpec, fn: Any) -> tuple[_Worker, bool]:
        retired: list[_Worker] = []
        with self._lock:
            pool = self._pools.setdefault(spec.arn, _Pool())
            retired = [w for w in pool.idle if w.spec.fingerprint != spec.fingerprint or not w.alive]
            pool.idle[:] = [w for w in pool.idle if w not in retired]
            if spec.reserved_concurrency is not None and pool.running >= spec.reserved_concurrency:
                raise _Throttled
            worker = pool.idle.pop() if pool.idle else None
            pool.running += 1
        for old in retired:
            old.stop()
        if worker is not None:
            return worker, False
        try:
            code_dir, layer_paths = self._prepare(spec, fn)
            worker = _Worker(self, spec, code_dir, layer_paths)
            worker.wait_ready()
        except BaseException:
            with self._lock:
                pool.running -= 1
            raise
        return worker, True

    def _release(self, spec: _FunctionSpec, worker: _Worker, reusable: bool) -> None:
        with self._lock:
            pool = self._pools.setdefault(spec.arn, _Pool())
            pool.running -= 1
            keep = reusable and worker.alive and not self._stopping.is_set()
            if keep:
                pool.idle.append(worker)
        if not keep:
            worker.kill()

    # -- async ------------------------------------------------------------------------------------------
    def submit_async(self, fn: Any, raw_event: str) -> str:
        """Queue an event (InvocationType=Event); returns its request id."""
        request_id = str(uuid.uuid4())
        with self._lock:
            self._pending_async += 1
        self._schedule(fn, raw_event, request_id, attempt=0, delay=0.0)
        return request_id

    def _schedule(self, fn: Any, raw_event: str, request_id: str, attempt: int, delay: float) -> None:
        if self._stopping.is_set():
            self._finish_async()
            return

        def submit() -> None:
            with self._lock:
                self._timers.discard(timer)
            try:
                self._async.submit(self._run_async, fn, raw_event, request_id, attempt)
            except RuntimeError:  # executor shut down
                self._finish_async()

        timer = threading.Timer(delay, submit)
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    def _run_async(self, fn: Any, raw_event: str, request_id: str, attempt: int) -> None:
        retry = False
        try:
            result = self.run(fn, raw_event, request_id=request_id)
            if result.error is not None:
                retries = _max_retry_attempts(fn)
                delays = tuple(self.state.extras.get("lambda_async_retry_delays", ASYNC_RETRY_DELAYS))
                if result.throttled or attempt < retries:
                    retry = True
                    delay = delays[min(attempt, len(delays) - 1)] if delays else 1.0
                    self._schedule(fn, raw_event, request_id, attempt + (0 if result.throttled else 1), delay)
                else:
                    self.state.log(
                        "lambda",
                        f"{fn.function_name}: async event dropped after {attempt + 1} attempts",
                        function=fn.function_name,
                        request_id=request_id,
                        error_type=result.error.get("errorType"),
                    )
        except Exception as exc:
            print(f"sandbox lambda: async invocation of {fn.function_name} failed: {exc!r}", file=sys.stderr)
        finally:
            if not retry:
                self._finish_async()

    def _finish_async(self) -> None:
        with self._lock:
            self._pending_async -= 1

    # -- logs -------------------------------------------------------------------------------------------
    def write_log(self, function_name: str, line: str) -> None:
        """Append to the function's log file; a log that cannot be written never fails an invocation."""
        with self._log_lock:
            try:
                handle = self._log_handles.get(function_name)
                if handle is None:
                    if self._stopping.is_set():
                        return
                    self.log_dir.mkdir(parents=True, exist_ok=True)
                    path = self.log_dir / f"{_safe_name(function_name)}.log"
                    handle = path.open("a", encoding="utf-8")
                    self._log_handles[function_name] = handle
                handle.write(line + "\n")
                handle.flush()
            except OSError as exc:
                self._log_handles.pop(function_name, None)
                self.state.log("lambda", f"cannot write the log of {function_name}: {exc.strerror}")


def _max_retry_attempts(fn: Any) -> int:
    """``MaximumRetryAttempts`` of the function's event invoke config (0-2), default 2."""
    for config in getattr(fn, "event_invoke_config", None) or []:
        value = getattr(config, "config", {}).get("MaximumRetryAttempts")
        if value is not None:
            return int(value)
    return 2


def _exit_status(code: int | None) -> str:
    """The runtime's exit as Lambda words it: ``exit status 1`` or ``signal: killed``."""
    if code is None:
        return "signal: killed"
    if code < 0:
        names = {
            signal.SIGKILL: "killed",
            signal.SIGSEGV: "segmentation fault",
            signal.SIGABRT: "aborted",
            signal.SIGTERM: "terminated",
        }
        try:
            sig = signal.Signals(-code)
        except ValueError:
            return f"signal: {-code}"
        return f"signal: {names.get(sig, sig.name)}"
    return f"exit status {code}"


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


# -- moto patches -----------------------------------------------------------------------------------------


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title()) or headers.get(name.lower())
    return None if value is None else str(value)


def _patch_moto() -> None:
    """Route ``LambdaFunction.invoke`` to the runner; accept the public Powertools layer (and other
    accounts' layers, which moto cannot know) at CreateFunction. Idempotent."""
    global _PATCHED
    if _PATCHED:
        return
    from moto.awslambda.models import LambdaFunction
    from moto.core.exceptions import JsonRESTError

    class TooManyRequestsException(JsonRESTError):
        code = 429

        def __init__(self) -> None:
            super().__init__("TooManyRequestsException", "Rate Exceeded.")

    def sandbox_invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        runtime = _ACTIVE
        if runtime is None:
            raise RuntimeError("the sandbox's Lambda runtime is not installed")
        raw = body.decode("utf-8") if isinstance(body, bytes) else (body or "")
        raw = raw if raw.strip() else "{}"
        # moto's own services call with no request headers: they invoke asynchronously, like SNS, S3,
        # EventBridge and CloudFormation do in AWS.
        invocation_type = _header(request_headers, "X-Amz-Invocation-Type") or (
            "RequestResponse" if request_headers else "Event"
        )
        if not request_headers:
            raw = _fix_custom_resource_response_url(raw, runtime.state.endpoint_url)
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            runtime.submit_async(self, raw)
            return b""
        result = runtime.run(self, raw)
        if result.throttled:
            raise TooManyRequestsException()
        if result.error is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
        response_headers["x-amz-executed-version"] = _FunctionSpec.of(self).version
        response_headers["x-amz-log-result"] = base64.b64encode(result.log_tail.encode("utf-8")).decode(
            "ascii"
        )
        return result.raw_payload.encode("utf-8")

    original_layers: Callable[..., Any] = LambdaFunction._get_layers_data

    def get_layers_data(self: Any, layers_versions_arns: list[str]) -> list[dict[str, Any]]:
        foreign = [
            arn
            for arn in layers_versions_arns
            if any(name in arn for name in _SUBSTITUTED_LAYERS) or _account_of(arn) != self.account_id
        ]
        known = original_layers(self, [arn for arn in layers_versions_arns if arn not in foreign])
        by_arn = {layer["Arn"]: layer for layer in known}
        return [by_arn.get(arn, {"Arn": arn, "CodeSize": 0}) for arn in layers_versions_arns]

    setattr(LambdaFunction, "invoke", sandbox_invoke)  # noqa: B010 - a deliberate, guarded monkeypatch
    setattr(LambdaFunction, "_get_layers_data", get_layers_data)  # noqa: B010
    _PATCHED = True


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _fix_custom_resource_response_url(raw: str, endpoint_url: str) -> str:
    """moto points a custom resource's ResponseURL at ``host.docker.internal:5000`` (for Docker);
    the function runs here, so point it at the sandbox."""
    if '"ResponseURL"' not in raw:
        return raw
    try:
        event = json.loads(raw)
    except ValueError:
        return raw
    url = event.get("ResponseURL") if isinstance(event, dict) else None
    if not isinstance(url, str) or "/cloudformation_" not in url or url.startswith(endpoint_url):
        return raw
    event["ResponseURL"] = endpoint_url + url[url.index("/cloudformation_") :]
    return json.dumps(event)
