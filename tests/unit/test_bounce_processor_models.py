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
        ({"eventType": "Teleport", "mail": {}}, "^eventType: unknown SES event type$"),
        ({"eventType": 7}, "^eventType: unknown SES event type$"),
        ({"eventType": {"Bounce": 1}}, "^eventType: unknown SES event type$"),
        ({"notificationType": "Open", "mail": {}}, "notificationType: SES does not send Open in this format"),
        ({"eventType": "RenderingFailure", "mail": {}}, "^eventType: unknown SES event type$"),
        (_without("ses_event_send.json", "mail"), "mail: must be an object"),
        (_without("ses_event_send.json", "mail", "messageId"), "mail.messageId: is required"),
        (
            {**load("ses_event_send.json"), "mail": {"messageId": "jane@example.net"}},
            r"^mail\.messageId: must match \^\[A-Za-z0-9\]",
        ),
        ({**load("ses_event_send.json"), "mail": {"messageId": ["x"]}}, r"^mail\.messageId: must match"),
        (_without("ses_event_bounce.json", "bounce"), "bounce: must be an object"),
        (
            {
                **load("ses_event_bounce.json"),
                "bounce": {**load("ses_event_bounce.json")["bounce"], "bounceType": "Hard"},
            },
            "bounce.bounceType",
        ),
        *(
            (
                {
                    **load("ses_event_bounce.json"),
                    "bounce": {**load("ses_event_bounce.json")["bounce"], "bounceType": bounce_type},
                },
                "^bounce.bounceType: must be Permanent, Transient or Undetermined$",
            )
            for bounce_type in ({"Permanent": True}, ["Permanent"], None, 1.5)
        ),
        (
            {
                **load("ses_event_bounce.json"),
                "bounce": {**load("ses_event_bounce.json")["bounce"], "bouncedRecipients": []},
            },
            r"^bounce\.bouncedRecipients: must not be empty$",
        ),
        (
            _without("ses_event_bounce.json", "bounce", "bouncedRecipients"),
            "bouncedRecipients: must be a list",
        ),
        (
            {**load("ses_event_complaint.json"), "complaint": {"complainedRecipients": []}},
            r"^complaint\.complainedRecipients: must not be empty$",
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


def test_fails_if_a_timestamp_cannot_be_converted_to_utc() -> None:
    # GIVEN a bounce whose timestamps lie at the edge of what datetime can represent (year 9999 / year 1)
    event = load("ses_event_bounce.json")
    event["bounce"]["timestamp"] = "9999-12-31T23:59:59-05:00"
    event["mail"]["timestamp"] = "0001-01-01T00:00:00+05:00"

    # WHEN / THEN parsing rejects it with a reason instead of an OverflowError
    with pytest.raises(SchemaError, match=r"^bounce\.timestamp: is required"):
        parse_ses_event(event)


def test_timestamps_are_normalised_to_utc() -> None:
    event = load("ses_event_bounce.json")
    event["bounce"]["timestamp"] = "2024-05-01T14:00:00+02:00"
    parsed = parse_ses_event(event)
    assert parsed.bounce is not None
    assert parsed.bounce.timestamp == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parsed.bounce.timestamp.utcoffset() is not None


def test_invalid_recipients_are_skipped_and_named_per_entry() -> None:
    # GIVEN a bounce with one valid recipient between three invalid entries
    event = load("ses_event_bounce.json")
    event["bounce"]["bouncedRecipients"] = [
        {"emailAddress": "not an address"},
        {"emailAddress": "Valid.Person@example.net"},
        {"emailAddress": ["x@example.net"]},
        "y@example.net",
    ]

    # WHEN it is parsed
    parsed = parse_ses_event(event)

    # THEN the valid one is kept and the others are reported by field path (never by value)
    assert parsed.bounce is not None
    assert parsed.bounce.recipients == ("Valid.Person@example.net",)
    assert parsed.invalid_recipients == (
        "bounce.bouncedRecipients[0].emailAddress",
        "bounce.bouncedRecipients[2].emailAddress",
        "bounce.bouncedRecipients[3].emailAddress",
    )


def test_fails_if_no_recipient_is_valid() -> None:
    event = load("ses_event_complaint.json")
    event["complaint"]["complainedRecipients"] = [
        {"emailAddress": "a@b"},
        {"emailAddress": "x" * 300 + "@e.net"},
    ]
    with pytest.raises(
        SchemaError,
        match=r"^complaint\.complainedRecipients: no entry has a valid e-mail address \(invalid: "
        r"complaint\.complainedRecipients\[0\]\.emailAddress, complaint\.complainedRecipients\[1\]",
    ):
        parse_ses_event(event)


def test_free_text_and_vocabulary_fields_are_made_safe() -> None:
    # GIVEN vocabulary fields holding free text and a reject reason with a lone surrogate
    bounce = load("ses_event_bounce.json")
    bounce["bounce"]["bounceSubType"] = "mailto:jane@example.net <b>"
    bounce["mail"]["tags"] = {"order_id": ["jane@example.net"]}
    reject = load("ses_event_reject.json")
    reject["reject"]["reason"] = "Bad content \ud800"

    # WHEN they are parsed
    parsed_bounce, parsed_reject = parse_ses_event(bounce), parse_ses_event(reject)

    # THEN the vocabulary falls back, the odd order id tag is dropped, the text is encodable
    assert parsed_bounce.bounce is not None and parsed_bounce.bounce.bounce_sub_type == "Undetermined"
    assert parsed_bounce.mail is not None and parsed_bounce.mail.order_id is None
    assert parsed_reject.reject is not None and parsed_reject.reject.reason == "Bad content ?"
