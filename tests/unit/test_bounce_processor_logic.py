"""bounce_processor decisions with plain values (no AWS, no mocks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_handlers.bounce_processor.logic import (
    MAX_ALERT_LINES,
    MAX_SUMMARY_BYTES,
    Alert,
    AlertKind,
    SoftBounce,
    SoftBouncePolicy,
    Suppression,
    SuppressionReason,
    SuppressionSource,
    assess_soft_bounces,
    decide,
    element_timestamp,
    soft_bounce_element,
    soft_bounce_expiry,
    summarize_alerts,
    threshold_suppression,
)
from lambda_handlers.bounce_processor.models import (
    Bounce,
    Complaint,
    Mail,
    Reject,
    RenderingFailure,
    SesEvent,
    SesEventType,
    SourceFormat,
)

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
POLICY = SoftBouncePolicy(threshold=3, window=timedelta(hours=72))
MAIL = Mail(
    message_id="ses-1",
    timestamp=NOW,
    destination=("jane@example.net", "mary@example.net", "richard@example.net"),
    tags={},
)


def event(event_type: SesEventType, **parts: object) -> SesEvent:
    return SesEvent(event_type=event_type, source_format=SourceFormat.EVENT_PUBLISHING, mail=MAIL, **parts)  # type: ignore[arg-type]


def bounce(bounce_type: str, *recipients: str) -> SesEvent:
    return event(
        SesEventType.BOUNCE,
        bounce=Bounce(
            bounce_type=bounce_type,
            bounce_sub_type="General",
            recipients=recipients,
            timestamp=NOW,
            feedback_id=None,
        ),
    )


def test_permanent_bounce_suppresses_only_the_bounced_recipients() -> None:
    # GIVEN a permanent bounce for Jane (twice, different case) on a mail to three recipients
    # WHEN deciding
    decision = decide(bounce("Permanent", "Jane@Example.net", "jane@example.net"))

    # THEN only jane (lower-cased, once) is suppressed for BOUNCE
    assert decision.suppressions == (
        Suppression(
            address="jane@example.net",
            reason=SuppressionReason.BOUNCE,
            source=SuppressionSource.PERMANENT_BOUNCE,
            ses_message_id="ses-1",
            detail=(("bounce_type", "Permanent"), ("bounce_sub_type", "General")),
        ),
    )
    assert decision.soft_bounces == () and decision.alerts == ()
    assert decision.suppressions[0].detail_map() == {
        "source": "permanent-bounce",
        "bounce_type": "Permanent",
        "bounce_sub_type": "General",
    }


@pytest.mark.parametrize("bounce_type", ["Transient", "Undetermined"])
def test_soft_bounces_are_counted_not_suppressed(bounce_type: str) -> None:
    decision = decide(bounce(bounce_type, "mary@example.net"))
    assert decision.suppressions == ()
    assert decision.soft_bounces == (SoftBounce("mary@example.net", NOW, "ses-1", bounce_type, "General"),)


def test_complaint_suppresses_and_alerts() -> None:
    complaint = Complaint(
        recipients=("Richard@example.net",), feedback_type="abuse", sub_type=None, feedback_id=None
    )
    decision = decide(event(SesEventType.COMPLAINT, complaint=complaint))
    [suppression] = decision.suppressions
    assert (suppression.address, suppression.reason, suppression.source) == (
        "richard@example.net",
        SuppressionReason.COMPLAINT,
        SuppressionSource.COMPLAINT,
    )
    assert suppression.detail_map() == {"source": "complaint", "feedback_type": "abuse"}
    assert decision.alerts == (
        Alert(AlertKind.COMPLAINT_SUPPRESSION, "ses-1", ("richard@example.net",), "feedback type abuse"),
    )


def test_not_spam_complaint_is_ignored() -> None:
    complaint = Complaint(
        recipients=("a@example.net",), feedback_type="not-spam", sub_type=None, feedback_id=None
    )
    decision = decide(event(SesEventType.COMPLAINT, complaint=complaint))
    assert decision.ignored_complaint
    assert decision.suppressions == () and decision.alerts == ()


def test_reject_and_rendering_failure_alert() -> None:
    reject = decide(event(SesEventType.REJECT, reject=Reject(reason="Bad content")))
    assert reject.alerts == (Alert(AlertKind.REJECT, "ses-1", MAIL.destination, "Bad content"),)
    failure = decide(
        event(
            SesEventType.RENDERING_FAILURE, rendering_failure=RenderingFailure("tpl", "Attribute 'x' missing")
        )
    )
    assert failure.alerts[0].detail == "template tpl: Attribute 'x' missing"
    assert failure.suppressions == ()


@pytest.mark.parametrize(
    "event_type",
    [
        SesEventType.DELIVERY,
        SesEventType.SEND,
        SesEventType.OPEN,
        SesEventType.CLICK,
        SesEventType.DELIVERY_DELAY,
        SesEventType.SUBSCRIPTION,
    ],
)
def test_informational_events_need_no_action(event_type: SesEventType) -> None:
    decision = decide(event(event_type))
    assert (decision.suppressions, decision.soft_bounces, decision.alerts) == ((), (), ())


def test_metric_names_have_no_spaces() -> None:
    assert SesEventType.RENDERING_FAILURE.metric_name == "SesEventRenderingFailure"


# --------------------------------------------------------------------------------------- soft bounces
def test_soft_bounce_element_round_trips() -> None:
    element = soft_bounce_element(datetime(2024, 5, 1, 14, 0, tzinfo=UTC), "ses-9")
    assert element == "2024-05-01T14:00:00.000+00:00|ses-9"
    assert element_timestamp(element) == datetime(2024, 5, 1, 14, 0, tzinfo=UTC)
    assert element_timestamp("garbage") is None


def test_counts_only_soft_bounces_within_the_window() -> None:
    # GIVEN two recent soft bounces, one older than the window and one unreadable element
    elements = [
        soft_bounce_element(NOW - timedelta(hours=1), "a"),
        soft_bounce_element(NOW - timedelta(hours=71), "b"),
        soft_bounce_element(NOW - timedelta(hours=73), "c"),
        "corrupt",
    ]

    # WHEN assessing them
    assessment = assess_soft_bounces(elements, now=NOW, policy=POLICY)

    # THEN two count, the rest is stale, the threshold (3) is not reached
    assert assessment.count_in_window == 2
    assert set(assessment.stale_elements) == {elements[2], "corrupt"}
    assert not assessment.threshold_reached


def test_threshold_reached_yields_a_soft_bounce_suppression() -> None:
    elements = [soft_bounce_element(NOW - timedelta(hours=h), f"m{h}") for h in (1, 2, 3)]
    assessment = assess_soft_bounces(elements, now=NOW, policy=POLICY)
    bounce_ = SoftBounce("mary@example.net", NOW, "m1", "Transient", "MailboxFull")
    suppression = threshold_suppression(bounce_, assessment)
    assert suppression is not None
    assert suppression.detail_map() == {
        "source": "soft-bounce-threshold",
        "bounce_type": "Transient",
        "bounce_sub_type": "MailboxFull",
        "soft_bounce_count": "3",
    }
    assert threshold_suppression(bounce_, assess_soft_bounces(elements[:2], now=NOW, policy=POLICY)) is None


def test_soft_bounce_item_expires_after_the_window() -> None:
    assert soft_bounce_expiry(NOW, POLICY) == int((NOW + timedelta(hours=72)).timestamp())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=200), st.text(max_size=8)), max_size=12))
def test_duplicates_never_change_the_count(bounces: list[tuple[int, str]]) -> None:
    # GIVEN any set of soft bounces
    elements = [soft_bounce_element(NOW - timedelta(hours=h), m) for h, m in bounces]

    # WHEN every element is delivered twice
    once = assess_soft_bounces(elements, now=NOW, policy=POLICY)
    twice = assess_soft_bounces(elements + elements, now=NOW, policy=POLICY)

    # THEN the assessment is the same (set semantics)
    assert once == twice
    assert once.count_in_window == len({e for (h, _), e in zip(bounces, elements, strict=True) if h <= 72})


# --------------------------------------------------------------------------------------------- alerts
def test_no_alerts_no_summary() -> None:
    assert summarize_alerts([], now=NOW) is None


def test_summary_counts_and_masks() -> None:
    # GIVEN alerts of every kind
    alerts = [
        Alert(AlertKind.REJECT, "ses-1", ("virus@example.net",), "Bad content"),
        Alert(AlertKind.REJECT, "ses-2", ("other@example.net",), None),
        Alert(AlertKind.RENDERING_FAILURE, "ses-3", ("jane@example.net",), "template t: missing"),
        Alert(AlertKind.COMPLAINT_SUPPRESSION, "ses-4", ("angry@example.net",), "feedback type abuse"),
    ]

    # WHEN they are summarised
    summary = summarize_alerts(alerts, now=NOW)

    # THEN one subject with counts and a body listing ids and masked addresses only
    assert summary is not None
    assert summary.subject == "SES alert: 2 Reject, 1 Rendering Failure, 1 Complaint suppression"
    assert "4 SES event(s) need attention" in summary.body
    assert "  - Reject: SES message ses-1; recipients v***@example.net; Bad content" in summary.body
    for address in ("virus@", "other@", "jane@", "angry@"):
        assert address not in summary.body


def test_summary_subject_is_sns_safe_and_body_is_bounded() -> None:
    alerts = [Alert(AlertKind.REJECT, f"ses-{i}", ("a@example.net",), "x") for i in range(250)]
    summary = summarize_alerts(alerts, now=NOW)
    assert summary is not None
    assert len(summary.subject) < 100 and summary.subject.isascii()
    assert "... and 200 more" in summary.body


def test_summary_of_10000_alerts_lists_50_and_counts_the_rest() -> None:
    # GIVEN 10,000 complaint alerts in one batch
    alerts = [
        Alert(AlertKind.COMPLAINT_SUPPRESSION, f"ses-{i}", (f"user{i}@example.net",), "feedback type abuse")
        for i in range(10_000)
    ]

    # WHEN they are summarised
    summary = summarize_alerts(alerts, now=NOW)

    # THEN the counts cover all of them, 50 are listed and the remainder is counted
    assert summary is not None
    assert "10000 SES event(s) need attention" in summary.body
    assert "  Complaint suppression: 10000" in summary.body
    assert summary.body.count("  - Complaint suppression:") == MAX_ALERT_LINES == 50
    assert "  ... and 9,950 more\n" in summary.body


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.builds(
            Alert,
            st.sampled_from(AlertKind),
            st.text(min_size=0, max_size=300),
            st.lists(st.emails() | st.text(max_size=300), max_size=40).map(tuple),
            st.none() | st.text(max_size=5000),
        ),
        min_size=1,
        max_size=120,
    )
)
def test_summary_stays_under_the_sns_limit_whatever_the_alerts(alerts: list[Alert]) -> None:
    # GIVEN any alerts (huge details, many recipients, multi-byte text)
    # WHEN they are summarised
    summary = summarize_alerts(alerts, now=NOW)

    # THEN the body fits the byte budget, every alert is listed or counted, the subject is SNS-safe
    assert summary is not None
    assert len(summary.body.encode("utf-8")) <= MAX_SUMMARY_BYTES < 262_144
    listed = sum(1 for line in summary.body.splitlines() if line.startswith("  - "))
    assert listed <= MAX_ALERT_LINES
    if listed < len(alerts):
        assert f"  ... and {len(alerts) - listed:,} more" in summary.body
    assert len(summary.subject) < 100 and summary.subject.isascii()


def test_worst_case_lines_still_fit_the_budget() -> None:
    # GIVEN 50+ alerts with the longest possible addresses (domain of 253 characters), 3-byte characters
    # in a long detail and more recipients than are listed
    domain = ".".join(["d" * 63] * 3) + ".example"
    alerts = [
        Alert(AlertKind.REJECT, "m" * 200, tuple(f"{'x' * 64}{n}@{domain}" for n in range(30)), "€" * 5000)
        for _ in range(60)
    ]

    # WHEN they are summarised
    summary = summarize_alerts(alerts, now=NOW)

    # THEN the body is within budget and says what it left out
    assert summary is not None
    assert len(summary.body.encode("utf-8")) <= MAX_SUMMARY_BYTES
    assert "and 20 more;" in summary.body  # recipients beyond the first 10 of one alert
    assert "more\n" in summary.body.splitlines()[-1] + "\n"


def test_addresses_inside_alert_details_are_masked() -> None:
    alert = Alert(AlertKind.RENDERING_FAILURE, "ses-1", (), "template t: Attribute jane.doe@example.net bad")
    summary = summarize_alerts([alert], now=NOW)
    assert summary is not None
    assert "jane.doe@" not in summary.body
    assert "template t: Attribute j***@example.net bad" in summary.body
