"""SES in the sandbox: sending, templates, the mailbox simulator, event publishing, the account suppression
list, the send-rate quota and the CloudFormation types of SES.

moto keeps identities, configuration sets and templates in its SES (v1) backend and its SESv2 backend reads
the same objects, so both APIs see one state. This module keeps what moto lacks (all event destinations of a
configuration set, the suppression list, VDM attributes, the rate bucket) on that same v1 backend object
(``backend.sandbox_ses``), and replaces moto's send operations (v1 SendEmail / SendTemplatedEmail /
SendRawEmail, SESv2 SendEmail) with one pipeline:

validate (identity, configuration set, sending paused, recipients) -> send-rate quota -> render (templates)
-> suppression list -> outbox -> event publishing (Send, then Delivery / Bounce / Complaint per recipient,
or Rendering Failure) to the configuration set's enabled SNS destinations, through moto's SNS backend
in-process, so SNS -> SQS / Lambda subscriptions fire.

What is not modelled: Open / Click / Subscription events (nobody opens sandbox mail), Reject (SES rejects
only mail with viruses), DeliveryDelay, the auto-response of ``ooto@simulator.amazonses.com`` (it is
delivered, nothing comes back), sandbox-mode recipient verification (the sandbox behaves like an account
with production access), EventBridge / CloudWatch destinations (stored, not published).

Kinesis Data Firehose destinations are published: each event record (JSON and a newline, as SES writes
it) goes to the delivery stream in moto's Firehose backend, and the sandbox delivers it to the stream's
(extended) S3 destination as Firehose would, one object per record (no buffering): the ``Prefix`` with its
``!{timestamp:...}`` / ``!{firehose:random-string}`` / ``!{partitionKeyFromQuery:...}`` expressions
evaluated (dynamic partitioning with a JQ ``MetadataExtraction`` processor: ``{key: .path, ...}`` queries
natively, anything else with a ``jq`` executable when one is on PATH), or ``Prefix`` + ``YYYY/MM/DD/HH/``
without expressions; records whose partition keys cannot be extracted go to ``ErrorOutputPrefix`` in
Firehose's error-record shape. The object is encrypted with the destination's KMS key when it names one.
"""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import json
import re
import secrets
import shutil
import string
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import getaddresses, parseaddr
from typing import Any

from ._state import SandboxState

COMPONENT = "ses"
SIMULATOR_DOMAIN = "simulator.amazonses.com"
RECIPIENT_LIMIT = 50

#: Event type spellings: CloudFormation / SES v1 (``renderingFailure``), SESv2 (``RENDERING_FAILURE``),
#: and the ``eventType`` of the published record (``Rendering Failure``). See
#: https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
EVENT_TYPES = {
    "SEND": "Send",
    "REJECT": "Reject",
    "BOUNCE": "Bounce",
    "COMPLAINT": "Complaint",
    "DELIVERY": "Delivery",
    "OPEN": "Open",
    "CLICK": "Click",
    "RENDERING_FAILURE": "Rendering Failure",
    "DELIVERY_DELAY": "DeliveryDelay",
    "SUBSCRIPTION": "Subscription",
}
_EVENT_ALIASES = {key.replace("_", "").lower(): key for key in EVENT_TYPES}

#: New accounts have the account-level suppression list on for bounces and complaints:
#: https://docs.aws.amazon.com/ses/latest/dg/sending-email-suppression-list.html
DEFAULT_ACCOUNT_SUPPRESSED_REASONS = ("BOUNCE", "COMPLAINT")
SUPPRESSION_DIAGNOSTIC = (
    "Amazon SES did not send the message to this address because it is on the suppression list for your "
    "account. For more information about removing addresses from the suppression list, see the Amazon SES "
    "Developer Guide at https://docs.aws.amazon.com/ses/latest/DeveloperGuide/sending-email-suppression-list.html"
)
#: Reported as MaxSendRate when no quota is set (the sandbox does not enforce it then); the usual starting
#: rate of an account with production access.
UNLIMITED_REPORTED_RATE = 14.0
MAX_24_HOUR_SEND = 50000.0


def canonical_event_type(name: str) -> str:
    """``bounce`` / ``BOUNCE`` / ``renderingFailure`` / ``RENDERING_FAILURE`` -> ``BOUNCE`` / ..."""
    key = _EVENT_ALIASES.get(str(name).replace("_", "").replace(" ", "").lower())
    if key is None:
        raise ValueError(f"unknown SES event type {name!r}; one of {sorted(EVENT_TYPES)}")
    return key


