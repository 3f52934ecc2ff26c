"""The shipment scenario of the example stack: updates reaching SMS, e-mail and a partner webhook per each
customer's choice, once, in order, never to a suppressed address.

It needs AWS clients and the example stack's outputs (``ShipmentEventsTopicArn``,
``ShipmentStateTableName``, ``PartnerWebhookUrl``, ...). The partner webhook is served here: a
:class:`PartnerWebhookReceiver` on the loopback address and port of ``PartnerWebhookUrl`` (HTTPS with a
self-signed certificate the sandbox is told to trust) records what SNS POSTs and confirms the
subscription when it receives the ``SubscriptionConfirmation`` (start it before the deploy to get it:
``make demo`` does). On the sandbox it also reads the outbox (SMS and the rendered e-mails); the state
table and the DLQ are read with plain clients. It is written for the sandbox: SNS in an account cannot
reach a loopback endpoint, so there the webhook checks fail.

Steps (order ids labelled with the run id, so runs never collide):

1. ``shipped`` for Ann (sms + email + webhook, the partner's), for Ben (email only, although his number is
   known), ``delivered`` for Cai (sms + email + webhook), ``shipped`` for Dee (sms + email, to the SES
   simulator's bounce address), an update of another partner (webhook only) and a malformed event;
2. once those are handled and Dee's bounce suppressed her address: Ann's update again (a duplicate),
   ``shipped`` for Cai (out of order: after ``delivered``) and ``out_for_delivery`` for Dee.

Expected: Ann one SMS with the tracking link, one e-mail from the shipment template and one webhook POST
(a signed SNS notification with the shipment facts, no contact data); Ben one e-mail and no SMS; Cai the
``delivered`` update only (the late ``shipped`` sends nothing); Dee two SMS and one e-mail (none once
suppressed); the other partner's update not POSTed to this webhook; the malformed event in the shipment
DLQ with its reason, nothing else of the run there.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import ssl
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lambda_handlers.contracts import SHIPMENT_STATUS_TEXT, SHIPMENT_UPDATED_EVENT_TYPE

from ._inspect import peek_messages, scan_table
from .events import simulator_address
from .scenario import Check, ScenarioTarget, _mask, _mask_number, render_checks

__all__ = [
    "REQUIRED_SHIPMENT_OUTPUTS",
    "PartnerWebhookError",
    "PartnerWebhookReceiver",
    "ShipmentScenarioReport",
    "ShipmentUpdatesScenario",
    "shipment_updated",
]

REQUIRED_SHIPMENT_OUTPUTS = (
    "ShipmentEventsTopicArn",
    "ShipmentStateTableName",
    "ShipmentDeadLetterQueueUrl",
    "ShipmentTemplateName",
    "PartnerWebhooksTopicArn",
    "PartnerWebhookUrl",
    "PartnerId",
    "SuppressionTableName",
    "ConfigurationSetName",
)
#: What the malformed event (status "lost") is dead-lettered with.
MALFORMED_REASON = "status: must be one of shipped, out_for_delivery, delivered, exception"
#: Fields of the partners' message (README "Shipment updates": the shipment facts only).
PARTNER_FIELDS = ("order_id", "status", "occurred_at", "carrier", "tracking_url", "partner")


def shipment_updated(
    order_id: str,
    status: str,
    *,
    channels: Sequence[str],
    name: str = "Jane Doe",
    email: str | None = None,
    phone_number: str | None = None,
    partner: str | None = None,
    carrier: str = "DHL",
    occurred_at: datetime | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A ``shipment.updated`` v1 event (README "Shipment updates"); the tracking link is made from the order
    id. Keyword ``overrides`` replace top-level fields (to build invalid events on purpose)."""
    customer = {"name": name, "email": email, "phone_number": phone_number}
    event: dict[str, Any] = {
        "schema_version": "1.0",
        "event_type": SHIPMENT_UPDATED_EVENT_TYPE,
        "order_id": order_id,
        "status": status,
        "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "carrier": carrier,
        "tracking_url": f"https://tracking.example.com/t/{order_id}",
        "customer": {k: v for k, v in customer.items() if v is not None},
        "channels": list(channels),
    }
    if partner is not None:
        event["partner"] = partner
    event.update(overrides)
    return event


# ================================================================================================
# The partner's endpoint
# ================================================================================================
@dataclass(frozen=True)
class WebhookRequest:
    path: str
    headers: dict[str, str]
    body: str
    at: float

    @property
    def message_type(self) -> str:
        return self.headers.get("x-amz-sns-message-type", "")

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


