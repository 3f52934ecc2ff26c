"""Parsing SES notifications (identity notifications and event publishing) with plain values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lambda_handlers.bounce_processor.models import (
    SesEventType,
    SourceFormat,
    parse_record_body,
    parse_ses_event,
)
from lambda_handlers.common.errors import SchemaError

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(
    ("name", "event_type", "source_format"),
    [
        ("ses_notification_bounce_permanent.json", SesEventType.BOUNCE, SourceFormat.IDENTITY_NOTIFICATION),
        ("ses_notification_bounce_transient.json", SesEventType.BOUNCE, SourceFormat.IDENTITY_NOTIFICATION),
        ("ses_notification_complaint.json", SesEventType.COMPLAINT, SourceFormat.IDENTITY_NOTIFICATION),
        ("ses_notification_delivery.json", SesEventType.DELIVERY, SourceFormat.IDENTITY_NOTIFICATION),
        (
            "ses_notification_sns_subscription_succeeded.json",
            SesEventType.SNS_SUBSCRIPTION_SUCCEEDED,
            SourceFormat.IDENTITY_NOTIFICATION,
        ),
        ("ses_event_bounce.json", SesEventType.BOUNCE, SourceFormat.EVENT_PUBLISHING),
        ("ses_event_complaint.json", SesEventType.COMPLAINT, SourceFormat.EVENT_PUBLISHING),
        ("ses_event_delivery.json", SesEventType.DELIVERY, SourceFormat.EVENT_PUBLISHING),
        ("ses_event_send.json", SesEventType.SEND, SourceFormat.EVENT_PUBLISHING),
        ("ses_event_reject.json", SesEventType.REJECT, SourceFormat.EVENT_PUBLISHING),
        ("ses_event_open.json", SesEventType.OPEN, SourceFormat.EVENT_PUBLISHING),
        ("ses_event_click.json", SesEventType.CLICK, SourceFormat.EVENT_PUBLISHING),
        ("ses_event_rendering_failure.json", SesEventType.RENDERING_FAILURE, SourceFormat.EVENT_PUBLISHING),
        ("ses_event_delivery_delay.json", SesEventType.DELIVERY_DELAY, SourceFormat.EVENT_PUBLISHING),
        ("ses_event_subscription.json", SesEventType.SUBSCRIPTION, SourceFormat.EVENT_PUBLISHING),
    ],
)
def test_parses_every_documented_event(
    name: str, event_type: SesEventType, source_format: SourceFormat
) -> None:
    # GIVEN an event file written from the SES developer guide formats
    # WHEN it is parsed (raw and SNS-wrapped)
    raw = json.dumps(load(name))
    event = parse_record_body(raw)
    wrapped = parse_record_body(json.dumps({"Type": "Notification", "TopicArn": "arn:t", "Message": raw}))

    # THEN the type and format are recognised identically
    assert (event.event_type, event.source_format) == (event_type, source_format)
    assert wrapped == event


def test_parses_bounce_details() -> None:
    event = parse_ses_event(load("ses_notification_bounce_permanent.json"))
    assert event.bounce is not None
    assert event.bounce.bounce_type == "Permanent"
    assert event.bounce.bounce_sub_type == "General"
    assert event.bounce.recipients == ("jane@example.net",)
    assert event.bounce.timestamp == datetime(2024, 5, 1, 12, 31, 2, 237000, tzinfo=UTC)
    assert event.mail is not None and len(event.mail.destination) == 3
    assert event.ses_message_id == "0000018f3a1b0a0a-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-000000"


def test_parses_complaint_reject_failure_and_delay_details() -> None:
    complaint = parse_ses_event(load("ses_event_complaint.json"))
    assert complaint.complaint is not None
    assert complaint.complaint.recipients == ("Angry.Customer@Example.net",)
    assert complaint.complaint.feedback_type == "abuse"
    assert complaint.mail is not None and complaint.mail.order_id == "ord-2024-000123"

    reject = parse_ses_event(load("ses_event_reject.json"))
    assert reject.reject is not None and reject.reject.reason == "Bad content"

    failure = parse_ses_event(load("ses_event_rendering_failure.json"))
    assert failure.rendering_failure is not None
    assert failure.rendering_failure.template_name == "order-confirmation"

    delay = parse_ses_event(load("ses_event_delivery_delay.json"))
    assert delay.delivery_delay is not None
    assert delay.delivery_delay.recipients == ("slow@example.net",)


def test_bounce_recipient_with_display_name_is_reduced_to_the_address() -> None:
    event = load("ses_event_bounce.json")
    event["bounce"]["bouncedRecipients"] = [{"emailAddress": '"No Body" <nobody@example.net>'}]
    parsed = parse_ses_event(event)
    assert parsed.bounce is not None and parsed.bounce.recipients == ("nobody@example.net",)


def test_bounce_timestamp_falls_back_to_the_mail_timestamp() -> None:
    event = load("ses_event_bounce.json")
    del event["bounce"]["timestamp"]
    parsed = parse_ses_event(event)
    assert parsed.bounce is not None and parsed.mail is not None
    assert parsed.bounce.timestamp == parsed.mail.timestamp


def _without(name: str, *path: str) -> dict[str, Any]:
    event = load(name)
    target = event
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return event


@pytest.mark.parametrize(
    ("message", "match"),
    [
        ({}, "neither eventType nor notificationType"),
        ({"eventType": "Teleport", "mail": {}}, "unknown SES event type 'Teleport'"),
        ({"eventType": 7}, "unknown SES event type 7"),
        ({"notificationType": "Open", "mail": {}}, "unknown SES event type 'Open'"),
        ({"eventType": "RenderingFailure", "mail": {}}, "unknown SES event type"),
        (_without("ses_event_send.json", "mail"), "mail: must be an object"),
        (_without("ses_event_send.json", "mail", "messageId"), "mail.messageId: is required"),
        (_without("ses_event_bounce.json", "bounce"), "bounce: must be an object"),
        (
            {
                **load("ses_event_bounce.json"),
                "bounce": {**load("ses_event_bounce.json")["bounce"], "bounceType": "Hard"},
            },
            "bounce.bounceType",
        ),
        (
            {
                **load("ses_event_bounce.json"),
                "bounce": {
                    **load("ses_event_bounce.json")["bounce"],
                    "bouncedRecipients": [{"emailAddress": "x"}],
                },
            },
            r"bouncedRecipients\[0\].emailAddress",
        ),
        (
            {**load("ses_event_complaint.json"), "complaint": {"complainedRecipients": "a@b.co"}},
            "complaint.complainedRecipients: must be a list",
        ),
    ],
)
def test_fails_if_the_message_is_not_a_valid_ses_event(message: dict[str, Any], match: str) -> None:
    with pytest.raises(SchemaError, match=match):
        parse_ses_event(message)


def test_fails_if_a_bounce_has_no_timestamp_at_all() -> None:
    event = _without("ses_event_bounce.json", "bounce", "timestamp")
    del event["mail"]["timestamp"]
    with pytest.raises(SchemaError, match=r"bounce\.timestamp: is required"):
        parse_ses_event(event)
