"""One Lambda execution environment of the sandbox: a Python process that runs one function's handler.

Started by :mod:`notification_constructs.testing._lambda_runtime` as ``python -P _worker.py REQ_FD RESP_FD``
with the function's environment (its variables plus Lambda's reserved ones). It speaks JSON lines:
requests on ``REQ_FD`` (``{"type": "invoke", ...}``), replies on ``RESP_FD`` (``ready`` once after the
init phase, then one ``result`` per invocation). The function's own stdout / stderr are its logs; the
runner reads them and marks the end of each invocation by the ``END RequestId: ...`` line, as Lambda's
log stream does.

Only the standard library is imported at module level: the function's code directory goes first on
``sys.path`` before anything of the function (or boto3) is imported, as in Lambda's Python runtime
(``/var/task`` first, then ``/opt/python`` for layers, then the runtime's own packages).
"""

from __future__ import annotations

import decimal
import importlib
import json
import os
import sys
import threading
import time
import traceback
from typing import Any

#: Header naming the calling function on every AWS request it makes; the sandbox's fault injector
#: and request counts key on it.
CALLER_HEADER = "x-sandbox-function"


class LambdaContext:
    """The context object of Lambda's Python runtime
    (https://docs.aws.amazon.com/lambda/latest/dg/python-context.html)."""

    def __init__(self, request_id: str, invoked_function_arn: str, deadline_ms: float) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def __repr__(self) -> str:
        return (
            f"LambdaContext(function_name={self.function_name!r}, aws_request_id={self.aws_request_id!r}, "
            f"invoked_function_arn={self.invoked_function_arn!r})"
        )


def _error(exc: BaseException, request_id: str | None = None) -> dict[str, Any]:
    """An error object shaped like the one Lambda's Python runtime returns for an unhandled exception."""
    error: dict[str, Any] = {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        # Only the function's frames, as Lambda's runtime reports them.
        "stackTrace": traceback.format_list(
            [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename != __file__]
        ),
    }
    if request_id is not None:
        error["requestId"] = request_id
    return error


def _log_error(error: dict[str, Any], exc: BaseException) -> None:
    # Lambda's runtime logs "[ERROR] Type: message" followed by the traceback.
    print(f"[ERROR] {error['errorType']}: {error['errorMessage']}", file=sys.stderr)
    traceback.print_exception(exc, file=sys.stderr)


def _json_default(value: Any) -> Any:
    # Lambda's Python runtime serialises Decimal (what boto3's DynamoDB resource returns) as a number.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _install_caller_header(function_name: str) -> None:
    """Add ``x-sandbox-function: <name>`` to every request of every botocore client of this process.

    Hooked on ``Session.create_client`` so clients of any session (boto3's default session, a
    ``boto3.session.Session()`` that Powertools creates, plain botocore) carry it.
    """
    import botocore.session

    def add_header(request: Any, **_: Any) -> None:
        request.headers[CALLER_HEADER] = function_name

    original = botocore.session.Session.create_client
    if getattr(original, "_sandbox_wrapped", False):
        return

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register_first("before-sign", add_header, unique_id="sandbox-caller-header")
        return client

    create_client._sandbox_wrapped = True  # type: ignore[attr-defined]
    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]


def _limit_memory(memory_mb: int) -> None:
    """Best effort: cap the address space at the function's memory plus headroom for the interpreter's
    virtual mappings (address space is not resident memory, so an exact cap would break imports)."""
    try:
        import resource

        limit = (memory_mb + int(os.environ.get("_SANDBOX_MEMORY_HEADROOM_MB", "1024"))) * 1024 * 1024
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass


def _watch_parent(parent_pid: int) -> None:
    """Exit when the sandbox server goes away (even while a handler runs), like a frozen environment."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _load_handler(spec: str) -> Any:
    """Import ``package.module.function`` the way Lambda's runtime does, with its error types."""
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        raise _RuntimeError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)",
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise _RuntimeError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    except SyntaxError as exc:
        raise _RuntimeError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        ) from exc
    handler = getattr(module, function_name, None)
    if handler is None:
        raise _RuntimeError(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        )
    return handler


class _RuntimeError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _init() -> tuple[Any, dict[str, Any] | None]:
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    layer_paths = [p for p in os.environ.get("_SANDBOX_LAYER_PATHS", "").split(os.pathsep) if p]
    sys.path[:0] = [task_root, *layer_paths]
    os.chdir(task_root)
    _install_caller_header(os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""))
    try:
        return _load_handler(os.environ.get("_HANDLER", "")), None
    except _RuntimeError as exc:
        error = {"errorMessage": str(exc), "errorType": exc.error_type, "stackTrace": []}
        print(f"[ERROR] {exc.error_type}: {exc}", file=sys.stderr)
        return None, error
    except Exception as exc:  # the module raised while being imported
        error = _error(exc)
        _log_error(error, exc)
        return None, error


def _invoke(handler: Any, request: dict[str, Any]) -> dict[str, Any]:
    request_id = request["request_id"]
    context = LambdaContext(request_id, request["invoked_function_arn"], request["deadline_ms"])
    try:
        event = json.loads(request["event"])
        result = handler(event, context)
    except Exception as exc:
        error = _error(exc, request_id)
        _log_error(error, exc)
        return {"error": error}
    try:
        payload = json.dumps(result, default=_json_default)
    except (TypeError, ValueError) as exc:
        message = f"Unable to marshal response: {exc}"
        print(f"[ERROR] Runtime.MarshalError: {message}", file=sys.stderr)
        return {
            "error": {
                "errorMessage": message,
                "errorType": "Runtime.MarshalError",
                "requestId": request_id,
                "stackTrace": [],
            }
        }
    return {"payload": payload}


def _max_rss_mb() -> int:
    """Peak resident memory of this process (``VmHWM``; ``ru_maxrss`` would include the forking parent)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def main(argv: list[str]) -> int:
    requests = os.fdopen(int(argv[1]), "r", encoding="utf-8")
    replies = os.fdopen(int(argv[2]), "w", encoding="utf-8")
    _watch_parent(os.getppid())
    _limit_memory(int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")))

    def reply(message: dict[str, Any]) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    started = time.perf_counter()
    handler, init_error = _init()
    reply({"type": "ready", "init_ms": (time.perf_counter() - started) * 1000, "init_error": init_error})
    if init_error is not None:
        return 1
    for line in requests:
        request = json.loads(line)
        if request.get("type") != "invoke":
            continue
        request_id = request["request_id"]
        print(
            f"START RequestId: {request_id} Version: {os.environ.get('AWS_LAMBDA_FUNCTION_VERSION')}",
            flush=True,
        )
        outcome = _invoke(handler, request)
        sys.stderr.flush()
        print(f"END RequestId: {request_id}", flush=True)
        reply({"type": "result", "request_id": request_id, "max_rss_mb": _max_rss_mb(), **outcome})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