def _self_signed_certificate(host: str) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for ``host`` (an IP address or a name), valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shipment scenario partner webhook")])
    try:
        alternative: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alternative = x509.DNSName(host)
    now = datetime.now(UTC)
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([alternative]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


class PartnerWebhookError(RuntimeError):
    """The partner webhook receiver cannot listen (its port is taken)."""


class PartnerWebhookReceiver:
    """A partner's webhook on loopback: serves ``url`` (``https://127.0.0.1:<port>/<path>``, TLS with its
    own self-signed certificate, :attr:`certificate_pem`), answers 200 to POSTs on its path and records
    them (:meth:`requests`); anything else gets 404. Use as a context manager."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "https" or not parts.hostname or parts.port is None:
            raise ValueError(f"{url!r}: an https:// URL with a host and a port")
        if parts.hostname != "localhost" and not ipaddress.ip_address(parts.hostname).is_loopback:
            raise ValueError(f"{url!r}: the receiver listens on loopback only")
        self.url = url
        self.host, self.port, self.path = parts.hostname, parts.port, parts.path or "/"
        certificate, key = _self_signed_certificate(self.host)
        self.certificate_pem = certificate.decode()
        self._key_pem = key
        self._requests: list[WebhookRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> PartnerWebhookReceiver:
        if self._server is not None:
            return self
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                if urllib.parse.urlsplit(self.path).path != receiver.path:
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver._record(
                    WebhookRequest(
                        path=self.path,
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=body,
                        at=time.time(),
                    )
                )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the scenario reports what arrived

        try:
            server = ThreadingHTTPServer((self.host, self.port), Handler)
        except OSError as exc:
            raise PartnerWebhookError(
                f"the partner webhook receiver cannot listen on {self.host}:{self.port} ({exc.strerror}); "
                "free the port or deploy with another -c partner_webhook_url"
            ) from exc
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as directory:  # load_cert_chain reads files only
            cert_file, key_file = Path(directory, "cert.pem"), Path(directory, "key.pem")
            cert_file.write_text(self.certificate_pem, encoding="ascii")
            key_file.write_bytes(self._key_pem)
            context.load_cert_chain(cert_file, key_file)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True, name="partner-webhook").start()
        self._server = server
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> PartnerWebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, request: WebhookRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def requests(self, message_type: str | None = None) -> list[WebhookRequest]:
        with self._lock:
            return [r for r in self._requests if message_type is None or r.message_type == message_type]


# ================================================================================================
# The report
# ================================================================================================
@dataclass
class ShipmentScenarioReport:
    run_id: str
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sms: list[dict[str, Any]] = field(default_factory=list)
    emails: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    confirmation: str = ""
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    dead_letters: list[dict[str, str]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def render(self) -> str:
        """A readable summary (what ``make demo`` prints)."""
        lines = [
            f"Shipment scenario {self.run_id} - {'PASSED' if self.ok else 'FAILED'} in {self.seconds:.1f} s",
            "",
            "Customers (channels chosen):",
        ]
        lines += [
            f"  {c['label']}: {c['order_id']}  {', '.join(c['channels'])}" for c in self.customers.values()
        ]
        lines.append(f"SMS sent ({len(self.sms)}):")
        lines += [f"  to {_mask_number(s.get('phone_number', ''))}: {s.get('message')}" for s in self.sms]
        lines.append(f"E-mails sent ({len(self.emails)}):")
        for email in self.emails:
            to = ", ".join(_mask(a) for a in email.get("to", []))
            lines.append(f"  to {to}: {email.get('subject')} (template {email.get('template')})")
        lines.append(f"Partner webhook POSTs ({len(self.webhooks)}): {self.confirmation}")
        lines += [
            f"  {w.get('order_id')} {w.get('status')} (partner {w.get('partner')}, {w.get('type')})"
            for w in self.webhooks
        ]
        lines.append("Order states:")
        lines += [
            f"  {order_id}: {state.get('status', '-')}, done {', '.join(sorted(state.get('done', [])))}"
            for order_id, state in sorted(self.states.items())
        ]
        lines.append(f"DLQ shipments ({len(self.dead_letters)}):")
        lines += [f"  {m['reason']}" for m in self.dead_letters]
        lines += render_checks(self.checks)
        return "\n".join(lines)


# ================================================================================================
# The scenario
# ================================================================================================
class ShipmentUpdatesScenario:
    """Run with :meth:`run`; ``outputs`` are the example stack's outputs. ``receiver`` is an already
    started :class:`PartnerWebhookReceiver` for ``PartnerWebhookUrl`` (started before the deploy, it got
    the ``SubscriptionConfirmation``); by default the scenario starts one for the run."""

    def __init__(
        self,
        target: ScenarioTarget,
        outputs: Mapping[str, str],
        *,
        receiver: PartnerWebhookReceiver | None = None,
        run_id: str | None = None,
        timeout: float = 120.0,
        settle: float = 2.0,
        progress: Callable[[str], None] = lambda _: None,
    ) -> None:
        missing = [k for k in REQUIRED_SHIPMENT_OUTPUTS if outputs.get(k) in (None, "", "-")]
        if missing:
            raise ValueError(
                f"stack outputs missing: {', '.join(missing)} (deploy examples/app.py with a partner webhook)"
            )
        self.target = target
        self.outputs = dict(outputs)
        self.webhook_url = self.outputs["PartnerWebhookUrl"]
        if receiver is not None and receiver.url != self.webhook_url:
            raise ValueError(f"the receiver serves {receiver.url}, the stack posts to {self.webhook_url}")
        self.receiver = receiver
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.timeout = timeout
        self.settle = settle
        self.progress = progress
        self.partner = self.outputs["PartnerId"]
        self.sns = target.client("sns")
        self.sqs = target.client("sqs")
        self.dynamodb = target.client("dynamodb")
        self._outbox_after = 0

    # -- the run -----------------------------------------------------------------------------------------
    def run(self) -> ShipmentScenarioReport:
        started = time.monotonic()
        report = ShipmentScenarioReport(run_id=self.run_id)
        self._outbox_after = max((e.get("seq", 0) for e in self._outbox(None)), default=0)
        try:
            with self._receiver() as receiver:
                self._run(report, receiver)
        finally:
            report.seconds = time.monotonic() - started
        return report

    @contextlib.contextmanager
    def _receiver(self) -> Iterator[PartnerWebhookReceiver]:
        if self.receiver is not None:
            self._trust(self.receiver)
            yield self.receiver
            return
        with PartnerWebhookReceiver(self.webhook_url) as receiver:
            self._trust(receiver)
            yield receiver

    def _trust(self, receiver: PartnerWebhookReceiver) -> None:
        trust = getattr(self.target, "trust_certificate", None)
        if callable(trust):
            trust(receiver.certificate_pem)

    def _run(self, report: ShipmentScenarioReport, receiver: PartnerWebhookReceiver) -> None:
        rid = self.run_id
        report.confirmation = self._confirm(receiver)
        customers = {
            "ann": {"phone_number": "+15555550111", "email": simulator_address("success", f"ship-{rid}-ann")},
            "ben": {"phone_number": "+15555550122", "email": simulator_address("success", f"ship-{rid}-ben")},
            "cai": {"phone_number": "+15555550133", "email": simulator_address("success", f"ship-{rid}-cai")},
            "dee": {"phone_number": "+15555550144", "email": simulator_address("bounce", f"ship-{rid}-dee")},
        }
        channels = {
            "ann": ("sms", "email", "webhook"),
            "ben": ("email",),
            "cai": ("sms", "email", "webhook"),
            "dee": ("sms", "email"),
        }
        for label, contact in customers.items():
            report.customers[label] = {
                "label": label.capitalize(),
                "order_id": f"shp-{rid}-{label}",
                "channels": channels[label],
                **contact,
            }

        def event(label: str, status: str, **extra: Any) -> dict[str, Any]:
            customer = report.customers[label]
            return shipment_updated(
                customer["order_id"],
                status,
                channels=customer["channels"],
                name=f"Demo {customer['label']}",
                email=customer["email"],
                phone_number=customer["phone_number"],
                partner=self.partner,
                **extra,
            )

        earlier = datetime.now(UTC) - timedelta(hours=2)
        ann_shipped = event("ann", "shipped")
        other_partner = shipment_updated(
            f"shp-{rid}-other", "shipped", channels=("webhook",), partner=f"{self.partner}-other"
        )
        malformed = shipment_updated(f"shp-{rid}-malformed", "lost", channels=("webhook",))
        self.progress(
            "1/3 shipped for Ann (sms, email, webhook) and Ben (email only), delivered for Cai, shipped for "
            "Dee (a bouncing address), another partner's update and a malformed event"
        )
        for message in (
            ann_shipped,
            event("ben", "shipped"),
            event("cai", "delivered"),
            event("dee", "shipped"),
            other_partner,
            malformed,
        ):
            self._publish(message)
        dee = report.customers["dee"]
        self._wait_for(
            "the updates delivered, Dee's bounce suppressed and the malformed event dead-lettered",
            lambda: (
                self._done(f"shp-{rid}-ann") >= {"shipped#sms", "shipped#email", "shipped#webhook"}
                and self._done(f"shp-{rid}-ben") >= {"shipped#email"}
                and self._done(f"shp-{rid}-cai") >= {"delivered#sms", "delivered#email", "delivered#webhook"}
                and self._done(f"shp-{rid}-other") >= {"shipped#webhook"}
                and self._suppressed(dee["email"])
                and bool(self._dead_letters())
                and len(self._posts(receiver)) >= 2
            ),
        )

        self.progress(
            "2/3 Ann's update again (a duplicate), shipped for Cai after delivered (out of order), "
            "out_for_delivery for Dee (now suppressed)"
        )
        for message in (
            ann_shipped,
            event("cai", "shipped", occurred_at=earlier),
            event("dee", "out_for_delivery"),
        ):
            self._publish(message)
        self._wait_for(
            "Dee's out_for_delivery handled",
            lambda: self._done(dee["order_id"]) >= {"out_for_delivery#sms", "out_for_delivery#email"},
        )
        self.progress("3/3 letting the duplicate and the late update settle")
        self._settle()  # a second SMS, e-mail or POST would show up now

        numbers = {c["phone_number"] for c in report.customers.values()}
        addresses = {c["email"].lower() for c in report.customers.values()}
        report.sms = [
            e
            for e in self._outbox("sms")
            if e.get("phone_number") in numbers and rid in str(e.get("message"))
        ]
        report.emails = [
            e for e in self._outbox("email") if any(str(a).lower() in addresses for a in e.get("to", []))
        ]
        contacts = numbers | addresses
        report.webhooks = [self._webhook_summary(r, contacts) for r in self._posts(receiver)]
        report.states = {
            str(item["order_id"]): item
            for item in scan_table(self.dynamodb, self.outputs["ShipmentStateTableName"])
            if str(item.get("order_id", "")).startswith(f"shp-{rid}-")
        }
        report.dead_letters = self._dead_letters()
        report.checks = self._checks(report)

    # -- expectations ------------------------------------------------------------------------------------
    def _checks(self, report: ShipmentScenarioReport) -> list[Check]:
        checks: list[Check] = []
        rid = self.run_id

        def check(name: str, passed: bool, detail: str = "") -> None:
            checks.append(Check(name, passed, "" if passed else detail))

        customers = report.customers
        ann, cai, dee = customers["ann"], customers["cai"], customers["dee"]
        if self._has_outbox():
            sms = {
                label: [s for s in report.sms if s.get("phone_number") == c["phone_number"]]
                for label, c in customers.items()
            }
            mails = {
                label: [
                    e for e in report.emails if c["email"].lower() in (a.lower() for a in e.get("to", []))
                ]
                for label, c in customers.items()
            }
            tracking = f"https://tracking.example.com/t/{ann['order_id']}"
            check(
                "Ann (sms, email, webhook): one SMS with the tracking link",
                [s.get("message") for s in sms["ann"]]
                == [
                    f"Your order {ann['order_id']} {SHIPMENT_STATUS_TEXT['shipped']} (DHL). Track it: {tracking}"
                ]
                and sms["ann"][0].get("sms_type") == "Transactional",
                f"SMS to Ann: {[s.get('message') for s in sms['ann']]}",
            )
            [mail] = mails["ann"] if len(mails["ann"]) == 1 else [{}]
            check(
                "Ann: one e-mail from the shipment template, with the example's configuration set",
                len(mails["ann"]) == 1
                and mail.get("template") == self.outputs["ShipmentTemplateName"]
                and mail.get("subject") == f"Your order {ann['order_id']} {SHIPMENT_STATUS_TEXT['shipped']}"
                and tracking in str(mail.get("text"))
                and tracking in str(mail.get("html"))
                and mail.get("configuration_set") == self.outputs["ConfigurationSetName"]
                and mail.get("tags", {}).get("shipment_status") == "shipped",
                f"{len(mails['ann'])} e-mail(s) to Ann: {[(m.get('template'), m.get('subject')) for m in mails['ann']]}",
            )
            check(
                "Ben (email only): one e-mail and no SMS, although his number is known",
                len(mails["ben"]) == 1 and not sms["ben"],
                f"{len(mails['ben'])} e-mail(s), {len(sms['ben'])} SMS",
            )
            check(
                "Cai: the late shipped (after delivered) sends nothing: one SMS and one e-mail, both 'delivered'",
                [s.get("message", "").split(" (")[0] for s in sms["cai"]]
                == [f"Your order {cai['order_id']} {SHIPMENT_STATUS_TEXT['delivered']}"]
                and [m.get("tags", {}).get("shipment_status") for m in mails["cai"]] == ["delivered"],
                f"SMS {[s.get('message') for s in sms['cai']]}, e-mails {[m.get('subject') for m in mails['cai']]}",
            )
            check(
                "the duplicate of Ann's update sends nothing again (one SMS, one e-mail, one POST)",
                len(sms["ann"]) == 1
                and len(mails["ann"]) == 1
                and sum(1 for w in report.webhooks if w.get("order_id") == ann["order_id"]) == 1,
                f"{len(sms['ann'])} SMS, {len(mails['ann'])} e-mail(s), "
                f"{sum(1 for w in report.webhooks if w.get('order_id') == ann['order_id'])} POST(s)",
            )
            dee_statuses = [m.get("tags", {}).get("shipment_status") for m in mails["dee"]]
            check(
                "Dee: once her address bounced and is suppressed, no e-mail - the SMS still goes",
                dee_statuses == ["shipped"] and len(sms["dee"]) == 2 and self._suppressed(dee["email"]),
                f"e-mails {dee_statuses}, {len(sms['dee'])} SMS, suppressed {self._suppressed(dee['email'])}",
            )
        posted = Counter((w.get("order_id"), w.get("status")) for w in report.webhooks)
        expected = Counter({(ann["order_id"], "shipped"): 1, (cai["order_id"], "delivered"): 1})
        check(
            f"the partner webhook got Ann's and Cai's updates, once each (partner {self.partner})",
            posted == expected,
            f"POSTed {dict(posted)}",
        )
        bad = [w for w in report.webhooks if w.get("problems")]
        check(
            "each POST is SNS's signed notification from the partner topic with the shipment facts only",
            bool(report.webhooks) and not bad,
            "; ".join(f"{w.get('order_id')}: {', '.join(w['problems'])}" for w in bad) or "no POST",
        )
        other = report.states.get(f"shp-{rid}-other", {})
        check(
            "another partner's update reaches the partner topic, not this webhook (filter on partner)",
            "shipped#webhook" in other.get("done", set()) and (f"shp-{rid}-other", "shipped") not in posted,
            f"done {sorted(other.get('done', []))}, POSTed {dict(posted)}",
        )
        check(
            "the webhook subscription is confirmed",
            self._subscription_confirmed(),
            f"{report.confirmation}; subscription of {self.webhook_url} not confirmed",
        )
        check(
            "the order states: Ann shipped, Ben shipped, Cai delivered, Dee out_for_delivery",
            {k: report.states.get(c["order_id"], {}).get("status") for k, c in customers.items()}
            == {"ann": "shipped", "ben": "shipped", "cai": "delivered", "dee": "out_for_delivery"},
            f"states {[(c['order_id'], report.states.get(c['order_id'], {}).get('status')) for c in customers.values()]}",
        )
        reasons = [m["reason"] for m in report.dead_letters]
        check(
            "the malformed event is in the shipment DLQ with its reason, nothing else of the run",
            reasons == [MALFORMED_REASON],
            f"DLQ reasons {reasons}",
        )
        return checks

    def _webhook_summary(self, request: WebhookRequest, contacts: set[str]) -> dict[str, Any]:
        """What a partner POST carried, with the ``problems`` found verifying it: SNS's notification
        (headers and envelope) from the partner topic, signed, the shipment facts only."""
        envelope = request.json()
        try:
            message = json.loads(str(envelope.get("Message")))
        except ValueError:
            message = {}
        message = message if isinstance(message, dict) else {}
        problems: list[str] = []
        topic = self.outputs["PartnerWebhooksTopicArn"]
        if (
            envelope.get("Type") != "Notification"
            or request.headers.get("x-amz-sns-message-type") != "Notification"
        ):
            problems.append("not a Notification")
        if envelope.get("TopicArn") != topic or request.headers.get("x-amz-sns-topic-arn") != topic:
            problems.append("not from the partner topic")
        if envelope.get("SignatureVersion") != "1" or not envelope.get("Signature"):
            problems.append("not signed")
        cert_url = urllib.parse.urlsplit(str(envelope.get("SigningCertURL", "")))
        if cert_url.scheme != "https" or not str(cert_url.hostname).endswith(".amazonaws.com"):
            problems.append("SigningCertURL not SNS's")
        if sorted(k for k in message if k not in ("schema_version", "event_type")) != sorted(PARTNER_FIELDS):
            problems.append(f"fields {sorted(message)}")
        if "customer" in message or any(contact in str(message).lower() for contact in contacts):
            problems.append("contact data in the message")
        return {
            "type": envelope.get("Type"),
            "order_id": message.get("order_id"),
            "status": message.get("status"),
            "partner": message.get("partner"),
            "problems": problems,
        }

    # -- the partner subscription ------------------------------------------------------------------------
    def _confirm(self, receiver: PartnerWebhookReceiver) -> str:
        """Confirm the subscription as a partner does with the ``SubscriptionConfirmation`` it got (its
        ``Token``); a subscription created before the receiver listened never reached it."""
        confirmations = [
            r.json()
            for r in receiver.requests("SubscriptionConfirmation")
            if r.json().get("TopicArn") == self.outputs["PartnerWebhooksTopicArn"]
        ]
        for confirmation in confirmations:
            self.sns.confirm_subscription(TopicArn=confirmation["TopicArn"], Token=confirmation["Token"])
        if confirmations:
            return "SubscriptionConfirmation received and confirmed"
        return "subscribed before the receiver listened (no SubscriptionConfirmation received)"

    def _subscription_confirmed(self) -> bool:
        paginator = self.sns.get_paginator("list_subscriptions_by_topic")
        for page in paginator.paginate(TopicArn=self.outputs["PartnerWebhooksTopicArn"]):
            for subscription in page.get("Subscriptions", []):
                if subscription.get("Endpoint") == self.webhook_url:
                    return str(subscription.get("SubscriptionArn", "")).startswith("arn:")
        return False

    # -- AWS -----------------------------------------------------------------------------------------------
    def _publish(self, event: Mapping[str, Any]) -> None:
        self.sns.publish(
            TopicArn=self.outputs["ShipmentEventsTopicArn"],
            Message=json.dumps(event),
            MessageAttributes={
                "event_type": {"DataType": "String", "StringValue": SHIPMENT_UPDATED_EVENT_TYPE}
            },
        )

    def _done(self, order_id: str) -> set[str]:
        response = self.dynamodb.get_item(
            TableName=self.outputs["ShipmentStateTableName"],
            Key={"order_id": {"S": order_id}},
            ConsistentRead=True,
        )
        return set(response.get("Item", {}).get("done", {}).get("SS", []))

    def _suppressed(self, address: str) -> bool:
        response = self.dynamodb.get_item(
            TableName=self.outputs["SuppressionTableName"],
            Key={"address": {"S": address.lower()}},
            ConsistentRead=True,
        )
        return "Item" in response

    def _dead_letters(self) -> list[dict[str, str]]:
        return [
            {
                "reason": m["reason"] or "(no reason: moved by the redrive policy)",
                "message_id": m["MessageId"],
            }
            for m in peek_messages(self.sqs, self.outputs["ShipmentDeadLetterQueueUrl"])
            if f"shp-{self.run_id}-" in m["Body"]
        ]

    def _settle(self) -> None:
        wait_idle = getattr(self.target, "wait_until_idle", None)
        if callable(wait_idle):
            wait_idle(timeout=self.timeout)
        time.sleep(self.settle)

    def _posts(self, receiver: PartnerWebhookReceiver) -> list[WebhookRequest]:
        return [r for r in receiver.requests("Notification") if f"shp-{self.run_id}-" in r.body]

    # -- sandbox extras (optional on the target) --------------------------------------------------------
    def _has_outbox(self) -> bool:
        return callable(getattr(self.target, "outbox", None))

    def _outbox(self, kind: str | None) -> list[dict[str, Any]]:
        """Outbox entries since the run started."""
        outbox = getattr(self.target, "outbox", None)
        entries = list(outbox(kind)) if callable(outbox) else []
        return [e for e in entries if e.get("seq", 0) > self._outbox_after]

    def _wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.5)
        self.progress(f"   timed out after {self.timeout:.0f} s waiting for {what}; reporting what happened")
