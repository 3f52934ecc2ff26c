"""The client side of the sandbox: start the server process, talk to it, inspect what happened."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._state import DEFAULT_ACCOUNT, DEFAULT_REGION

__all__ = ["Sandbox", "SandboxError"]

#: Dummy credentials: the sandbox accepts any; real-looking values keep SDKs and the CDK CLI happy.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIASANDBOXTESTING01", "AWS_SECRET_ACCESS_KEY": "sandbox-secret"}


class SandboxError(RuntimeError):
    """The sandbox could not do what was asked (start, deploy, a control call)."""


class Sandbox:
    """A running local sandbox: moto's server plus the Lambda runner, SQS pollers, SNS delivery and SES
    event publishing that moto lacks, in a child process listening on loopback.

    Use as a context manager (or call :meth:`start` / :meth:`stop`)::

        with Sandbox() as sandbox:
            sqs = sandbox.client("sqs")
    """

    def __init__(
        self,
        *,
        port: int = 0,
        region: str = DEFAULT_REGION,
        ses_max_send_rate: float | None = None,
        log_file: str | os.PathLike[str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.port = port
        self.region = region
        self.account = DEFAULT_ACCOUNT
        self._ses_max_send_rate = ses_max_send_rate
        self._log_path = Path(log_file) if log_file else None
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[str] | None = None
        self._log_handle: Any = None
        self.endpoint_url = ""

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> Sandbox:
        if self._process is not None:
            return self
        cmd = [sys.executable, "-m", "notification_constructs.testing", "serve", "--port", str(self.port)]
        if self._ses_max_send_rate is not None:
            cmd += ["--ses-max-send-rate", str(self._ses_max_send_rate)]
        env = {**os.environ, **DUMMY_CREDENTIALS, "AWS_DEFAULT_REGION": self.region, "PYTHONUNBUFFERED": "1"}
        env.pop("AWS_ENDPOINT_URL", None)
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_handle = self._log_path.open("a", encoding="utf-8")
        stderr = self._log_handle if self._log_handle is not None else subprocess.DEVNULL
        self._process = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, start_new_session=True
        )
        lines: queue.Queue[str] = queue.Queue()
        assert self._process.stdout is not None
        stdout = self._process.stdout

        def _pump() -> None:
            for line in stdout:
                lines.put(line)
                if self._log_handle is not None:
                    self._log_handle.write(line)
                    self._log_handle.flush()

        threading.Thread(target=_pump, daemon=True).start()
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SandboxError(
                    f"the sandbox server exited with code {self._process.returncode} while starting"
                    + (f"; see {self._log_path}" if self._log_path else "; pass log_file= to see why")
                )
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line.startswith("SANDBOX_READY "):
                self.endpoint_url = line.split()[1]
                self.port = int(self.endpoint_url.rsplit(":", 1)[1])
                return self
        self.stop()
        raise SandboxError(f"the sandbox server did not start within {self._startup_timeout:.0f} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- AWS access --------------------------------------------------------------------------------------
    @property
    def environment(self) -> dict[str, str]:
        """Environment variables that point an AWS SDK or the CDK CLI at this sandbox."""
        self._require_running()
        return {
            **DUMMY_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "CDK_DEFAULT_ACCOUNT": self.account,
            "CDK_DEFAULT_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for ``service`` in this sandbox."""
        import boto3

        self._require_running()
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            **kwargs,
        )

    # -- control API -------------------------------------------------------------------------------------
    def control(self, method: str, route: str, body: Any = None, query: Mapping[str, str] | None = None) -> Any:
        """Call the sandbox's own JSON API (``/_sandbox/<route>``)."""
        from urllib.parse import urlencode

        self._require_running()
        url = f"{self.endpoint_url}/_sandbox/{route}"
        if query:
            url += "?" + urlencode(dict(query))
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise SandboxError(f"{method} /_sandbox/{route}: HTTP {exc.code}: {detail}") from exc

    def _require_running(self) -> None:
        if not self.running or not self.endpoint_url:
            raise SandboxError("the sandbox is not running: call start() or use it as a context manager")
