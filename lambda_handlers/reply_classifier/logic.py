"""Pure decisions of the reply classifier: what a received mail is, and what forwarding it looks like.

Classification (first match wins):

1. **Bounce** - a delivery report, not a reply: ``Content-Type: multipart/report;
   report-type=delivery-status`` or a ``MAILER-DAEMON`` sender.
2. **Automatic response** - any strong signal: ``Auto-Submitted`` with any value but ``no`` (RFC 3834
   section 5: ``auto-replied``, ``auto-generated``, ...), ``X-Autoreply`` / ``X-Autorespond`` (set by
   common auto-responders), ``Precedence: bulk | junk | auto_reply``, ``X-Auto-Response-Suppress``
   (Exchange / Outlook mark their own automatic replies with it). A weak signal - a subject starting
   with an out-of-office prefix (Microsoft's ``Automatic reply:``, ``Out of Office:``, ...) - counts
   unless the mail says ``Auto-Submitted: no`` (a client stating that a person sent it).
3. **Bounce** again for a null sender (``Return-Path: <>``) without automatic-response headers: RFC 3834
   asks auto-responders to use the null sender too, so it only decides when nothing else does.
4. Otherwise a **human reply**.

Forwarding keeps the message as it came (body, attachments, ``Subject``, ``Date``, ``In-Reply-To``,
``References``) but sends it ``From`` the deployment's verified sending identity with ``Reply-To`` the
original sender: a message ``From`` the customer's own domain, sent through our SES identity, fails that
domain's DMARC check (neither SPF nor DKIM aligns with it), so receivers would quarantine or reject it, and
SES only sends from verified identities anyway. Replying to the forward still reaches the customer.
Signatures that no longer match (``DKIM-Signature``, ``ARC-*``) and the original recipients are dropped.

The mail is parsed with the standard library's ``compat32`` policy: it never raises on a malformed
header (values stay strings), so any bytes yield a classification.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email import message_from_bytes
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import formataddr, getaddresses, parseaddr
from enum import StrEnum
from typing import Any

from lambda_handlers.common.errors import PermanentError
from lambda_handlers.contracts import (
    REPLY_RECEIVED_EVENT_TYPE,
    REPLY_SCHEMA_VERSION,
    is_valid_email,
    split_sender_address,
)

#: ``Precedence`` values of automatic mail (RFC 3834 section 3.1.8 and common practice).
AUTO_PRECEDENCE = frozenset({"bulk", "junk", "auto_reply"})
#: Subject prefixes of automatic replies (case-insensitive, at the start): Microsoft Exchange / Outlook in
#: the languages most often seen, and the generic forms. A weak signal (see the module docstring).
AUTO_REPLY_SUBJECT_PREFIXES = (
    "automatic reply:",
    "out of office:",
    "out of office autoreply:",
    "out of the office:",
    "auto-reply:",
    "autoreply:",
    "auto:",
    "automatische antwort:",
    "abwesenheitsnotiz:",
    "réponse automatique:",
    "respuesta automática:",
    "risposta automatica:",
    "resposta automática:",
    "automatisch antwoord:",
)
#: Headers removed from a forwarded message: sender and recipients (replaced), trace and signatures that
#: the new sender would break.
DROPPED_ON_FORWARD = (
    "From",
    "Sender",
    "Reply-To",
    "Return-Path",
    "To",
    "Cc",
    "Bcc",
    "Message-ID",
    "DKIM-Signature",
    "DomainKey-Signature",
    "ARC-Seal",
    "ARC-Message-Signature",
    "ARC-Authentication-Results",
    "Errors-To",
    "Disposition-Notification-To",
    "Return-Receipt-To",
)
MAX_HEADER_VALUE = 998
"""RFC 5322 line length: longer header values are cut in the forward-queue message."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class ReplyKind(StrEnum):
    HUMAN = "human"
    AUTO_RESPONSE = "auto_response"
    BOUNCE = "bounce"


@dataclass(frozen=True)
class Classification:
    kind: ReplyKind
    signals: tuple[str, ...] = ()
    """The rules that decided (header names such as ``Auto-Submitted``): safe to log, never a value."""


class MalformedMailError(PermanentError):
    """The stored mail cannot be forwarded (no usable sender, cannot be serialized again)."""


def parse_mail(raw: bytes) -> Message:
    """The mail as a ``compat32`` message: lenient, never raises on malformed headers."""
    return message_from_bytes(raw, policy=compat32)


def header_text(message: Message, name: str) -> str | None:
    """The first ``name`` header as one line of text (RFC 2047 words decoded when they can be), or ``None``."""
    try:
        value = message.get(name)
    except Exception:  # compat32 keeps raw strings; this is a last line of defence
        return None
    if value is None:
        return None
    text = str(value)
    with contextlib.suppress(Exception):  # an undecodable encoded word or charset keeps the raw text
        text = str(make_header(decode_header(text)))
    return _CONTROL.sub(" ", text).strip()


