"""Pure decisions of the bounce processor (frozen dataclasses in, frozen dataclasses out, no I/O).

- Permanent bounce: suppress every ``bouncedRecipients`` address (reason ``BOUNCE``).
- Transient / Undetermined bounce: count it per address; suppress once ``threshold`` soft bounces fall
  within ``window``. The count is kept as a set of ``"<iso-timestamp>|<ses message id>"`` elements, so a
  redelivered notification adds nothing.
- Complaint: suppress every ``complainedRecipients`` address (reason ``COMPLAINT``) unless the feedback
  type is ``not-spam``; each complaint suppression is also reported in the alert summary.
- Reject and Rendering Failure: metric plus an alert. Everything else: metrics only.

The alert summary is bounded whatever the batch holds: at most :data:`MAX_ALERT_LINES` detail lines, at
most :data:`MAX_ALERT_RECIPIENTS` (masked) recipients and :data:`MAX_ALERT_DETAIL_CHARS` characters of
detail per line, and never more than :data:`MAX_SUMMARY_BYTES` bytes of UTF-8 (SNS allows 256 KiB); the
alerts left out are counted (``... and 9,950 more``).
"""

from __future__ import annotations

import re
from collections import Counter as TallyCounter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from lambda_handlers.bounce_processor.models import SesEvent, SesEventType, parse_timestamp
from lambda_handlers.common.addresses import mask_address, normalize_address

NOT_SPAM_FEEDBACK_TYPE = "not-spam"
ELEMENT_SEPARATOR = "|"
MAX_ALERT_LINES = 50
MAX_ALERT_RECIPIENTS = 10
MAX_ALERT_DETAIL_CHARS = 300
MAX_SUMMARY_BYTES = 200 * 1024
"""Budget for the summary body in UTF-8 bytes: well under SNS's 262,144-byte message limit."""
MAX_SUBJECT_LENGTH = 99  # SNS: "less than 100 characters"
_ADDRESS_LIKE = re.compile(r"[^\s@<>()\[\],;:\"']{0,64}@[^\s@<>()\[\],;:\"']{0,253}")


class SuppressionReason(StrEnum):
    """Same values as SESv2 ``PutSuppressedDestination`` ``Reason``."""

    BOUNCE = "BOUNCE"
    COMPLAINT = "COMPLAINT"


class SuppressionSource(StrEnum):
    PERMANENT_BOUNCE = "permanent-bounce"
    SOFT_BOUNCE_THRESHOLD = "soft-bounce-threshold"
    COMPLAINT = "complaint"


class AlertKind(StrEnum):
    REJECT = "Reject"
    RENDERING_FAILURE = "Rendering Failure"
    COMPLAINT_SUPPRESSION = "Complaint suppression"


@dataclass(frozen=True)
class Suppression:
    """One suppression table item to write (``address`` is already lower-cased)."""

    address: str
    reason: SuppressionReason
    source: SuppressionSource
    ses_message_id: str
    detail: tuple[tuple[str, str], ...] = ()

    def detail_map(self) -> dict[str, str]:
        return {"source": self.source.value, **dict(self.detail)}


@dataclass(frozen=True)
class SoftBounce:
    address: str
    occurred_at: datetime
    ses_message_id: str
    bounce_type: str
    bounce_sub_type: str

    @property
    def element(self) -> str:
        return soft_bounce_element(self.occurred_at, self.ses_message_id)


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    ses_message_id: str
    addresses: tuple[str, ...]
    detail: str | None = None


@dataclass(frozen=True)
class EventDecision:
    suppressions: tuple[Suppression, ...] = ()
    soft_bounces: tuple[SoftBounce, ...] = ()
    alerts: tuple[Alert, ...] = ()
    ignored_complaint: bool = False
    """A ``not-spam`` complaint: nothing is suppressed."""


@dataclass(frozen=True)
class SoftBouncePolicy:
    threshold: int
    window: timedelta


@dataclass(frozen=True)
class SoftBounceAssessment:
    count_in_window: int
    stale_elements: tuple[str, ...]
    threshold_reached: bool


@dataclass(frozen=True)
class AlertSummary:
    subject: str
    body: str


def _unique(addresses: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(normalize_address(a) for a in addresses))


