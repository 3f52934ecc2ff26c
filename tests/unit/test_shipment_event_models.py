"""The shipment.updated v1 schema and the notifier's pure decisions (ordering, SMS text, e-mail, webhook)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambda_handlers.common.errors import SchemaError, UnsupportedSchemaVersionError
from lambda_handlers.contracts import SHIPMENT_STATUSES
from lambda_handlers.order_email_sender.logic import EmailSettings
from lambda_handlers.shipment_notifier.logic import (
    Acceptance,
    build_email_request,
    build_sms_request,
    build_webhook_message,
    classify,
    fits_one_segment,
    gsm_length,
    is_new,
    mask_phone,
    sms_text,
    template_data,
)
from lambda_handlers.shipment_notifier.models import (
    ShipmentUpdate,
    parse_record_body,
    parse_shipment_updated,
    status_rank,
)

EVENTS = Path(__file__).resolve().parents[1] / "events"


def sample(**changes: Any) -> dict[str, Any]:
    event = json.loads((EVENTS / "shipment_updated_v1.json").read_text())
    customer = {**event["customer"], **changes.pop("customer", {})}
    return {**event, "customer": customer, **changes}


def parsed(**changes: Any) -> ShipmentUpdate:
    return parse_shipment_updated(sample(**changes))


# ------------------------------------------------------------------------------------------- schema
def test_parses_the_documented_sample() -> None:
    # WHEN the README's sample is parsed
    update = parse_record_body((EVENTS / "shipment_updated_v1.json").read_text())

    # THEN every field is typed and the channels keep their order
    assert update.order_id == "ord-2024-000123"
    assert update.status == "shipped" and update.progress_rank == 1
    assert update.occurred_at.isoformat() == "2024-05-02T08:15:00+00:00"
    assert update.customer.phone_number == "+4915112345678"
    assert update.channels == ("sms", "email", "webhook")
    assert update.partner == "acme-marketplace"


def test_accepts_any_minor_version_and_ignores_unknown_fields() -> None:
    update = parsed(schema_version="1.7.2", eta="tomorrow")
    assert update.schema_version == "1.7.2"


def test_only_the_chosen_channels_need_contact_data() -> None:
    # GIVEN a webhook-only update without e-mail or phone
    update = parsed(channels=["webhook"], customer={"email": None, "phone_number": None})
    # THEN it is valid
    assert update.customer.email is None and update.customer.phone_number is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"status": "lost"}, "status: must be one of shipped, out_for_delivery, delivered, exception"),
        ({"order_id": "ord 1"}, "order_id: must match"),
        ({"occurred_at": "2024-05-02T08:15:00"}, "occurred_at: must include a time zone"),
        ({"carrier": ""}, "carrier: must not be empty"),
        ({"carrier": "x" * 101}, "carrier: must be at most 100 characters"),
        ({"tracking_url": "javascript:alert(1)"}, "tracking_url: must be an https URL"),
        ({"tracking_url": "https://user:pw@track.example.com/"}, "no credentials"),
        ({"tracking_url": 'https://track.example.com/"><script>'}, "tracking_url: must be an encoded URL"),
        ({"partner": "acme marketplace"}, "partner: must match"),
        ({"channels": "sms"}, "channels: must be a list"),
        ({"channels": ["sms", "sms"]}, "channels[1]: names a channel twice"),
        ({"customer": {"phone_number": "015112345678"}}, "customer.phone_number: must be an E.164 number"),
        ({"customer": {"email": "not-an-address"}}, "customer.email: is not a valid e-mail address"),
        ({"channels": ["email"], "customer": {"email": None}}, "customer.email: is required for the email"),
        ({"event_type": "order.placed"}, "event_type: must be 'shipment.updated'"),
    ],
)
def test_fails_if_a_field_is_invalid(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(SchemaError, match=reason.replace("[", r"\[").replace("(", r"\(")):
        parse_shipment_updated(sample(**changes))


def test_fails_if_the_major_version_is_not_supported() -> None:
    with pytest.raises(UnsupportedSchemaVersionError, match="major version 2 is not supported"):
        parse_record_body((EVENTS / "shipment_updated_v2_unsupported.json").read_text())


def test_fails_without_echoing_the_offending_value() -> None:
    # GIVEN personal data in a field that is invalid
    with pytest.raises(SchemaError) as error:
        parsed(customer={"phone_number": "+49 jane.doe@example.net"})
    # THEN the reason names the field, never the value
    assert "jane.doe" not in error.value.reason


@given(st.dictionaries(st.sampled_from(list(sample())), st.none() | st.integers() | st.text(max_size=20)))
def test_every_input_yields_an_update_or_a_schema_error(changes: dict[str, Any]) -> None:
    try:
        update = parse_shipment_updated({**sample(), **changes})
    except SchemaError as error:
        assert error.reason
    else:
        assert update.status in SHIPMENT_STATUSES


# ----------------------------------------------------------------------------------------- ordering
@pytest.mark.parametrize(
    ("status", "stored", "accepted", "expected"),
    [
        ("shipped", None, set(), Acceptance.NEW),
        ("out_for_delivery", 1, {"shipped"}, Acceptance.NEW),
        ("delivered", 1, {"shipped"}, Acceptance.NEW),  # a skipped status is fine
        ("shipped", 1, {"shipped"}, Acceptance.REPEAT),
        ("shipped", 2, {"shipped", "out_for_delivery"}, Acceptance.REPEAT),
        ("shipped", 2, {"out_for_delivery"}, Acceptance.STALE),  # arrived after a later status
        ("out_for_delivery", 3, {"delivered"}, Acceptance.STALE),
        ("exception", 1, {"shipped"}, Acceptance.NEW),
        ("exception", 0, {"exception"}, Acceptance.REPEAT),
        ("exception", 3, {"delivered"}, Acceptance.STALE),  # nothing after the delivery
        ("exception", 3, {"exception", "delivered"}, Acceptance.REPEAT),
        ("out_for_delivery", 1, {"shipped", "exception"}, Acceptance.NEW),  # progress after an exception
    ],
)
def test_classifies_updates_by_the_order_of_statuses(
    status: str, stored: int | None, accepted: set[str], expected: Acceptance
) -> None:
    assert classify(status, stored_rank=stored, accepted=frozenset(accepted)) is expected


def test_progress_ranks_follow_the_delivery_order() -> None:
    assert [status_rank(s) for s in SHIPMENT_STATUSES] == [1, 2, 3, 0]
    assert not is_new("shipped", stored_rank=3, accepted=frozenset({"delivered"}))


# ----------------------------------------------------------------------------------------------- SMS
@pytest.mark.parametrize("status", SHIPMENT_STATUSES)
def test_the_sms_names_the_order_status_carrier_and_link_in_one_segment(status: str) -> None:
    text = sms_text(parsed(status=status))
    assert fits_one_segment(text)
    assert "ord-2024-000123" in text and "(DHL)" in text
    assert text.endswith("https://tracking.example.com/t/JD014600006281230704")


def test_the_sms_drops_the_carrier_before_exceeding_one_segment() -> None:
    # GIVEN a carrier name outside the GSM alphabet (it would force UCS-2: 70 characters a segment)
    update = parsed(carrier="顺丰速运")
    # THEN the text leaves it out and still fits 160 GSM characters
    text = sms_text(update)
    assert "顺丰" not in text and fits_one_segment(text)


def test_a_very_long_link_is_sent_whole_in_the_shortest_text() -> None:
    url = "https://tracking.example.com/" + "a" * 200
    text = sms_text(parsed(tracking_url=url))
    assert text == f"Order ord-2024-000123 has shipped: {url}"


def test_gsm_length_counts_extension_characters_twice() -> None:
    assert gsm_length("a€[") == 5
    assert gsm_length("Straße Ö") == 8
    assert gsm_length("😀") is None


def test_the_sms_request_is_transactional_with_the_sender_id() -> None:
    params = build_sms_request(parsed(), sender_id="Shop").to_sns_params()
    assert params["PhoneNumber"] == "+4915112345678"
    assert params["MessageAttributes"]["AWS.SNS.SMS.SMSType"]["StringValue"] == "Transactional"
    assert params["MessageAttributes"]["AWS.SNS.SMS.SenderID"]["StringValue"] == "Shop"


def test_phone_numbers_are_masked_for_logs() -> None:
    assert mask_phone("+4915112345678") == "+49*********78"
    assert mask_phone("+1234") == "***"


# -------------------------------------------------------------------------------------------- e-mail
def test_the_email_uses_the_template_with_escaped_html_values_and_tags() -> None:
    # GIVEN a customer name with markup
    update = parsed(customer={"name": "<b>Jane</b>"})
    settings = EmailSettings("Shop <orders@example.com>", "orders", "shipment-update")

    # WHEN the request is built
    params = build_email_request(update, settings).to_sesv2_params()

    # THEN it is the template with the plain values and their HTML-escaped copies
    data = json.loads(params["Content"]["Template"]["TemplateData"])
    assert data["customer_name"] == "<b>Jane</b>"
    assert data["html"]["customer_name"] == "&lt;b&gt;Jane&lt;/b&gt;"
    assert data["status_text"] == "has shipped"
    assert set(data) - {"html"} == set(data["html"]) == set(template_data(update)) - {"html"}
    assert params["ConfigurationSetName"] == "orders"
    assert {"Name": "event_type", "Value": "shipment-updated"} in params["EmailTags"]
    assert {"Name": "shipment_status", "Value": "shipped"} in params["EmailTags"]


# ------------------------------------------------------------------------------------------- webhook
def test_the_webhook_message_carries_the_filter_attributes_and_no_contact_data() -> None:
    params = build_webhook_message(parsed(status="delivered")).to_sns_params("arn:aws:sns:eu-west-1:1:t")
    assert {k: v["StringValue"] for k, v in params["MessageAttributes"].items()} == {
        "event_type": "shipment.updated",
        "status": "delivered",
        "partner": "acme-marketplace",
    }
    body = json.loads(params["Message"])
    assert body["status"] == "delivered" and body["tracking_url"].startswith("https://")
    assert "customer" not in body and "jane" not in params["Message"] and "+49" not in params["Message"]


def test_an_update_without_partner_has_no_partner_attribute() -> None:
    message = build_webhook_message(parsed(partner=None))
    assert [name for name, _ in message.attributes] == ["event_type", "status"]