def _bare_addresses(value: str | None) -> list[str]:
    if not value:
        return []
    try:
        pairs = getaddresses([value])
    except Exception:
        return []
    return [address.strip() for _, address in pairs if address.strip()]


def classify(message: Message) -> Classification:
    """Bounce, automatic response or human reply (the module docstring lists the rules)."""
    content_type = (header_text(message, "Content-Type") or "").lower()
    if content_type.startswith("multipart/report") and "delivery-status" in content_type:
        return Classification(ReplyKind.BOUNCE, ("Content-Type",))
    senders = _bare_addresses(header_text(message, "From"))
    if any(address.lower().split("@")[0] == "mailer-daemon" for address in senders):
        return Classification(ReplyKind.BOUNCE, ("From",))

    strong: list[str] = []
    auto_submitted = header_text(message, "Auto-Submitted")
    explicit_human = False
    if auto_submitted is not None:
        token = auto_submitted.split(";")[0].strip().lower()
        if token == "no":
            explicit_human = True
        elif token:
            strong.append("Auto-Submitted")
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        if header_text(message, name):
            strong.append(name)
    precedence = (header_text(message, "Precedence") or "").strip().lower()
    if precedence in AUTO_PRECEDENCE:
        strong.append("Precedence")
    if strong:
        return Classification(ReplyKind.AUTO_RESPONSE, tuple(strong))
    subject = (header_text(message, "Subject") or "").lower()
    if not explicit_human and subject.startswith(AUTO_REPLY_SUBJECT_PREFIXES):
        return Classification(ReplyKind.AUTO_RESPONSE, ("Subject",))

    return_path = header_text(message, "Return-Path")
    if return_path is not None and return_path.strip() in ("<>", ""):
        return Classification(ReplyKind.BOUNCE, ("Return-Path",))
    return Classification(ReplyKind.HUMAN)


@dataclass(frozen=True)
class Sender:
    """Who replied: the address replies to the forward go to, and the ``From`` address."""

    from_address: str
    reply_to: str
    """``Reply-To`` of the forward: the original ``Reply-To`` when it holds a valid address, else ``From``."""
    display_name: str


def sender_of(message: Message) -> Sender:
    """The replying person; :class:`MalformedMailError` when ``From`` holds no valid address."""
    name, address = parseaddr(header_text(message, "From") or "")
    if not is_valid_email(address):
        raise MalformedMailError("mail has no valid From address; it cannot be answered or forwarded")
    reply_to = next(
        (a for a in _bare_addresses(header_text(message, "Reply-To")) if is_valid_email(a)), address
    )
    return Sender(from_address=address, reply_to=reply_to, display_name=name.strip())


def _short(value: str | None) -> str | None:
    return value[:MAX_HEADER_VALUE] if value else None


def forward_request(
    message: Message, sender: Sender, *, from_address: str, to_address: str
) -> dict[str, Any]:
    """The SESv2 ``SendEmail`` parameters forwarding ``message`` (raw content) to ``to_address``."""
    for name in DROPPED_ON_FORWARD:
        del message[name]
    from_name, from_bare = split_sender_address(from_address)
    message["From"] = formataddr((from_name, from_bare), charset="utf-8") if from_name else from_bare
    reply_name = sender.display_name if sender.reply_to == sender.from_address else ""
    message["Reply-To"] = formataddr((reply_name, sender.reply_to), charset="utf-8")
    message["To"] = to_address
    buffer = io.BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=compat32.clone(linesep="\r\n")).flatten(message)
    except Exception as exc:
        raise MalformedMailError(f"mail cannot be serialized for forwarding ({type(exc).__name__})") from None
    return {
        "FromEmailAddress": from_address,
        "Destination": {"ToAddresses": [to_address]},
        "Content": {"Raw": {"Data": buffer.getvalue()}},
    }


def queue_message(
    message: Message, sender: Sender, *, bucket: str, key: str, ses_message_id: str, received_at: str | None
) -> Mapping[str, Any]:
    """The forward-queue message of a human reply (keys :data:`contracts.REPLY_MESSAGE_KEYS`): where the
    raw mail is and who sent it, never its body."""
    return {
        "event_type": REPLY_RECEIVED_EVENT_TYPE,
        "schema_version": REPLY_SCHEMA_VERSION,
        "bucket": bucket,
        "key": key,
        "ses_message_id": ses_message_id,
        "from": sender.from_address,
        "reply_to": sender.reply_to,
        "subject": _short(header_text(message, "Subject")),
        "message_id": _short(header_text(message, "Message-ID")),
        "in_reply_to": _short(header_text(message, "In-Reply-To")),
        "received_at": received_at,
    }