def decide(event: SesEvent) -> EventDecision:
    """What to do about one SES event."""
    kind, message_id = event.event_type, event.ses_message_id or ""
    if kind is SesEventType.BOUNCE and (bounce := event.bounce) is not None:
        addresses, types = _unique(bounce.recipients), (bounce.bounce_type, bounce.bounce_sub_type)
        if bounce.bounce_type != "Permanent":
            return EventDecision(
                soft_bounces=tuple(SoftBounce(a, bounce.timestamp, message_id, *types) for a in addresses)
            )
        detail: tuple[tuple[str, str], ...] = (
            ("bounce_type", bounce.bounce_type),
            ("bounce_sub_type", bounce.bounce_sub_type),
        )
        reason, source = SuppressionReason.BOUNCE, SuppressionSource.PERMANENT_BOUNCE
        return EventDecision(
            suppressions=tuple(Suppression(a, reason, source, message_id, detail) for a in addresses)
        )
    if kind is SesEventType.COMPLAINT and (complaint := event.complaint) is not None:
        if complaint.feedback_type == NOT_SPAM_FEEDBACK_TYPE:
            return EventDecision(ignored_complaint=True)
        addresses, feedback_type = _unique(complaint.recipients), complaint.feedback_type or "unspecified"
        reason, source = SuppressionReason.COMPLAINT, SuppressionSource.COMPLAINT
        detail = (("feedback_type", feedback_type),)
        alert = Alert(
            AlertKind.COMPLAINT_SUPPRESSION, message_id, addresses, f"feedback type {feedback_type}"
        )
        return EventDecision(
            suppressions=tuple(Suppression(a, reason, source, message_id, detail) for a in addresses),
            alerts=(alert,) if addresses else (),
        )
    destination = event.mail.destination if event.mail else ()
    if kind is SesEventType.REJECT:
        reject_reason = event.reject.reason if event.reject else None
        return EventDecision(alerts=(Alert(AlertKind.REJECT, message_id, destination, reject_reason),))
    if kind is SesEventType.RENDERING_FAILURE:
        text = None
        if (failure := event.rendering_failure) is not None:
            text = f"template {failure.template_name or '?'}: {failure.error_message or 'no message'}"
        return EventDecision(alerts=(Alert(AlertKind.RENDERING_FAILURE, message_id, destination, text),))
    return EventDecision()


def soft_bounce_element(occurred_at: datetime, ses_message_id: str) -> str:
    """``"2024-05-01T12:00:00.123+00:00|<ses message id>"``: one soft bounce of one mail."""
    return occurred_at.astimezone(UTC).isoformat(timespec="milliseconds") + ELEMENT_SEPARATOR + ses_message_id


def element_timestamp(element: str) -> datetime | None:
    timestamp, separator, _ = element.partition(ELEMENT_SEPARATOR)
    return parse_timestamp(timestamp) if separator else None


def assess_soft_bounces(
    elements: Iterable[str], *, now: datetime, policy: SoftBouncePolicy
) -> SoftBounceAssessment:
    """Count the soft bounces within the window; older (or unreadable) elements are stale."""
    unique = sorted(set(elements))
    window_start = now - policy.window
    stale = tuple(e for e in unique if (at := element_timestamp(e)) is None or at < window_start)
    in_window = len(unique) - len(stale)
    return SoftBounceAssessment(in_window, stale, threshold_reached=in_window >= policy.threshold)


def soft_bounce_expiry(now: datetime, policy: SoftBouncePolicy) -> int:
    """Epoch seconds for the soft-bounce item's TTL attribute ``expires_at``."""
    return int((now + policy.window).timestamp())


def threshold_suppression(bounce: SoftBounce, assessment: SoftBounceAssessment) -> Suppression | None:
    if not assessment.threshold_reached:
        return None
    detail = (
        ("bounce_type", bounce.bounce_type),
        ("bounce_sub_type", bounce.bounce_sub_type),
        ("soft_bounce_count", str(assessment.count_in_window)),
    )
    source = SuppressionSource.SOFT_BOUNCE_THRESHOLD
    return Suppression(bounce.address, SuppressionReason.BOUNCE, source, bounce.ses_message_id, detail)


def _alert_line(alert: Alert) -> str:
    shown = [mask_address(a) for a in alert.addresses[:MAX_ALERT_RECIPIENTS]]
    hidden = len(alert.addresses) - len(shown)
    recipients = ", ".join(shown) + (f" and {hidden:,} more" if hidden > 0 else "")
    line = (
        f"  - {alert.kind.value}: SES message {alert.ses_message_id or '?'}; recipients {recipients or '-'}"
    )
    if alert.detail:
        detail = alert.detail
        if len(detail) > MAX_ALERT_DETAIL_CHARS:
            detail = detail[: MAX_ALERT_DETAIL_CHARS - 3] + "..."
        # Free text from SES (reject reason, template error): anything address-like is masked.
        line += "; " + _ADDRESS_LIKE.sub(lambda match: mask_address(match.group(0)), detail)
    return line


def summarize_alerts(
    alerts: Iterable[Alert], *, now: datetime, source: str = "bounce_processor"
) -> AlertSummary | None:
    """One readable SNS message for all alerts of a batch (addresses masked); ``None`` without alerts."""
    alert_list = list(alerts)
    if not alert_list:
        return None
    tally = TallyCounter(alert.kind for alert in alert_list)
    kinds = [kind for kind in AlertKind if tally[kind]]
    when = now.astimezone(UTC).isoformat(timespec="seconds")
    lines = [
        f"{len(alert_list)} SES event(s) need attention ({source}, {when}).",
        "",
        "Counts:",
        *(f"  {kind.value}: {tally[kind]}" for kind in kinds),
        "",
        "Details:",
    ]
    used = sum(len(line.encode("utf-8")) + 1 for line in lines)
    listed = 0
    for line in map(_alert_line, alert_list[:MAX_ALERT_LINES]):
        used += len(line.encode("utf-8")) + 1
        if used > MAX_SUMMARY_BYTES - 64:  # room for the "... and N more" line
            break
        lines.append(line)
        listed += 1
    if listed < len(alert_list):
        lines.append(f"  ... and {len(alert_list) - listed:,} more")
    subject = "SES alert: " + ", ".join(f"{tally[kind]} {kind.value}" for kind in kinds)
    return AlertSummary(subject=subject[:MAX_SUBJECT_LENGTH], body="\n".join(lines) + "\n")