def _now_iso(at: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if at is None else at, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def new_message_id() -> str:
    """An SES-shaped message id: ``0100`` + 12 hex digits of epoch ms, a UUID, ``-000000``."""
    return f"0100{int(time.time() * 1000):012x}-{uuid.uuid4()}-000000"


# ================================================================================================
# Errors, in the wire shape of each API
# ================================================================================================
class SesApiError(Exception):
    """An error SES answers with; ``v1_code`` / ``v2_code`` are the codes of the two APIs."""

    def __init__(self, v2_code: str, v1_code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.v2_code = v2_code
        self.v1_code = v1_code
        self.message = message
        self.status = status


def _v1_exception(error: SesApiError) -> Exception:
    from moto.ses.exceptions import SesError

    exc = SesError(error.v1_code, error.message)
    return exc


def _v2_exception(error: SesApiError) -> Exception:
    from moto.core.exceptions import JsonRESTError

    exc = JsonRESTError(error.v2_code, error.message)
    exc.code = error.status
    return exc


def _not_found(message: str) -> Exception:
    return _v2_exception(SesApiError("NotFoundException", "NotFoundException", message, 404))


def _bad_request(message: str) -> Exception:
    return _v2_exception(SesApiError("BadRequestException", "InvalidParameterValue", message, 400))


# ================================================================================================
# State moto lacks, kept on moto's SES (v1) backend object
# ================================================================================================
@dataclass
class SesExtras:
    #: configuration set -> event destination name -> destination (SESv2 shape, canonical event types)
    event_destinations: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: lower-cased address -> {"EmailAddress", "Reason", "LastUpdateTime", "Attributes"}
    suppressed: dict[str, dict[str, Any]] = field(default_factory=dict)
    account_suppressed_reasons: list[str] = field(
        default_factory=lambda: list(DEFAULT_ACCOUNT_SUPPRESSED_REASONS)
    )
    vdm_attributes: dict[str, Any] = field(default_factory=dict)
    sent_last_24h: list[tuple[float, int]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)


def ses_backend(account_id: str, region: str) -> Any:
    from moto.ses.models import ses_backends

    return ses_backends[account_id][region]


def extras_of(backend: Any) -> SesExtras:
    extras = getattr(backend, "sandbox_ses", None)
    if extras is None:
        extras = SesExtras()
        backend.sandbox_ses = extras
    return extras


def normalize_event_destination(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """One event destination in the SESv2 shape from the CloudFormation, v1 or v2 spelling."""
    types = spec.get("MatchingEventTypes") or []
    if not types:
        raise ValueError("EventDestination.MatchingEventTypes: choose at least one event type")
    destination: dict[str, Any] = {
        "Name": name,
        "Enabled": _truthy(spec.get("Enabled", True)),
        "MatchingEventTypes": [canonical_event_type(t) for t in types],
    }
    sns = spec.get("SnsDestination") or spec.get("SNSDestination")
    if sns:
        topic = sns.get("TopicArn") or sns.get("TopicARN")
        if not topic:
            raise ValueError("EventDestination.SnsDestination.TopicARN is required")
        destination["SnsDestination"] = {"TopicArn": topic}
    firehose = spec.get("KinesisFirehoseDestination")
    if firehose:
        stream = firehose.get("DeliveryStreamArn") or firehose.get("DeliveryStreamARN")
        role = firehose.get("IamRoleArn") or firehose.get("IAMRoleARN")
        if not stream or not role:
            raise ValueError(
                "EventDestination.KinesisFirehoseDestination: DeliveryStreamARN and IAMRoleARN are required"
            )
        destination["KinesisFirehoseDestination"] = {"DeliveryStreamArn": stream, "IamRoleArn": role}
    for key in (
        "CloudWatchDestination",
        "EventBridgeDestination",
        "PinpointDestination",
    ):
        if spec.get(key):
            destination[key] = spec[key]
    return destination


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _config_set_sending_enabled(config_set: Any) -> bool:
    enabled = config_set.enabled
    if isinstance(enabled, dict):
        return _truthy(enabled.get("SendingEnabled", True))
    return True if enabled is None else _truthy(enabled)


# ================================================================================================
# Templates: the Handlebars subset SES supports
# ================================================================================================
class RenderingError(Exception):
    """The template cannot be rendered with this data (an SES Rendering Failure)."""


@dataclass
class _Node:
    kind: str  # "text" | "var" | "each" | "if" | "unless" | "with"
    value: str = ""
    children: list[_Node] = field(default_factory=list)
    inverse: list[_Node] = field(default_factory=list)


_TAG = re.compile(r"\{\{\{?\s*(.*?)\s*\}?\}\}", re.S)


def _parse_template(source: str) -> list[_Node]:
    root: list[_Node] = []
    stack: list[tuple[_Node | None, list[_Node]]] = [(None, root)]
    position = 0
    for match in _TAG.finditer(source):
        if match.start() > position:
            stack[-1][1].append(_Node("text", source[position : match.start()]))
        position = match.end()
        tag = match.group(1)
        if tag.startswith("!"):
            continue
        if tag.startswith("#"):
            name, _, arg = tag[1:].partition(" ")
            if name not in ("each", "if", "unless", "with"):
                raise RenderingError(f"Unsupported block helper '{name}'.")
            node = _Node(name, arg.strip())
            stack[-1][1].append(node)
            stack.append((node, node.children))
        elif tag == "else":
            block = stack[-1][0]
            if block is None:
                raise RenderingError("Template parsing failed: {{else}} outside a block.")
            stack[-1] = (block, block.inverse)
        elif tag.startswith("/"):
            block = stack[-1][0]
            if block is None or block.kind != tag[1:].strip():
                raise RenderingError(f"Template parsing failed: unexpected {{{{{tag}}}}}.")
            stack.pop()
        else:
            stack[-1][1].append(_Node("var", tag))
    if len(stack) > 1:
        block = stack[-1][0]
        assert block is not None
        raise RenderingError(f"Template parsing failed: {{{{#{block.kind}}}}} is not closed.")
    if position < len(source):
        root.append(_Node("text", source[position:]))
    return root


_MISSING = object()


def _lookup(path: str, contexts: list[Any], frame: Mapping[str, Any]) -> Any:
    if path in ("this", "."):
        return contexts[-1]
    if path.startswith("@"):
        return frame.get(path, _MISSING)
    depth = 1
    while path.startswith("../"):
        depth += 1
        path = path[3:]
    if path.startswith("this."):
        path = path[5:]
    context = contexts[-depth] if depth <= len(contexts) else _MISSING
    for part in path.split("."):
        if isinstance(context, Mapping) and part in context:
            context = context[part]
        elif isinstance(context, list) and part.isdigit() and int(part) < len(context):
            context = context[int(part)]
        else:
            return _MISSING
    return context


def _stringify(value: Any) -> str:
    # JavaScript's String(value): SES renders with Handlebars and does not HTML-escape template data.
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(_stringify(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _falsy(value: Any) -> bool:
    return value is _MISSING or value in (None, False, "", 0) or value == []


def _render_nodes(nodes: list[_Node], contexts: list[Any], frame: Mapping[str, Any]) -> str:
    out: list[str] = []
    for node in nodes:
        if node.kind == "text":
            out.append(node.value)
        elif node.kind == "var":
            value = _lookup(node.value, contexts, frame)
            if value is _MISSING:
                name = node.value.split(".")[-1]
                raise RenderingError(f"Attribute '{name}' is not present in the rendering data.")
            out.append(_stringify(value))
        elif node.kind in ("if", "unless"):
            value = _lookup(node.value, contexts, frame)
            truth = not _falsy(value)
            if node.kind == "unless":
                truth = not truth
            out.append(_render_nodes(node.children if truth else node.inverse, contexts, frame))
        elif node.kind == "with":
            value = _lookup(node.value, contexts, frame)
            if _falsy(value):
                out.append(_render_nodes(node.inverse, contexts, frame))
            else:
                out.append(_render_nodes(node.children, [*contexts, value], frame))
        elif node.kind == "each":
            value = _lookup(node.value, contexts, frame)
            items: list[tuple[Any, Any]]
            if isinstance(value, list):
                items = list(enumerate(value))
            elif isinstance(value, dict):
                items = list(value.items())
            else:
                items = []
            if not items:
                out.append(_render_nodes(node.inverse, contexts, frame))
            for position, (key, item) in enumerate(items):
                item_frame = {
                    **frame,
                    "@index": position,
                    "@key": key,
                    "@first": position == 0,
                    "@last": position == len(items) - 1,
                }
                out.append(_render_nodes(node.children, [*contexts, item], item_frame))
    return "".join(out)


def render_template(source: str, data: Any) -> str:
    """Render an SES template part (Handlebars: ``{{var}}``, ``{{a.b}}``, ``{{#each}}`` with ``{{this}}``
    / ``{{@index}}`` / ``../``, ``{{#if}}`` / ``{{#unless}}`` / ``{{#with}}`` with ``{{else}}``). A variable
    missing from the data raises :class:`RenderingError` with SES's message. Values are not HTML-escaped
    (as SES does not). https://docs.aws.amazon.com/ses/latest/dg/send-personalized-email-advanced.html"""
    return _render_nodes(_parse_template(source or ""), [data], {})


# ================================================================================================
# The send pipeline
# ================================================================================================
@dataclass
class OutgoingEmail:
    api: str  # "v1" | "v2"
    from_address: str
    to: list[str]
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    raw: str | None = None
    template_name: str | None = None
    template_data: str | None = None
    configuration_set: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    list_management: dict[str, Any] | None = None
    caller: str = "sandbox-user"
    source_ip: str = "127.0.0.1"

    @property
    def recipients(self) -> list[str]:
        return [*self.to, *self.cc, *self.bcc]


class SendRateLimiter:
    """Token bucket of ``rate`` recipients per second, refilled continuously, one second of burst. SES
    counts each recipient of a message against the maximum send rate:
    https://docs.aws.amazon.com/ses/latest/dg/manage-sending-quotas.html"""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._rate: float | None = None
        self._tokens = 0.0
        self._updated = 0.0
        self._lock = threading.Lock()

    def acquire(self, rate: float | None, count: int) -> bool:
        if rate is None:
            self._rate = None
            return True
        with self._lock:
            now = self._clock()
            capacity = max(rate, 1.0)
            if self._rate != rate:
                self._rate, self._tokens, self._updated = rate, capacity, now
            self._tokens = min(capacity, self._tokens + (now - self._updated) * rate)
            self._updated = now
            if self._tokens < min(count, capacity):
                return False
            self._tokens -= count
            return True


class SesEmulator:
    """The sandbox's SES: one per server process (``state.extras["ses"]``)."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.limiter = SendRateLimiter()

    # -- entry point ----------------------------------------------------------------------------------
    def send(self, account_id: str, region: str, message: OutgoingEmail) -> str:
        backend = ses_backend(account_id, region)
        extras = extras_of(backend)
        identity, source_address = self._check_sender(backend, region, message)
        config_set_name = message.configuration_set or self._default_config_set(backend, identity)
        config_set = None
        if config_set_name:
            config_set = backend.config_sets.get(config_set_name)
            if config_set is None:
                raise SesApiError(
                    "NotFoundException",
                    "ConfigurationSetDoesNotExist",
                    f"Configuration set <{config_set_name}> does not exist.",
                    404,
                )
            if not _config_set_sending_enabled(config_set):
                raise SesApiError(
                    "SendingPausedException",
                    "ConfigurationSetSendingPausedException",
                    f"Sending is paused for configuration set <{config_set_name}>.",
                )
        recipients = message.recipients
        if not recipients:
            raise SesApiError(
                "BadRequestException",
                "InvalidParameterValue",
                "Missing required destination: To, Cc or Bcc must contain an address.",
            )
        if len(recipients) > RECIPIENT_LIMIT:
            raise SesApiError(
                "MessageRejected", "MessageRejected", f"Recipient count exceeds {RECIPIENT_LIMIT}."
            )
        for address in [*recipients, source_address]:
            _, parsed = parseaddr(address)
            if "@" not in parsed or not parsed.split("@", 1)[1]:
                raise SesApiError(
                    "BadRequestException",
                    "InvalidParameterValue",
                    f"Missing final '@domain' in address {_mask(address)}.",
                )
        if not self.limiter.acquire(self.state.ses_max_send_rate, len(recipients)):
            # SESv2 answers TooManyRequestsException, v1 Throttling, both "Maximum sending rate exceeded.":
            # https://docs.aws.amazon.com/ses/latest/dg/manage-sending-quotas-errors.html
            raise SesApiError("TooManyRequestsException", "Throttling", "Maximum sending rate exceeded.", 429)

        message_id = new_message_id()
        sent_at = time.time()
        mail = self._mail_object(backend, region, message, message_id, identity, config_set_name, sent_at)
        destinations = self._destinations(extras, config_set_name)

        try:
            subject, text, html = self._content(backend, message)
        except RenderingError as exc:
            self.state.log(
                COMPONENT,
                "rendering failure",
                message_id=message_id,
                template=message.template_name,
                error=str(exc),
            )
            self._publish(
                destinations,
                "RENDERING_FAILURE",
                {
                    "eventType": EVENT_TYPES["RENDERING_FAILURE"],
                    "mail": mail,
                    "failure": {"errorMessage": str(exc), "templateName": message.template_name},
                },
            )
            return message_id

        mail.update(self._headers(message, message_id, subject))
        reasons = self._suppressed_reasons(extras, config_set)
        attempted, suppressed = [], []
        for address in recipients:
            entry = extras.suppressed.get(parseaddr(address)[1].lower())
            if entry is not None and entry["Reason"] in reasons and not _is_simulator(address):
                suppressed.append(address)
            else:
                attempted.append(address)
        if attempted:
            self.state.outbox.add(
                "email",
                message_id=message_id,
                from_address=message.from_address,
                to=[a for a in message.to if a in attempted],
                cc=[a for a in message.cc if a in attempted],
                bcc=[a for a in message.bcc if a in attempted],
                reply_to=message.reply_to,
                subject=subject,
                text=text,
                html=html,
                raw=message.raw,
                configuration_set=config_set_name,
                tags=dict(message.tags),
                template=message.template_name,
                template_data=message.template_data,
                list_management=message.list_management,
                suppressed=suppressed,
                api=message.api,
            )
        with extras.lock:
            extras.sent_last_24h.append((sent_at, len(recipients)))
            cutoff = sent_at - 86400
            extras.sent_last_24h[:] = [(t, n) for t, n in extras.sent_last_24h if t >= cutoff]
        self.state.log(
            COMPONENT,
            "sent",
            message_id=message_id,
            recipients=len(recipients),
            suppressed=len(suppressed),
            configuration_set=config_set_name,
        )

        self._publish(destinations, "SEND", {"eventType": "Send", "mail": mail, "send": {}})
        for address in recipients:
            for event_type, detail in self._outcomes(address, address in suppressed, sent_at):
                self._publish(
                    destinations,
                    event_type,
                    {
                        "eventType": EVENT_TYPES[event_type],
                        "mail": mail,
                        detail[0]: detail[1],
                    },
                )
        return message_id

    # -- validation -----------------------------------------------------------------------------------
    def _check_sender(self, backend: Any, region: str, message: OutgoingEmail) -> tuple[str, str]:
        _, address = parseaddr(message.from_address)
        if not address and message.raw is not None:
            parsed = email.message_from_string(message.raw)
            _, address = parseaddr(parsed.get("From", ""))
            message.from_address = parsed.get("From", "")
        if not address:
            raise SesApiError("BadRequestException", "MessageRejected", "Missing required field: Source.")
        domain = address.split("@", 1)[-1].lower()
        for candidate in (address, address.lower(), domain):
            identity = backend.email_identities.get(candidate)
            if identity is not None:
                if not getattr(identity, "sending_enabled", True):
                    break
                return candidate, address
        raise SesApiError(
            "MessageRejected",
            "MessageRejected",
            "Email address is not verified. The following identities failed the check in region "
            f"{region.upper()}: {address}",
        )

    @staticmethod
    def _default_config_set(backend: Any, identity: str) -> str | None:
        # An identity's default configuration set applies when the request names none:
        # https://docs.aws.amazon.com/ses/latest/dg/managing-configuration-sets-default.html
        record = backend.email_identities.get(identity)
        return getattr(record, "configuration_set_name", None) or None

    @staticmethod
    def _suppressed_reasons(extras: SesExtras, config_set: Any) -> set[str]:
        # A configuration set's SuppressionOptions override the account-level setting:
        # https://docs.aws.amazon.com/ses/latest/dg/sending-email-suppression-list-config-level.html
        options = getattr(config_set, "suppression_options", None) if config_set is not None else None
        if options and "SuppressedReasons" in options:
            return set(options["SuppressedReasons"] or [])
        return set(extras.account_suppressed_reasons)

    @staticmethod
    def _destinations(extras: SesExtras, config_set_name: str | None) -> list[dict[str, Any]]:
        if not config_set_name:
            return []
        with extras.lock:
            return [dict(d) for d in extras.event_destinations.get(config_set_name, {}).values()]

    # -- content --------------------------------------------------------------------------------------
    def _content(self, backend: Any, message: OutgoingEmail) -> tuple[str | None, str | None, str | None]:
        if message.raw is not None:
            parsed = email.message_from_string(message.raw, policy=email.policy.default)
            text = html = None
            for part in parsed.walk():
                if part.get_content_maintype() == "multipart":
                    continue
                content_type = part.get_content_type()
                if content_type == "text/plain" and text is None:
                    text = str(part.get_content())
                elif content_type == "text/html" and html is None:
                    html = str(part.get_content())
            return str(parsed.get("Subject", "")), text, html
        if message.template_name is None:
            return message.subject, message.text, message.html
        template = backend.templates.get(message.template_name)
        if template is None:
            raise RenderingError(f"Template {message.template_name} does not exist.")
        try:
            data = json.loads(message.template_data or "{}")
        except ValueError as exc:
            raise RenderingError("Template rendering data is invalid.") from exc
        subject = render_template(template.get("subject_part") or "", data)
        text = render_template(template.get("text_part") or "", data) if template.get("text_part") else None
        html = render_template(template.get("html_part") or "", data) if template.get("html_part") else None
        return subject, text, html

    # -- event records --------------------------------------------------------------------------------
    def _mail_object(
        self,
        backend: Any,
        region: str,
        message: OutgoingEmail,
        message_id: str,
        identity: str,
        config_set_name: str | None,
        sent_at: float,
    ) -> dict[str, Any]:
        _, address = parseaddr(message.from_address)
        tags: dict[str, list[str]] = {}
        if config_set_name:
            tags["ses:configuration-set"] = [config_set_name]
        tags["ses:source-ip"] = [message.source_ip]
        tags["ses:from-domain"] = [address.split("@", 1)[-1]]
        tags["ses:caller-identity"] = [message.caller]
        for name, value in message.tags.items():
            tags[name] = [value]
        return {
            "timestamp": _now_iso(sent_at),
            "source": message.from_address,
            "sourceArn": f"arn:aws:ses:{region}:{backend.account_id}:identity/{identity}",
            "sourceIp": message.source_ip,
            "sendingAccountId": backend.account_id,
            "callerIdentity": message.caller,
            "messageId": message_id,
            "destination": list(message.recipients),
            "tags": tags,
        }

    @staticmethod
    def _headers(message: OutgoingEmail, message_id: str, subject: str | None) -> dict[str, Any]:
        if message.raw is not None:
            parsed = email.message_from_string(message.raw)
            headers = [{"name": k, "value": str(v)} for k, v in parsed.items()]
            common: dict[str, Any] = {"from": [parsed.get("From", message.from_address)]}
            for key, header in (("to", "To"), ("cc", "Cc")):
                if parsed.get(header):
                    common[key] = [a.strip() for a in str(parsed[header]).split(",")]
            common["messageId"] = message_id
            common["subject"] = subject or ""
            return {"headersTruncated": False, "headers": headers, "commonHeaders": common}
        headers = [{"name": "From", "value": message.from_address}]
        if message.reply_to:
            headers.append({"name": "Reply-To", "value": ", ".join(message.reply_to)})
        if message.to:
            headers.append({"name": "To", "value": ", ".join(message.to)})
        if message.cc:
            headers.append({"name": "Cc", "value": ", ".join(message.cc)})
        headers.append({"name": "Subject", "value": subject or ""})
        headers.append({"name": "MIME-Version", "value": "1.0"})
        boundary = (
            f"----=_Part_{secrets.randbelow(10**7)}_{secrets.randbelow(10**10)}.{int(time.time() * 1000)}"
        )
        if (message.text is not None and message.html is not None) or message.template_name:
            headers.append({"name": "Content-Type", "value": f'multipart/alternative; boundary="{boundary}"'})
        else:
            kind = "html" if message.html is not None else "plain"
            headers.append({"name": "Content-Type", "value": f"text/{kind}; charset=UTF-8"})
        common = {"from": [message.from_address]}
        if message.reply_to:
            common["replyTo"] = list(message.reply_to)
        if message.to:
            common["to"] = list(message.to)
        if message.cc:
            common["cc"] = list(message.cc)
        common["messageId"] = message_id
        common["subject"] = subject or ""
        return {"headersTruncated": False, "headers": headers, "commonHeaders": common}

    @staticmethod
    def _outcomes(address: str, suppressed: bool, sent_at: float) -> Iterator[tuple[str, tuple[str, Any]]]:
        """What happens to one recipient (the mailbox simulator:
        https://docs.aws.amazon.com/ses/latest/dg/send-an-email-from-console.html#send-email-simulator)."""
        _, plain = parseaddr(address)
        now = time.time()
        feedback_id = new_message_id()
        if suppressed or _simulator_box(plain) == "suppressionlist":
            yield (
                "BOUNCE",
                (
                    "bounce",
                    {
                        "feedbackId": feedback_id,
                        "bounceType": "Permanent",
                        "bounceSubType": "OnAccountSuppressionList",
                        "bouncedRecipients": [
                            {
                                "emailAddress": plain,
                                "action": "failed",
                                "status": "5.1.1",
                                "diagnosticCode": SUPPRESSION_DIAGNOSTIC,
                            }
                        ],
                        "timestamp": _now_iso(now),
                        "reportingMTA": "dns; amazonses.com",
                    },
                ),
            )
            return
        if _simulator_box(plain) == "bounce":
            yield (
                "BOUNCE",
                (
                    "bounce",
                    {
                        "feedbackId": feedback_id,
                        "bounceType": "Permanent",
                        "bounceSubType": "General",
                        "bouncedRecipients": [
                            {
                                "emailAddress": plain,
                                "action": "failed",
                                "status": "5.1.1",
                                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                            }
                        ],
                        "timestamp": _now_iso(now),
                        "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
                        "remoteMtaIp": "127.0.0.1",
                    },
                ),
            )
            return
        yield (
            "DELIVERY",
            (
                "delivery",
                {
                    "timestamp": _now_iso(now),
                    "processingTimeMillis": max(1, int((now - sent_at) * 1000)),
                    "recipients": [plain],
                    "smtpResponse": "250 2.6.0 Message received",
                    "remoteMtaIp": "127.0.0.1",
                    "reportingMTA": "a8-70.smtp-out.amazonses.com",
                },
            ),
        )
        if _simulator_box(plain) == "complaint":
            yield (
                "COMPLAINT",
                (
                    "complaint",
                    {
                        "feedbackId": feedback_id,
                        "complaintSubType": None,
                        "complainedRecipients": [{"emailAddress": plain}],
                        "timestamp": _now_iso(),
                        "userAgent": "Amazon SES Mailbox Simulator",
                        "complaintFeedbackType": "abuse",
                        "arrivalDate": _now_iso(now),
                    },
                ),
            )

    def _publish(
        self, destinations: Sequence[dict[str, Any]], event_type: str, record: dict[str, Any]
    ) -> None:
        from moto.sns.models import sns_backends

        body = json.dumps(record)
        for destination in destinations:
            if not destination.get("Enabled", True) or event_type not in destination["MatchingEventTypes"]:
                continue
            firehose = destination.get("KinesisFirehoseDestination")
            if firehose:
                self._publish_to_firehose(firehose, event_type, body)
                continue
            topic_arn = (destination.get("SnsDestination") or {}).get("TopicArn")
            if not topic_arn:
                continue  # CloudWatch / EventBridge destinations are stored, not published
            parts = topic_arn.split(":")
            if len(parts) < 6:
                continue
            try:
                sns_backends[parts[4]][parts[3]].publish(body, arn=topic_arn)
            except Exception as exc:  # a deleted topic: SES drops the event
                self.state.log(
                    COMPONENT,
                    "event publishing failed",
                    topic_arn=topic_arn,
                    event_type=event_type,
                    error=type(exc).__name__,
                )
            else:
                self.state.log(COMPONENT, "event published", topic_arn=topic_arn, event_type=event_type)

    def _publish_to_firehose(self, destination: Mapping[str, Any], event_type: str, body: str) -> None:
        stream_arn = str(destination["DeliveryStreamArn"])
        try:
            key = deliver_to_firehose(stream_arn, str(destination["IamRoleArn"]), (body + "\n").encode())
        except FirehoseDeliveryError as exc:  # SES drops the event (real SES retries, then drops it)
            self.state.log(
                COMPONENT,
                "event publishing failed",
                delivery_stream_arn=stream_arn,
                event_type=event_type,
                error=str(exc),
            )
        else:
            self.state.log(
                COMPONENT, "event published", delivery_stream_arn=stream_arn, event_type=event_type, key=key
            )

    # -- quota ------------------------------------------------------------------------------------------
    def sent_last_24_hours(self, backend: Any) -> int:
        extras = extras_of(backend)
        cutoff = time.time() - 86400
        with extras.lock:
            return sum(n for t, n in extras.sent_last_24h if t >= cutoff)

    def max_send_rate(self) -> float:
        rate = self.state.ses_max_send_rate
        return float(rate) if rate is not None else UNLIMITED_REPORTED_RATE


# ================================================================================================
# Firehose delivery: SES -> delivery stream -> S3, as Firehose writes objects
# ================================================================================================
class FirehoseDeliveryError(Exception):
    """SES could not put the record into the stream (no stream, no role, no S3 destination)."""


_EXPRESSION = re.compile(r"!\{([A-Za-z]+):([^}]*)\}")
_JAVA_DATE_FIELDS = {"yyyy": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
_JAVA_DATE_TOKEN = re.compile(r"yyyy|yy|MM|dd|HH|mm|ss")
#: ``{key: .a.b, "other": .c}``: the JQ queries the sandbox evaluates itself.
_SIMPLE_JQ = re.compile(r"\s*\{(.*)\}\s*", re.S)
_SIMPLE_JQ_FIELD = re.compile(r'\s*"?([A-Za-z_][A-Za-z0-9_]*)"?\s*:\s*((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*')


class _PartitionKeyError(Exception):
    """A partition key could not be extracted from the record (Firehose: MetadataExtractionFailed)."""


def _java_date(pattern: str, moment: datetime) -> str:
    """A Java ``DateTimeFormatter`` pattern (the letters Firehose prefixes use) applied to ``moment``."""
    return _JAVA_DATE_TOKEN.sub(lambda m: moment.strftime(_JAVA_DATE_FIELDS[m.group(0)]), pattern)


def _jq_partition_keys(query: str, record: Any) -> dict[str, str]:
    """Evaluate a Firehose ``MetadataExtractionQuery`` (JQ 1.6) on a record: the keys and their values."""
    values: dict[str, Any]
    match = _SIMPLE_JQ.fullmatch(query)
    fields = [_SIMPLE_JQ_FIELD.fullmatch(part) for part in match.group(1).split(",")] if match else []
    if fields and all(fields):
        values = {}
        for field_match in fields:
            assert field_match is not None
            value: Any = record
            for name in field_match.group(2).split(".")[1:]:
                value = value.get(name) if isinstance(value, dict) else None
            values[field_match.group(1)] = value
    else:
        executable = shutil.which("jq")
        if executable is None:
            raise _PartitionKeyError(
                f"the sandbox evaluates {{key: .path}} queries only (no jq on PATH): {query}"
            )
        result = subprocess.run(
            [executable, "-c", query], input=json.dumps(record), capture_output=True, text=True, check=False
        )
        try:
            output: Any = json.loads(result.stdout) if result.returncode == 0 else None
        except ValueError:
            output = None
        if not isinstance(output, dict):
            raise _PartitionKeyError(f"the query did not produce an object: {query}")
        values = output
    missing = sorted(k for k, v in values.items() if v is None or isinstance(v, dict | list))
    if missing:
        raise _PartitionKeyError(f"no scalar value for partition key(s) {missing}")
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()}


def _processor_parameter(config: Mapping[str, Any], processor_type: str, name: str) -> str | None:
    processing = config.get("ProcessingConfiguration") or {}
    if not _truthy(processing.get("Enabled", False)):
        return None
    for processor in processing.get("Processors") or []:
        if processor.get("Type") == processor_type:
            for parameter in processor.get("Parameters") or []:
                if parameter.get("ParameterName") == name:
                    return str(parameter.get("ParameterValue"))
    return None


def firehose_object_key(
    stream_name: str,
    version_id: str,
    prefix: str,
    moment: datetime,
    partition_keys: Mapping[str, str] | None = None,
    error_output_type: str | None = None,
) -> str:
    """The S3 key Firehose writes a record batch to: ``prefix`` with its expressions evaluated (or the
    default ``YYYY/MM/DD/HH/`` after it when it has none), then
    ``<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>``:
    https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html"""

    def evaluate(match: re.Match[str]) -> str:
        namespace, argument = match.group(1), match.group(2)
        if namespace == "timestamp":
            return _java_date(argument, moment)
        if namespace == "firehose" and argument == "random-string":
            return secrets.token_hex(6)[:11]
        if namespace == "firehose" and argument == "error-output-type" and error_output_type:
            return error_output_type
        if namespace == "partitionKeyFromQuery" and partition_keys is not None and argument in partition_keys:
            return partition_keys[argument]
        raise _PartitionKeyError(f"cannot evaluate !{{{namespace}:{argument}}}")

    if _EXPRESSION.search(prefix):
        path = _EXPRESSION.sub(evaluate, prefix)
    else:
        path = f"{prefix}{moment.strftime('%Y/%m/%d/%H')}/"
    return f"{path}{stream_name}-{version_id}-{moment.strftime('%Y-%m-%d-%H-%M-%S')}-{uuid.uuid4()}"


def deliver_to_firehose(stream_arn: str, role_arn: str, data: bytes) -> str:
    """Put one record into a delivery stream of moto's Firehose backend and deliver it to the stream's
    S3 destination at once. Returns the S3 key written (under the error prefix when the partition keys
    could not be extracted). Raises :class:`FirehoseDeliveryError` when SES could not put the record."""
    from moto.firehose.models import firehose_backends
    from moto.iam.models import iam_backends
    from moto.s3.models import s3_backends

    parts = stream_arn.split(":")
    if len(parts) < 6 or "/" not in parts[5]:
        raise FirehoseDeliveryError(f"not a delivery stream ARN: {stream_arn}")
    region, account, name = parts[3], parts[4], parts[5].split("/", 1)[1]
    stream = firehose_backends[account][region].delivery_streams.get(name)
    if stream is None:
        raise FirehoseDeliveryError(f"delivery stream {name} not found")
    role_name = role_arn.rsplit("/", 1)[-1]
    if not any(role.name == role_name for role in iam_backends[account][parts[1] or "aws"].roles.values()):
        raise FirehoseDeliveryError(f"role {role_name} not found (SES cannot assume it)")
    config = next(
        (
            d.get("ExtendedS3") or d.get("S3")
            for d in stream.destinations
            if d.get("ExtendedS3") or d.get("S3")
        ),
        None,
    )
    if config is None:
        raise FirehoseDeliveryError(f"delivery stream {name} has no S3 destination the sandbox delivers to")
    moment = datetime.now(tz=UTC)
    dynamic = _truthy((config.get("DynamicPartitioningConfiguration") or {}).get("Enabled", False))
    query = _processor_parameter(config, "MetadataExtraction", "MetadataExtractionQuery") if dynamic else None
    body = data
    try:
        keys = _jq_partition_keys(query, json.loads(data)) if query else None
        key = firehose_object_key(name, stream.version_id, str(config.get("Prefix") or ""), moment, keys)
    except (_PartitionKeyError, ValueError) as exc:
        # Firehose's error record: https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning-error-handling.html
        error_prefix = str(config.get("ErrorOutputPrefix") or "")
        key = firehose_object_key(
            name, stream.version_id, error_prefix, moment, error_output_type="processing-failed"
        )
        at = int(moment.timestamp() * 1000)
        body = (
            json.dumps(
                {
                    "attemptsMade": 1,
                    "arrivalTimestamp": at,
                    "errorCode": "DynamicPartitioning.MetadataExtractionFailed",
                    "errorMessage": str(exc),
                    "attemptEndingTimestamp": at,
                    "rawData": base64.b64encode(data).decode(),
                }
            )
            + "\n"
        ).encode()
    kms_key = ((config.get("EncryptionConfiguration") or {}).get("KMSEncryptionConfig") or {}).get(
        "AWSKMSKeyARN"
    )
    bucket = str(config["BucketARN"]).split(":")[-1]
    try:
        s3_backends[account][parts[1] or "aws"].put_object(
            bucket, key, body, encryption="aws:kms" if kms_key else None, kms_key_id=kms_key
        )
    except Exception as exc:  # a deleted bucket: Firehose keeps retrying, the sandbox reports it
        raise FirehoseDeliveryError(f"S3 delivery to {bucket} failed: {type(exc).__name__}") from None
    return key


def _simulator_box(address: str) -> str | None:
    local, _, domain = address.lower().partition("@")
    if domain != SIMULATOR_DOMAIN:
        return None
    return local.split("+", 1)[0]


def _is_simulator(address: str) -> bool:
    return _simulator_box(parseaddr(address)[1]) is not None


def _mask(address: str) -> str:
    _, plain = parseaddr(address)
    local, at, domain = plain.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else "***"


# ================================================================================================
# Patching moto's responses
# ================================================================================================
def _emulator() -> SesEmulator:
    emulator = _EMULATOR[0]
    if emulator is None:
        raise RuntimeError("the SES component is not installed")
    return emulator


_EMULATOR: list[SesEmulator | None] = [None]


def _request_context(response: Any) -> tuple[str, str]:
    headers = getattr(response, "headers", {}) or {}
    caller = headers.get("x-sandbox-function") or headers.get("X-Sandbox-Function") or "sandbox-user"
    request = getattr(response, "request", None)
    ip = getattr(request, "remote_addr", None) or "127.0.0.1"
    return str(caller), str(ip)


def _v2_body(response: Any) -> dict[str, Any]:
    body = response.body
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return json.loads(body) if body else {}


def _v2_send_email(self: Any) -> str:
    params = _v2_body(self)
    destination = params.get("Destination") or {}
    content = params.get("Content") or {}
    caller, ip = _request_context(self)
    message = OutgoingEmail(
        api="v2",
        from_address=params.get("FromEmailAddress") or "",
        to=list(destination.get("ToAddresses") or []),
        cc=list(destination.get("CcAddresses") or []),
        bcc=list(destination.get("BccAddresses") or []),
        reply_to=list(params.get("ReplyToAddresses") or []),
        configuration_set=params.get("ConfigurationSetName"),
        tags={t["Name"]: t["Value"] for t in params.get("EmailTags") or []},
        list_management=params.get("ListManagementOptions"),
        caller=caller,
        source_ip=ip,
    )
    if "Raw" in content:
        message.raw = base64.b64decode(content["Raw"]["Data"]).decode("utf-8", "replace")
        if not message.recipients:
            parsed = email.message_from_string(message.raw)
            for header, target in (("To", message.to), ("Cc", message.cc), ("Bcc", message.bcc)):
                target.extend(a for _, a in getaddresses(parsed.get_all(header) or []) if a)
    elif "Template" in content:
        template = content["Template"]
        if template.get("TemplateContent"):
            raise _bad_request("Inline TemplateContent is not supported by the sandbox: use TemplateName.")
        message.template_name = template.get("TemplateName") or template.get("TemplateArn", "").split("/")[-1]
        message.template_data = template.get("TemplateData") or "{}"
    elif "Simple" in content:
        simple = content["Simple"]
        message.subject = (simple.get("Subject") or {}).get("Data", "")
        body = simple.get("Body") or {}
        message.text = (body.get("Text") or {}).get("Data")
        message.html = (body.get("Html") or {}).get("Data")
    else:
        raise _bad_request("Content must contain one of Simple, Raw or Template.")
    try:
        message_id = _emulator().send(self.current_account, self.region, message)
    except SesApiError as exc:
        raise _v2_exception(exc) from None
    return json.dumps({"MessageId": message_id})


def _v1_send(self: Any, kind: str) -> Any:
    from moto.core.responses import ActionResult

    caller, ip = _request_context(self)
    destination = self._get_param("Destination", {}) or {}
    message = OutgoingEmail(
        api="v1",
        from_address=self._get_param("Source") or "",
        to=list(destination.get("ToAddresses") or []),
        cc=list(destination.get("CcAddresses") or []),
        bcc=list(destination.get("BccAddresses") or []),
        reply_to=list(self._get_param("ReplyToAddresses") or []),
        configuration_set=self._get_param("ConfigurationSetName"),
        tags={t["Name"]: t["Value"] for t in self._get_param("Tags") or []},
        caller=caller,
        source_ip=ip,
    )
    backend = ses_backend(self.current_account, self.region)
    if kind == "simple":
        msg = self._get_param("Message", {}) or {}
        message.subject = (msg.get("Subject") or {}).get("Data", "")
        body = msg.get("Body") or {}
        message.text = (body.get("Text") or {}).get("Data")
        message.html = (body.get("Html") or {}).get("Data")
    elif kind == "template":
        message.template_name = self._get_param("Template")
        message.template_data = self._get_param("TemplateData") or "{}"
        if message.template_name not in backend.templates:
            # v1 checks the template synchronously: TemplateDoesNotExist
            # (https://docs.aws.amazon.com/ses/latest/APIReference/API_SendTemplatedEmail.html)
            raise _v1_exception(
                SesApiError(
                    "NotFoundException",
                    "TemplateDoesNotExist",
                    f"Template {message.template_name} does not exist.",
                )
            )
    else:
        raw = self._get_param("RawMessage.Data") or (self._get_param("RawMessage") or {}).get("Data")
        message.raw = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        message.to = list(self._get_param("Destinations") or [])
        if not message.to:
            parsed = email.message_from_string(message.raw)
            for header, target in (("To", message.to), ("Cc", message.cc), ("Bcc", message.bcc)):
                target.extend(a for _, a in getaddresses(parsed.get_all(header) or []) if a)
    try:
        message_id = _emulator().send(self.current_account, self.region, message)
    except SesApiError as exc:
        raise _v1_exception(exc) from None
    return ActionResult({"MessageId": message_id})


def _v1_get_send_quota(self: Any) -> Any:
    from moto.core.responses import ActionResult

    backend = ses_backend(self.current_account, self.region)
    emulator = _emulator()
    return ActionResult(
        {
            "Max24HourSend": MAX_24_HOUR_SEND,
            "MaxSendRate": emulator.max_send_rate(),
            "SentLast24Hours": float(emulator.sent_last_24_hours(backend)),
        }
    )


def _v1_create_event_destination(self: Any) -> Any:
    from moto.core.responses import EmptyResult

    name = self._get_param("ConfigurationSetName")
    spec = self._get_param("EventDestination", {}) or {}
    try:
        put_event_destination(
            self.current_account, self.region, name, spec.get("Name", ""), spec, create=True
        )
    except SesApiError as exc:
        raise _v1_exception(exc) from None
    return EmptyResult()


def put_event_destination(
    account_id: str, region: str, config_set: str, name: str, spec: Mapping[str, Any], *, create: bool
) -> dict[str, Any]:
    """Create (or replace) an event destination of ``config_set`` in the shared SES state."""
    backend = ses_backend(account_id, region)
    extras = extras_of(backend)
    if config_set not in backend.config_sets:
        raise SesApiError(
            "NotFoundException",
            "ConfigurationSetDoesNotExist",
            f"Configuration set <{config_set}> does not exist.",
            404,
        )
    if not name:
        raise SesApiError(
            "BadRequestException", "InvalidParameterValue", "EventDestination.Name is required."
        )
    try:
        destination = normalize_event_destination(name, spec)
    except ValueError as exc:
        raise SesApiError("BadRequestException", "InvalidParameterValue", str(exc)) from None
    topic_arn = (destination.get("SnsDestination") or {}).get("TopicArn")
    if topic_arn:
        from moto.sns.models import sns_backends

        parts = topic_arn.split(":")
        if len(parts) < 6 or topic_arn not in sns_backends[parts[4]][parts[3]].topics:
            raise SesApiError(
                "BadRequestException", "InvalidSNSDestination", f"SNS topic <{topic_arn}> not found."
            )
    firehose = destination.get("KinesisFirehoseDestination")
    if firehose:
        from moto.firehose.models import firehose_backends

        parts = str(firehose["DeliveryStreamArn"]).split(":")
        stream = parts[5].split("/", 1)[-1] if len(parts) >= 6 else ""
        if len(parts) < 6 or stream not in firehose_backends[parts[4]][parts[3]].delivery_streams:
            raise SesApiError(
                "BadRequestException",
                "InvalidFirehoseDestination",
                f"Delivery stream <{firehose['DeliveryStreamArn']}> not found.",
            )
    with extras.lock:
        existing = extras.event_destinations.setdefault(config_set, {})
        if create and name in existing:
            raise SesApiError(
                "AlreadyExistsException",
                "EventDestinationAlreadyExists",
                f"Event destination {name} already exists.",
            )
        if not create and name not in existing:
            raise SesApiError(
                "NotFoundException",
                "EventDestinationDoesNotExist",
                f"Event destination {name} does not exist.",
                404,
            )
        existing[name] = destination
        # moto's own v1 view keeps one destination per set (DescribeConfigurationSet shows the last)
        backend.config_set_event_destination[config_set] = _v1_destination(destination)
        backend.event_destinations[name] = 1
    return destination


def delete_event_destination(account_id: str, region: str, config_set: str, name: str) -> None:
    backend = ses_backend(account_id, region)
    extras = extras_of(backend)
    with extras.lock:
        existing = extras.event_destinations.get(config_set, {})
        if name not in existing:
            raise SesApiError(
                "NotFoundException",
                "EventDestinationDoesNotExist",
                f"Event destination {name} does not exist.",
                404,
            )
        del existing[name]
        backend.event_destinations.pop(name, None)
        if existing:
            backend.config_set_event_destination[config_set] = _v1_destination(list(existing.values())[-1])
        else:
            backend.config_set_event_destination.pop(config_set, None)


def _v1_destination(destination: Mapping[str, Any]) -> dict[str, Any]:
    v1: dict[str, Any] = {
        "Name": destination["Name"],
        "Enabled": destination["Enabled"],
        "MatchingEventTypes": [_v1_event_name(t) for t in destination["MatchingEventTypes"]],
    }
    if destination.get("SnsDestination"):
        v1["SNSDestination"] = {"TopicARN": destination["SnsDestination"]["TopicArn"]}
    if destination.get("CloudWatchDestination"):
        v1["CloudWatchDestination"] = destination["CloudWatchDestination"]
    firehose = destination.get("KinesisFirehoseDestination")
    if firehose:
        v1["KinesisFirehoseDestination"] = {
            "IAMRoleARN": firehose["IamRoleArn"],
            "DeliveryStreamARN": firehose["DeliveryStreamArn"],
        }
    return v1


def _v1_event_name(canonical: str) -> str:
    head, *rest = canonical.lower().split("_")
    return head + "".join(part.title() for part in rest)


# -- SESv2 operations moto does not serve -------------------------------------------------------------
def _v2_event_destination_ops() -> dict[str, Callable[[Any], str]]:
    def create_configuration_set_event_destination(self: Any) -> str:
        params = _v2_body(self)
        config_set = self._get_param("ConfigurationSetName")
        try:
            put_event_destination(
                self.current_account,
                self.region,
                config_set,
                params.get("EventDestinationName", ""),
                params.get("EventDestination") or {},
                create=True,
            )
        except SesApiError as exc:
            raise _v2_exception(exc) from None
        return "{}"

    def update_configuration_set_event_destination(self: Any) -> str:
        params = _v2_body(self)
        try:
            put_event_destination(
                self.current_account,
                self.region,
                self._get_param("ConfigurationSetName"),
                self._get_param("EventDestinationName"),
                params.get("EventDestination") or {},
                create=False,
            )
        except SesApiError as exc:
            raise _v2_exception(exc) from None
        return "{}"

    def delete_configuration_set_event_destination(self: Any) -> str:
        try:
            delete_event_destination(
                self.current_account,
                self.region,
                self._get_param("ConfigurationSetName"),
                self._get_param("EventDestinationName"),
            )
        except SesApiError as exc:
            raise _v2_exception(exc) from None
        return "{}"

    def get_configuration_set_event_destinations(self: Any) -> str:
        backend = ses_backend(self.current_account, self.region)
        name = self._get_param("ConfigurationSetName")
        if name not in backend.config_sets:
            raise _not_found(f"Configuration set <{name}> does not exist.")
        extras = extras_of(backend)
        with extras.lock:
            destinations = list(extras.event_destinations.get(name, {}).values())
        return json.dumps({"EventDestinations": destinations})

    return {
        "create_configuration_set_event_destination": create_configuration_set_event_destination,
        "update_configuration_set_event_destination": update_configuration_set_event_destination,
        "delete_configuration_set_event_destination": delete_configuration_set_event_destination,
        "get_configuration_set_event_destinations": get_configuration_set_event_destinations,
    }


_SUPPRESSION_REASONS = ("BOUNCE", "COMPLAINT")


def _query_list(response: Any, name: str) -> list[str]:
    values = response.querystring.get(name) or []
    return [str(v) for v in values]


def _parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _v2_suppression_ops() -> dict[str, Callable[[Any], str]]:
    """The SESv2 account suppression list:
    https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_PutSuppressedDestination.html"""

    def put_suppressed_destination(self: Any) -> str:
        params = _v2_body(self)
        address = params.get("EmailAddress") or ""
        reason = params.get("Reason") or ""
        if "@" not in address:
            raise _bad_request("EmailAddress: a valid e-mail address is required.")
        if reason not in _SUPPRESSION_REASONS:
            raise _bad_request(f"Reason {reason!r}: one of {list(_SUPPRESSION_REASONS)}.")
        extras = extras_of(ses_backend(self.current_account, self.region))
        with extras.lock:
            extras.suppressed[address.lower()] = {
                "EmailAddress": address,
                "Reason": reason,
                "LastUpdateTime": time.time(),
                "Attributes": {"MessageId": "", "FeedbackId": ""},
            }
        return "{}"

    def get_suppressed_destination(self: Any) -> str:
        address = self._get_param("EmailAddress") or ""
        extras = extras_of(ses_backend(self.current_account, self.region))
        with extras.lock:
            entry = extras.suppressed.get(address.lower())
        if entry is None:
            raise _not_found(f"Email address {address} does not exist on your suppression list.")
        attributes = {k: v for k, v in entry["Attributes"].items() if v}
        return json.dumps({"SuppressedDestination": {**entry, "Attributes": attributes}})

    def delete_suppressed_destination(self: Any) -> str:
        address = self._get_param("EmailAddress") or ""
        extras = extras_of(ses_backend(self.current_account, self.region))
        with extras.lock:
            if extras.suppressed.pop(address.lower(), None) is None:
                raise _not_found(f"Email address {address} does not exist on your suppression list.")
        return "{}"

    def list_suppressed_destinations(self: Any) -> str:
        reasons = set(_query_list(self, "Reason")) or set(_SUPPRESSION_REASONS)
        start = _parse_time(next(iter(_query_list(self, "StartDate")), None))
        end = _parse_time(next(iter(_query_list(self, "EndDate")), None))
        page_size = int((_query_list(self, "PageSize") or ["1000"])[0])
        if not 1 <= page_size <= 1000:
            raise _bad_request("PageSize: must be 1-1000.")
        offset = int((_query_list(self, "NextToken") or ["0"])[0] or 0)
        extras = extras_of(ses_backend(self.current_account, self.region))
        with extras.lock:
            entries = sorted(extras.suppressed.values(), key=lambda e: e["LastUpdateTime"])
        matching = [
            {"EmailAddress": e["EmailAddress"], "Reason": e["Reason"], "LastUpdateTime": e["LastUpdateTime"]}
            for e in entries
            if e["Reason"] in reasons
            and (start is None or e["LastUpdateTime"] >= start)
            and (end is None or e["LastUpdateTime"] <= end)
        ]
        page = matching[offset : offset + page_size]
        result: dict[str, Any] = {"SuppressedDestinationSummaries": page}
        if offset + page_size < len(matching):
            result["NextToken"] = str(offset + page_size)
        return json.dumps(result)

    def put_account_suppression_attributes(self: Any) -> str:
        reasons = _v2_body(self).get("SuppressedReasons") or []
        bad = [r for r in reasons if r not in _SUPPRESSION_REASONS]
        if bad:
            raise _bad_request(f"SuppressedReasons {bad}: each one of {list(_SUPPRESSION_REASONS)}.")
        extras = extras_of(ses_backend(self.current_account, self.region))
        with extras.lock:
            extras.account_suppressed_reasons = list(reasons)
        return "{}"

    def get_account(self: Any) -> str:
        backend = ses_backend(self.current_account, self.region)
        emulator = _emulator()
        extras = extras_of(backend)
        return json.dumps(
            {
                "DedicatedIpAutoWarmupEnabled": False,
                "EnforcementStatus": "HEALTHY",
                "ProductionAccessEnabled": True,
                "SendingEnabled": True,
                "SendQuota": {
                    "Max24HourSend": MAX_24_HOUR_SEND,
                    "MaxSendRate": emulator.max_send_rate(),
                    "SentLast24Hours": float(emulator.sent_last_24_hours(backend)),
                },
                "SuppressionAttributes": {"SuppressedReasons": list(extras.account_suppressed_reasons)},
                "VdmAttributes": extras.vdm_attributes or {"VdmEnabled": "DISABLED"},
            }
        )

    return {
        "put_suppressed_destination": put_suppressed_destination,
        "get_suppressed_destination": get_suppressed_destination,
        "delete_suppressed_destination": delete_suppressed_destination,
        "list_suppressed_destinations": list_suppressed_destinations,
        "put_account_suppression_attributes": put_account_suppression_attributes,
        "get_account": get_account,
    }


def _v2_template_ops() -> dict[str, Callable[[Any], str]]:
    """SESv2 e-mail templates, in the same store as v1 templates (so both APIs and sending see them)."""

    def _store(self: Any, create: bool) -> str:
        params = _v2_body(self)
        name = params.get("TemplateName") or self._get_param("TemplateName")
        content = params.get("TemplateContent") or {}
        backend = ses_backend(self.current_account, self.region)
        if not name:
            raise _bad_request("TemplateName is required.")
        if create and name in backend.templates:
            raise _v2_exception(
                SesApiError(
                    "AlreadyExistsException", "AlreadyExists", f"Template {name} already exists.", 400
                )
            )
        if not create and name not in backend.templates:
            raise _not_found(f"Template {name} does not exist.")
        backend.templates[name] = {
            "template_name": name,
            "subject_part": content.get("Subject", ""),
            "text_part": content.get("Text", ""),
            "html_part": content.get("Html", ""),
            "Timestamp": datetime.now(tz=UTC),
        }
        return "{}"

    def create_email_template(self: Any) -> str:
        return _store(self, True)

    def update_email_template(self: Any) -> str:
        return _store(self, False)

    def get_email_template(self: Any) -> str:
        name = self._get_param("TemplateName")
        template = ses_backend(self.current_account, self.region).templates.get(name)
        if template is None:
            raise _not_found(f"Template {name} does not exist.")
        return json.dumps(
            {
                "TemplateName": name,
                "TemplateContent": {
                    "Subject": template.get("subject_part", ""),
                    "Text": template.get("text_part", ""),
                    "Html": template.get("html_part", ""),
                },
            }
        )

    def delete_email_template(self: Any) -> str:
        name = self._get_param("TemplateName")
        if ses_backend(self.current_account, self.region).templates.pop(name, None) is None:
            raise _not_found(f"Template {name} does not exist.")
        return "{}"

    def list_email_templates(self: Any) -> str:
        templates = ses_backend(self.current_account, self.region).templates
        return json.dumps(
            {
                "TemplatesMetadata": [
                    {"TemplateName": name, "CreatedTimestamp": _epoch(t.get("Timestamp"))}
                    for name, t in templates.items()
                ]
            }
        )

    def test_render_email_template(self: Any) -> str:
        name = self._get_param("TemplateName")
        template = ses_backend(self.current_account, self.region).templates.get(name)
        if template is None:
            raise _not_found(f"Template {name} does not exist.")
        try:
            data = json.loads(_v2_body(self).get("TemplateData") or "{}")
            subject = render_template(template.get("subject_part", ""), data)
            text = render_template(template.get("text_part", ""), data)
            html = render_template(template.get("html_part", ""), data)
        except (ValueError, RenderingError) as exc:
            raise _bad_request(str(exc)) from None
        rendered = (
            f"Subject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; "
            f'boundary="sandbox"\r\n\r\n--sandbox\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n'
            f"{text}\r\n--sandbox\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n{html}\r\n--sandbox--"
        )
        return json.dumps({"RenderedTemplate": rendered})

    return {
        "create_email_template": create_email_template,
        "update_email_template": update_email_template,
        "get_email_template": get_email_template,
        "delete_email_template": delete_email_template,
        "list_email_templates": list_email_templates,
        "test_render_email_template": test_render_email_template,
    }


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return time.time()


# ================================================================================================
# CloudFormation types
# ================================================================================================
def _models() -> list[type]:
    from moto.core.common_models import CloudFormationModel

    class _SesResource:
        """Shared plumbing; each concrete class is also a direct CloudFormationModel subclass (moto lists
        ``CloudFormationModel.__subclasses__()``)."""

        TYPE = ""
        NAME_PROPERTY = ""
        ATTRIBUTES: tuple[str, ...] = ()
        #: The CloudFormation engine updates these through update_from_cloudformation_json, which replaces
        #: the resource itself only where replace_needed says a create-only property changed.
        sandbox_updates_in_place = True

        def __init__(self, account_id: str, region: str, name: str, properties: dict[str, Any]) -> None:
            self.account_id = account_id
            self.region = region
            self.name = name
            self.properties = properties

        @classmethod
        def cloudformation_type(cls) -> str:
            return cls.TYPE

        @classmethod
        def cloudformation_name_type(cls) -> str:
            return cls.NAME_PROPERTY

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in cls.ATTRIBUTES

        @property
        def physical_resource_id(self) -> str:
            return self.name

        def is_created(self) -> bool:
            return True

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

            value = self.attributes().get(attribute_name)
            if value is None:
                raise UnformattedGetAttTemplateException()
            return value

        def attributes(self) -> dict[str, Any]:
            return {}

        def backend(self) -> Any:
            return ses_backend(self.account_id, self.region)

        # -- lifecycle, implemented per type -------------------------------------------------------------
        def create(self) -> None:
            raise NotImplementedError

        def remove(self) -> None:
            raise NotImplementedError

        def replace_needed(self, new_name: str, properties: dict[str, Any]) -> bool:
            return new_name != self.name

        def update(self, properties: dict[str, Any]) -> None:
            self.remove()
            self.properties = properties
            self.create()

        @classmethod
        def _name_for(cls, resource_name: str, properties: dict[str, Any]) -> str:
            return (
                str(properties.get(cls.NAME_PROPERTY) or resource_name)
                if cls.NAME_PROPERTY
                else resource_name
            )

        @classmethod
        def _name_after_update(cls, original: Any, new_resource_name: str, properties: dict[str, Any]) -> str:
            """The resource's name after an update: a generated name is kept across updates."""
            if cls.NAME_PROPERTY and not properties.get(cls.NAME_PROPERTY):
                return str(original.name)
            return cls._name_for(new_resource_name, properties)

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> Any:
            properties = cloudformation_json.get("Properties") or {}
            resource = cls(account_id, region_name, cls._name_for(resource_name, properties), properties)
            try:
                resource.create()
            except SesApiError as exc:
                raise ValueError(f"{cls.TYPE}: {exc.v1_code}: {exc.message}") from None
            return resource

        @classmethod
        def update_from_cloudformation_json(
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> Any:
            properties = cloudformation_json.get("Properties") or {}
            new_name = cls._name_after_update(original_resource, new_resource_name, properties)
            if original_resource.replace_needed(new_name, properties):
                original_resource.remove()
                return cls.create_from_cloudformation_json(
                    new_name, cloudformation_json, account_id, region_name
                )
            try:
                original_resource.update(properties)
            except SesApiError as exc:
                raise ValueError(f"{cls.TYPE}: {exc.v1_code}: {exc.message}") from None
            return original_resource

        @classmethod
        def delete_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
        ) -> None:
            properties = cloudformation_json.get("Properties") or {}
            cls(account_id, region_name, resource_name, properties).remove()

        def delete(self, account_id: str, region_name: str) -> None:
            self.remove()

    class EmailIdentity(_SesResource, CloudFormationModel):  # type: ignore[misc]
        """AWS::SES::EmailIdentity - a verified identity; Easy DKIM tokens as GetAtt values."""

        TYPE = "AWS::SES::EmailIdentity"
        NAME_PROPERTY = "EmailIdentity"
        ATTRIBUTES = tuple(f"DkimDNSToken{k}{i}" for k in ("Name", "Value") for i in (1, 2, 3))

        def create(self) -> None:
            backend = self.backend()
            if self.name in backend.email_identities:
                raise SesApiError(
                    "AlreadyExistsException", "AlreadyExists", f"Identity {self.name} already exists."
                )
            dkim = self.properties.get("DkimSigningAttributes") or {}
            config_set = (self.properties.get("ConfigurationSetAttributes") or {}).get("ConfigurationSetName")
            if config_set and config_set not in backend.config_sets:
                raise SesApiError(
                    "NotFoundException",
                    "ConfigurationSetDoesNotExist",
                    f"Configuration set <{config_set}> does not exist.",
                )
            identity = backend.create_email_identity_v2(self.name, None, dkim or None, config_set)
            self._apply(identity)

        def _apply(self, identity: Any) -> None:
            backend = self.backend()
            properties = self.properties
            identity.configuration_set_name = (properties.get("ConfigurationSetAttributes") or {}).get(
                "ConfigurationSetName"
            )
            signing = _truthy((properties.get("DkimAttributes") or {}).get("SigningEnabled", True))
            dkim = properties.get("DkimSigningAttributes") or {}
            is_domain = "@" not in self.name
            identity.verified_for_sending_status = True
            identity.dkim_attributes.update(
                {
                    "SigningEnabled": signing and is_domain,
                    "Status": "SUCCESS" if is_domain else "NOT_STARTED",
                    "SigningAttributesOrigin": "EXTERNAL"
                    if dkim.get("DomainSigningPrivateKey")
                    else "AWS_SES",
                    "NextSigningKeyLength": dkim.get("NextSigningKeyLength", "RSA_2048_BIT"),
                    "CurrentSigningKeyLength": dkim.get("NextSigningKeyLength", "RSA_2048_BIT"),
                }
            )
            if is_domain:
                tokens = backend.dkim_tokens.get(self.name) or [_dkim_token() for _ in range(3)]
                backend.dkim_tokens[self.name] = tokens
                identity.dkim_attributes["Tokens"] = tokens
            feedback = properties.get("FeedbackAttributes") or {}
            identity.feedback_forwarding_status = _truthy(feedback.get("EmailForwardingEnabled", True))
            mail_from = properties.get("MailFromAttributes") or {}
            if mail_from.get("MailFromDomain"):
                behaviour = mail_from.get("BehaviorOnMxFailure", "USE_DEFAULT_VALUE")
                backend.identity_mail_from_domains[self.name] = {
                    "mail_from_domain": mail_from["MailFromDomain"],
                    "behavior_on_mx_failure": "RejectMessage"
                    if behaviour == "REJECT_MESSAGE"
                    else "UseDefaultValue",
                }
            else:
                backend.identity_mail_from_domains.pop(self.name, None)

        def update(self, properties: dict[str, Any]) -> None:
            identity = self.backend().email_identities.get(self.name)
            self.properties = properties
            if identity is None:
                self.create()
            else:
                self._apply(identity)

        def remove(self) -> None:
            backend = self.backend()
            backend.email_identities.pop(self.name, None)
            backend.identity_mail_from_domains.pop(self.name, None)
            backend.dkim_tokens.pop(self.name, None)

        def attributes(self) -> dict[str, Any]:
            # Easy DKIM: three CNAMEs <token>._domainkey.<domain> -> <token>.dkim.amazonses.com
            # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ses-emailidentity.html
            tokens = self.backend().dkim_tokens.get(self.name) or ["", "", ""]
            values: dict[str, Any] = {}
            for index, token in enumerate(tokens[:3], start=1):
                values[f"DkimDNSTokenName{index}"] = f"{token}._domainkey.{self.name}"
                values[f"DkimDNSTokenValue{index}"] = f"{token}.dkim.amazonses.com"
            return values

    class ConfigurationSet(_SesResource, CloudFormationModel):  # type: ignore[misc]
        TYPE = "AWS::SES::ConfigurationSet"
        NAME_PROPERTY = "Name"

        @classmethod
        def _name_for(cls, resource_name: str, properties: dict[str, Any]) -> str:
            name = str(properties.get("Name") or resource_name)
            return re.sub(r"[^A-Za-z0-9_-]", "-", name)[:64]

        def create(self) -> None:
            backend = self.backend()
            if self.name in backend.config_sets:
                raise SesApiError(
                    "AlreadyExistsException",
                    "ConfigurationSetAlreadyExists",
                    f"Configuration set <{self.name}> already exists.",
                )
            p = self.properties
            backend.create_configuration_set_v2(
                configuration_set_name=self.name,
                tracking_options=p.get("TrackingOptions") or {},
                delivery_options=p.get("DeliveryOptions") or {},
                reputation_options=p.get("ReputationOptions") or {},
                sending_options={
                    "SendingEnabled": _truthy((p.get("SendingOptions") or {}).get("SendingEnabled", True))
                },
                tags=[],
                suppression_options=p.get("SuppressionOptions") or {},
                vdm_options=p.get("VdmOptions") or {},
            )

        def update(self, properties: dict[str, Any]) -> None:
            config_set = self.backend().config_sets.get(self.name)
            self.properties = properties
            if config_set is None:
                self.create()
                return
            config_set.tracking_options = properties.get("TrackingOptions") or {}
            config_set.delivery_options = properties.get("DeliveryOptions") or {}
            config_set.reputation_options = properties.get("ReputationOptions") or {}
            config_set.enabled = {
                "SendingEnabled": _truthy(
                    (properties.get("SendingOptions") or {}).get("SendingEnabled", True)
                )
            }
            config_set.suppression_options = properties.get("SuppressionOptions") or {}
            config_set.vdm_options = properties.get("VdmOptions") or {}

        def remove(self) -> None:
            backend = self.backend()
            backend.config_sets.pop(self.name, None)
            backend.config_set_event_destination.pop(self.name, None)
            extras = extras_of(backend)
            with extras.lock:
                for name in extras.event_destinations.pop(self.name, {}):
                    backend.event_destinations.pop(name, None)

    class ConfigurationSetEventDestination(_SesResource, CloudFormationModel):  # type: ignore[misc]
        TYPE = "AWS::SES::ConfigurationSetEventDestination"
        ATTRIBUTES = ("Id",)

        def __init__(self, account_id: str, region: str, name: str, properties: dict[str, Any]) -> None:
            super().__init__(account_id, region, name, properties)
            spec = properties.get("EventDestination") or {}
            self.destination_name = str(spec.get("Name") or re.sub(r"[^A-Za-z0-9_-]", "-", name)[:64])
            self.config_set = str(properties.get("ConfigurationSetName") or "")

        @property
        def physical_resource_id(self) -> str:
            return self.destination_name

        def attributes(self) -> dict[str, Any]:
            return {"Id": self.destination_name}

        @classmethod
        def _name_after_update(cls, original: Any, new_resource_name: str, properties: dict[str, Any]) -> str:
            return str(original.name)  # named by the properties (checked by replace_needed), not the resource

        def replace_needed(self, new_name: str, properties: dict[str, Any]) -> bool:
            spec = properties.get("EventDestination") or {}
            return properties.get("ConfigurationSetName") != self.config_set or (
                spec.get("Name") is not None and spec.get("Name") != self.destination_name
            )

        def create(self) -> None:
            put_event_destination(
                self.account_id,
                self.region,
                self.config_set,
                self.destination_name,
                self.properties.get("EventDestination") or {},
                create=True,
            )

        def update(self, properties: dict[str, Any]) -> None:
            self.properties = properties
            put_event_destination(
                self.account_id,
                self.region,
                self.config_set,
                self.destination_name,
                properties.get("EventDestination") or {},
                create=False,
            )

        def remove(self) -> None:
            # already gone when its configuration set was deleted first
            with contextlib.suppress(SesApiError):
                delete_event_destination(self.account_id, self.region, self.config_set, self.destination_name)

        @classmethod
        def delete_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
        ) -> None:
            properties = cloudformation_json.get("Properties") or {}
            resource = cls(account_id, region_name, resource_name, properties)
            resource.destination_name = resource_name
            resource.remove()

    class Template(_SesResource, CloudFormationModel):  # type: ignore[misc]
        TYPE = "AWS::SES::Template"
        ATTRIBUTES = ("Id",)

        @classmethod
        def _name_for(cls, resource_name: str, properties: dict[str, Any]) -> str:
            name = (properties.get("Template") or {}).get("TemplateName") or resource_name
            return re.sub(r"[^A-Za-z0-9_-]", "-", str(name))[:64]

        def attributes(self) -> dict[str, Any]:
            return {"Id": self.name}

        def replace_needed(self, new_name: str, properties: dict[str, Any]) -> bool:
            explicit = (properties.get("Template") or {}).get("TemplateName")
            return explicit is not None and explicit != self.name

        def create(self) -> None:
            backend = self.backend()
            if self.name in backend.templates:
                raise SesApiError(
                    "AlreadyExistsException", "AlreadyExists", f"Template {self.name} already exists."
                )
            self._store()

        def _store(self) -> None:
            spec = self.properties.get("Template") or {}
            if not spec.get("SubjectPart"):
                raise SesApiError(
                    "BadRequestException", "InvalidParameterValue", "The subject must be specified."
                )
            self.backend().templates[self.name] = {
                "template_name": self.name,
                "subject_part": spec.get("SubjectPart", ""),
                "text_part": spec.get("TextPart", ""),
                "html_part": spec.get("HtmlPart", ""),
                "Timestamp": datetime.now(tz=UTC),
            }

        def update(self, properties: dict[str, Any]) -> None:
            self.properties = properties
            self._store()

        def remove(self) -> None:
            self.backend().templates.pop(self.name, None)

    class ContactList(_SesResource, CloudFormationModel):  # type: ignore[misc]
        TYPE = "AWS::SES::ContactList"
        NAME_PROPERTY = "ContactListName"

        def create(self) -> None:
            from moto.ses.models import ContactList as MotoContactList

            backend = self.backend()
            if self.name in backend.contacts_lists:
                raise SesApiError(
                    "AlreadyExistsException", "AlreadyExists", f"List {self.name} already exists."
                )
            if backend.contacts_lists:
                # One contact list per account: https://docs.aws.amazon.com/ses/latest/dg/sending-email-subscription-management.html
                raise SesApiError(
                    "LimitExceededException", "LimitExceeded", "An account can have only one contact list."
                )
            backend.contacts_lists[self.name] = MotoContactList(
                self.name, self.properties.get("Description"), list(self.properties.get("Topics") or [])
            )

        def update(self, properties: dict[str, Any]) -> None:
            contact_list = self.backend().contacts_lists.get(self.name)
            self.properties = properties
            if contact_list is None:
                self.create()
                return
            contact_list.description = properties.get("Description")
            contact_list.topics = list(properties.get("Topics") or [])

        def remove(self) -> None:
            self.backend().contacts_lists.pop(self.name, None)

    class ReceiptRuleSet(_SesResource, CloudFormationModel):  # type: ignore[misc]
        TYPE = "AWS::SES::ReceiptRuleSet"
        NAME_PROPERTY = "RuleSetName"

        @classmethod
        def _name_for(cls, resource_name: str, properties: dict[str, Any]) -> str:
            name = str(properties.get("RuleSetName") or resource_name)
            return re.sub(r"[^A-Za-z0-9_.-]", "-", name)[:64].strip("-.") or "rule-set"

        def create(self) -> None:
            self.backend().create_receipt_rule_set(self.name)

        def replace_needed(self, new_name: str, properties: dict[str, Any]) -> bool:
            return new_name != self.name

        def update(self, properties: dict[str, Any]) -> None:
            self.properties = properties

        def remove(self) -> None:
            backend = self.backend()
            rule_set = backend.receipt_rule_set.get(self.name)
            if rule_set is not None:
                rule_set.is_active = False
                backend.delete_receipt_rule_set(self.name)

    class ReceiptRule(_SesResource, CloudFormationModel):  # type: ignore[misc]
        TYPE = "AWS::SES::ReceiptRule"

        def __init__(self, account_id: str, region: str, name: str, properties: dict[str, Any]) -> None:
            super().__init__(account_id, region, name, properties)
            self.rule_set = str(properties.get("RuleSetName") or "")
            rule = properties.get("Rule") or {}
            self.rule_name = str(rule.get("Name") or re.sub(r"[^A-Za-z0-9_.-]", "-", name)[:64].strip("-."))

        @property
        def physical_resource_id(self) -> str:
            return self.rule_name

        def _rule(self) -> dict[str, Any]:
            rule = dict(self.properties.get("Rule") or {})
            rule["Name"] = self.rule_name
            rule.setdefault("Enabled", False)
            rule.setdefault("ScanEnabled", False)
            rule.setdefault("TlsPolicy", "Optional")
            rule.setdefault("Recipients", [])
            rule.setdefault("Actions", [])
            return rule

        def create(self) -> None:
            self.backend().create_receipt_rule(self.rule_set, self._rule(), self.properties.get("After"))

        @classmethod
        def _name_after_update(cls, original: Any, new_resource_name: str, properties: dict[str, Any]) -> str:
            return str(original.name)  # named by the properties (checked by replace_needed), not the resource

        def replace_needed(self, new_name: str, properties: dict[str, Any]) -> bool:
            rule = properties.get("Rule") or {}
            return properties.get("RuleSetName") != self.rule_set or (
                rule.get("Name") is not None and rule.get("Name") != self.rule_name
            )

        def update(self, properties: dict[str, Any]) -> None:
            self.properties = properties
            self.backend().update_receipt_rule(self.rule_set, self._rule())

        def remove(self) -> None:
            rule_set = self.backend().receipt_rule_set.get(self.rule_set)
            if rule_set is not None:
                rule_set.rules[:] = [r for r in rule_set.rules if r.get("Name") != self.rule_name]

    class DedicatedIpPool(_SesResource, CloudFormationModel):  # type: ignore[misc]
        TYPE = "AWS::SES::DedicatedIpPool"
        NAME_PROPERTY = "PoolName"

        @classmethod
        def _name_for(cls, resource_name: str, properties: dict[str, Any]) -> str:
            return re.sub(r"[^A-Za-z0-9_-]", "-", str(properties.get("PoolName") or resource_name))[:64]

        def create(self) -> None:
            from moto.ses.models import DedicatedIpPool as MotoPool

            backend = self.backend()
            if self.name in backend.dedicated_ip_pools:
                raise SesApiError(
                    "AlreadyExistsException", "AlreadyExists", f"Pool {self.name} already exists."
                )
            backend.dedicated_ip_pools[self.name] = MotoPool(
                pool_name=self.name, scaling_mode=self.properties.get("ScalingMode", "STANDARD"), tags=[]
            )

        def update(self, properties: dict[str, Any]) -> None:
            self.properties = properties
            pool = self.backend().dedicated_ip_pools.get(self.name)
            if pool is None:
                self.create()
            else:
                pool.scaling_mode = properties.get("ScalingMode", "STANDARD")

        def remove(self) -> None:
            self.backend().dedicated_ip_pools.pop(self.name, None)

    class VdmAttributes(_SesResource, CloudFormationModel):  # type: ignore[misc]
        """Account-level Virtual Deliverability Manager settings (stored; GetAccount shows them)."""

        TYPE = "AWS::SES::VdmAttributes"
        ATTRIBUTES = ("VdmAttributesResourceId",)

        def attributes(self) -> dict[str, Any]:
            return {"VdmAttributesResourceId": self.name}

        def replace_needed(self, new_name: str, properties: dict[str, Any]) -> bool:
            return False

        def create(self) -> None:
            p = self.properties
            dashboard = (p.get("DashboardAttributes") or {}).get("EngagementMetrics", "DISABLED")
            guardian = (p.get("GuardianAttributes") or {}).get("OptimizedSharedDelivery", "DISABLED")
            extras_of(self.backend()).vdm_attributes = {
                "VdmEnabled": "ENABLED" if "ENABLED" in (dashboard, guardian) else "DISABLED",
                "DashboardAttributes": {"EngagementMetrics": dashboard},
                "GuardianAttributes": {"OptimizedSharedDelivery": guardian},
            }

        def update(self, properties: dict[str, Any]) -> None:
            self.properties = properties
            self.create()

        def remove(self) -> None:
            extras_of(self.backend()).vdm_attributes = {}

    return [
        EmailIdentity,
        ConfigurationSet,
        ConfigurationSetEventDestination,
        Template,
        ContactList,
        ReceiptRuleSet,
        ReceiptRule,
        DedicatedIpPool,
        VdmAttributes,
    ]


def _dkim_token() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


# ================================================================================================
# install
# ================================================================================================
_INSTALL_LOCK = threading.Lock()
MODELS: list[type] = []
_V2_ROUTES = (
    "{0}/v2/email/configuration-sets/(?P<ConfigurationSetName>[^/]+)/event-destinations$",
    "{0}/v2/email/configuration-sets/(?P<ConfigurationSetName>[^/]+)/event-destinations/(?P<EventDestinationName>[^/]+)$",
    "{0}/v2/email/suppression/addresses$",
    "{0}/v2/email/suppression/addresses/(?P<EmailAddress>[^/]+)$",
    "{0}/v2/email/account$",
    "{0}/v2/email/account/suppression$",
    "{0}/v2/email/templates$",
    "{0}/v2/email/templates/(?P<TemplateName>[^/]+)$",
    "{0}/v2/email/templates/(?P<TemplateName>[^/]+)/render$",
)


def install(state: SandboxState) -> None:
    """Patch moto's SES / SESv2 once (idempotent) and register the SES CloudFormation types."""
    with _INSTALL_LOCK:
        emulator = state.extras.get("ses")
        if not isinstance(emulator, SesEmulator):
            emulator = SesEmulator(state)
            state.extras["ses"] = emulator
        _EMULATOR[0] = emulator
        if MODELS:
            return
        from moto.cloudformation import parsing
        from moto.ses.models import SESBackend
        from moto.ses.responses import EmailResponse
        from moto.sesv2.responses import SESV2Response

        EmailResponse.send_email = lambda self: _v1_send(self, "simple")  # type: ignore[method-assign]
        EmailResponse.send_templated_email = lambda self: _v1_send(self, "template")  # type: ignore[method-assign]
        EmailResponse.send_raw_email = lambda self: _v1_send(self, "raw")  # type: ignore[method-assign]
        EmailResponse.get_send_quota = _v1_get_send_quota  # type: ignore[method-assign]
        EmailResponse.create_configuration_set_event_destination = _v1_create_event_destination  # type: ignore[method-assign]
        SESV2Response.send_email = _v2_send_email  # type: ignore[method-assign]
        for name, function in {
            **_v2_event_destination_ops(),
            **_v2_suppression_ops(),
            **_v2_template_ops(),
        }.items():
            setattr(SESV2Response, name, function)

        original_create_identity = SESBackend.create_email_identity_v2

        def create_email_identity_v2(self: Any, *args: Any, **kwargs: Any) -> Any:
            # The sandbox has no DNS or inbox to verify with: every identity is verified on creation.
            identity = original_create_identity(self, *args, **kwargs)
            identity.verified_for_sending_status = True
            return identity

        SESBackend.create_email_identity_v2 = create_email_identity_v2  # type: ignore[method-assign]

        original_delete_config_set = SESBackend.delete_configuration_set

        def delete_configuration_set(self: Any, configuration_set_name: str) -> None:
            if configuration_set_name not in self.config_sets:
                from moto.ses.exceptions import ConfigurationSetDoesNotExist

                raise ConfigurationSetDoesNotExist(
                    f"Configuration set <{configuration_set_name}> does not exist."
                )
            original_delete_config_set(self, configuration_set_name)
            extras = extras_of(self)
            with extras.lock:
                for name in extras.event_destinations.pop(configuration_set_name, {}):
                    self.event_destinations.pop(name, None)
            self.config_set_event_destination.pop(configuration_set_name, None)

        SESBackend.delete_configuration_set = delete_configuration_set  # type: ignore[method-assign]

        # moto's SESv2 routes stop one level below /v2/email/<thing>/<name>: register the operations above.
        from moto.sesv2 import urls as sesv2_urls

        for pattern in _V2_ROUTES:
            sesv2_urls.url_paths.setdefault(pattern, SESV2Response.dispatch)

        MODELS.extend(_models())
        for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
            cached.cache_clear()
        state.log(COMPONENT, "installed", models=[m.__name__ for m in MODELS])
