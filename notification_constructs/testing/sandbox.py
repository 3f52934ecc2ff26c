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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._inspect import peek_messages, scan_table
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
        self._bootstrapped = False
        self._outputs: dict[str, dict[str, str]] = {}

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> Sandbox:
        if self._process is not None:
            return self
        cmd = [sys.executable, "-m", "notification_constructs.testing", "serve", "--port", str(self.port)]
        if self._ses_max_send_rate is not None:
            cmd += ["--ses-max-send-rate", str(self._ses_max_send_rate)]
        if self._log_path is not None:
            # function logs beside the server log: <log dir>/lambda/<function name>.log
            cmd += ["--log-dir", str(self._log_path.parent)]
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
    def control(
        self, method: str, route: str, body: Any = None, query: Mapping[str, str] | None = None
    ) -> Any:
        """Call the sandbox's own JSON API (``/_sandbox/<route>``)."""
        from urllib.parse import urlencode

        self._require_running()
        url = f"{self.endpoint_url}/_sandbox/{route}"
        if query:
            url += "?" + urlencode(dict(query))
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise SandboxError(f"{method} /_sandbox/{route}: HTTP {exc.code}: {detail}") from exc

    # -- deploying ---------------------------------------------------------------------------------------
    def bootstrap(self) -> None:
        """``cdk bootstrap`` this sandbox's account and region (once; later calls return at once)."""
        if self._bootstrapped:
            return
        try:
            toolkit = self.client("cloudformation").describe_stacks(StackName="CDKToolkit")["Stacks"][0]
            self._bootstrapped = toolkit["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
        except Exception:  # no CDKToolkit stack yet (ValidationError)
            self._bootstrapped = False
        if not self._bootstrapped:
            self.cdk().bootstrap()
            self._bootstrapped = True

    def deploy(
        self,
        app: Any = None,
        stacks: str | list[str] | None = None,
        *,
        context: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Deploy with the real CDK CLI; returns the stack's outputs (of the first stack when several).

        ``app`` is an ``aws_cdk.App`` (synthesized here, in-process), a cloud-assembly directory, a command
        (``"python app.py"``) or ``None`` for the ``cdk.json`` app of the current directory.
        """
        self.bootstrap()
        names = [stacks] if isinstance(stacks, str) else list(stacks or [])
        if _is_cdk_app(app):
            app = app.synth().directory
        outputs = self.cdk().deploy(names, app=None if app is None else str(app), context=context)
        self._outputs.update(outputs)
        if not outputs:
            return {}
        return dict(outputs[names[0]] if names and names[0] in outputs else next(iter(outputs.values())))

    def destroy(self, app: Any = None, stacks: str | list[str] | None = None) -> None:
        names = [stacks] if isinstance(stacks, str) else list(stacks or [])
        if _is_cdk_app(app):
            app = app.synth().directory
        self.cdk().destroy(names, app=None if app is None else str(app))

    def cdk(self) -> Any:
        """The CDK CLI pointed at this sandbox (:class:`~notification_constructs.testing._cdk.CdkCli`)."""
        from ._cdk import CdkCli

        self._require_running()
        return CdkCli(self)

    def receive_email(
        self, raw: bytes, *, recipients: Sequence[str], message_id: str | None = None
    ) -> list[str]:
        """Deliver raw mail as SES receiving would: the S3 actions (and their topic notifications) of the
        matching rules of the active receipt rule set; returns the object keys written."""
        self._require_running()
        from ._inbound import deliver_to_active_rule_set

        return deliver_to_active_rule_set(self.client, raw, recipients=recipients, message_id=message_id)

    def stack_outputs(self, stack: str) -> dict[str, str]:
        """The outputs of a deployed stack, read from CloudFormation."""
        described = self.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}

    # -- what happened ----------------------------------------------------------------------------------
    def outbox(self, kind: str | None = None) -> list[dict[str, Any]]:
        """What left the sandbox: ``email`` (SES), ``sms``, ``sns-email``, ``push``, ``http`` entries."""
        entries = self.control("GET", "outbox", query={"kind": kind} if kind else None)
        return list(entries)

    def emails(self, to: str | None = None) -> list[dict[str, Any]]:
        """E-mails SES sent (rendered: ``subject``, ``text``, ``html``, ``to``, ``tags``...), optionally to one
        address (case-insensitive)."""
        emails = self.outbox("email")
        if to is None:
            return emails
        wanted = to.lower()
        return [e for e in emails if wanted in (a.lower() for a in e.get("to", []))]

    def table_items(self, table: str) -> list[dict[str, Any]]:
        """Every item of a DynamoDB table, as plain Python values."""
        return scan_table(self.client("dynamodb"), table)

    def queue_messages(self, queue_url: str) -> list[dict[str, Any]]:
        """The messages in a queue (e.g. a DLQ), left in place; ``"reason"`` = a handler's failure_reason."""
        return peek_messages(self.client("sqs"), queue_url)

    def clear_outbox(self) -> None:
        self.control("DELETE", "outbox")

    def wait_until_idle(self, timeout: float = 60.0, *, quiet_period: float = 0.5) -> None:
        """Block until nothing is in flight: every queue a function consumes is empty, no invocation runs or
        waits, no delivery is pending - for ``quiet_period`` seconds in a row. Raises on ``timeout``."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        last: Any = None
        while time.monotonic() < deadline:
            last = self.control("GET", "busy")
            if last["busy"] == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= quiet_period:
                    return
            else:
                quiet_since = None
            time.sleep(0.1)
        raise SandboxError(f"the sandbox was still busy after {timeout:.0f} s: {last}")

    def inject_fault(self, **rule: Any) -> dict[str, Any]:
        """Add a fault rule (see :class:`~notification_constructs.testing._faults.FaultRule`), e.g.
        ``inject_fault(service="sesv2", operation="SendEmail", error_code="TooManyRequestsException",
        status=429, probability=0.2)``. Returns the rule with its ``id`` and counters."""
        return dict(self.control("POST", "faults", rule))

    def faults(self) -> list[dict[str, Any]]:
        return list(self.control("GET", "faults"))

    def clear_faults(self) -> None:
        self.control("DELETE", "faults")

    def request_counts(self) -> list[dict[str, Any]]:
        """Every AWS request served so far, by ``service``, ``operation`` and ``caller`` (function name)."""
        return list(self.control("GET", "requests"))

    def trust_certificate(self, pem: str) -> None:
        """Let HTTPS deliveries (SNS to an ``https://`` loopback endpoint) trust ``pem``, a test server's
        own certificate, besides the system's CAs; SNS delivers only to endpoints whose certificate it
        trusts, and so does the sandbox."""
        self.control("POST", "trusted-certificates", {"pem": pem})

    def set_ses_max_send_rate(self, rate: float | None) -> None:
        """Throttle SES sends above ``rate`` e-mails per second, as SES does (``None``: no limit)."""
        self.control("PUT", "config", {"ses_max_send_rate": rate})

    def _require_running(self) -> None:
        if not self.running or not self.endpoint_url:
            raise SandboxError("the sandbox is not running: call start() or use it as a context manager")


def _is_cdk_app(app: Any) -> bool:
    return (
        app is not None and not isinstance(app, str | os.PathLike) and callable(getattr(app, "synth", None))
    )
