"""order_email_sender decisions with plain values (no AWS, no mocks)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from lambda_handlers.common.order_event import Customer, LineItem, OrderPlaced
from lambda_handlers.contracts import TEMPLATE_DATA_KEYS, TEMPLATE_ITEM_KEYS
from lambda_handlers.order_email_sender.logic import (
    EmailSettings,
    SimpleContent,
    TemplateContent,
    build_request,
    simple_content,
    template_data,
)

ORDER = OrderPlaced(
    schema_version="1.0",
    order_id="ord-7",
    placed_at=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    customer=Customer(email="Jane@Example.net", name="Jane <script>"),
    items=(
        LineItem(sku="A-1", name="Mug & Saucer", quantity=3, unit_price=Decimal("2.50")),
        LineItem(sku="B-2", name="Free sticker", quantity=1, unit_price=Decimal("0")),
    ),
    currency="EUR",
    total=Decimal("7.50"),
)
SIMPLE = EmailSettings(from_address="Shop <orders@example.com>", configuration_set_name="order-emails")
TEMPLATED = EmailSettings(
    from_address="orders@example.com",
    configuration_set_name="order-emails",
    template_name="order-confirmation",
)


def test_template_data_has_exactly_the_documented_keys() -> None:
    # GIVEN an order
    # WHEN the template data is built
    data = template_data(ORDER)

    # THEN keys and value types match the contract with the CDK template
    assert tuple(data) == TEMPLATE_DATA_KEYS
    assert all(tuple(item) == TEMPLATE_ITEM_KEYS for item in data["items"])
    assert data["total"] == "7.50"
    assert data["placed_at"] == "2024-05-01T12:30:00+00:00"
    assert data["items"][0] == {
        "sku": "A-1",
        "name": "Mug & Saucer",
        "quantity": 3,
        "unit_price": "2.50",
        "line_total": "7.50",
    }
    assert data["items"][1]["line_total"] == "0"


def test_templated_send_request() -> None:
    # GIVEN a TEMPLATE_NAME
    # WHEN the request is built
    request = build_request(ORDER, TEMPLATED)

    # THEN a SESv2 SendEmail with Template content, config set and tags is produced
    assert isinstance(request.content, TemplateContent)
    params = request.to_sesv2_params()
    assert params["FromEmailAddress"] == "orders@example.com"
    assert params["Destination"] == {"ToAddresses": ["Jane@Example.net"]}
    assert params["ConfigurationSetName"] == "order-emails"
    assert params["EmailTags"] == [
        {"Name": "order_id", "Value": "ord-7"},
        {"Name": "event_type", "Value": "order-placed"},
    ]
    template = params["Content"]["Template"]
    assert template["TemplateName"] == "order-confirmation"
    assert json.loads(template["TemplateData"]) == template_data(ORDER)


def test_simple_content_without_template_escapes_html() -> None:
    # GIVEN no TEMPLATE_NAME
    request = build_request(ORDER, SIMPLE)

    # THEN subject, text and HTML are built in code; the HTML part escapes user data
    assert isinstance(request.content, SimpleContent)
    assert request.content.subject == "Your order ord-7 is confirmed"
    assert "3 x Mug & Saucer (A-1) at 2.50 EUR = 7.50 EUR" in request.content.text
    assert "Total: 7.50 EUR" in request.content.text
    assert "Jane &lt;script&gt;" in request.content.html and "<script>" not in request.content.html
    assert "Mug &amp; Saucer" in request.content.html
    simple = request.to_sesv2_params()["Content"]["Simple"]
    assert simple["Body"]["Html"]["Charset"] == "UTF-8"
    assert simple["Body"]["Text"]["Data"] == request.content.text


def test_simple_content_is_deterministic() -> None:
    assert simple_content(ORDER) == simple_content(ORDER)
    assert not isinstance(build_request(ORDER, SIMPLE).content, TemplateContent)
