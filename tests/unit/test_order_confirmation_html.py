"""HTML injection: markup in every order field never reaches an HTML part unescaped (template and code path).

The template is rendered with the TemplateData exactly as SES renders it (no escaping of its own), by the
sandbox's SES emulation.
"""

from __future__ import annotations

import html
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack

from lambda_handlers.common.order_event import OrderPlaced, parse_order_placed
from lambda_handlers.contracts import DEFAULT_SUBJECT
from lambda_handlers.order_email_sender.logic import (
    EmailSettings,
    build_request,
    simple_content,
    template_data,
)
from notification_constructs._validation import NotificationConfigError
from notification_constructs.order_confirmation_template import (
    DEFAULT_HTML,
    DEFAULT_TEXT,
    OrderConfirmationTemplate,
)
from notification_constructs.testing._ses import render_template

EVENTS = Path(__file__).resolve().parent.parent / "events"

#: Markup for every field the schema lets carry it (order id, currency, amounts and timestamp are
#: restricted to characters without markup by the schema; the address never appears in the mail body).
MARKUP = {
    "customer.name": "<script>alert('name')</script> & \"Jane\"",
    "items[0].sku": "<b onmouseover=alert(1)>SKU</b>",
    "items[0].name": "<img src=x onerror=alert('item')>",
    "items[1].sku": "</td></tr></table><a href='https://evil.example'>",
    "items[1].name": "{{customer_name}} <iframe src=//evil.example>",
}


def hostile_order() -> OrderPlaced:
    event: dict[str, Any] = json.loads((EVENTS / "order_placed_v1.json").read_text())
    event["customer"]["name"] = MARKUP["customer.name"]
    event["items"][0].update(sku=MARKUP["items[0].sku"], name=MARKUP["items[0].name"])
    event["items"][1].update(sku=MARKUP["items[1].sku"], name=MARKUP["items[1].name"])
    return parse_order_placed(event)


def benign_order() -> OrderPlaced:
    return parse_order_placed(json.loads((EVENTS / "order_placed_v1.json").read_text()))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, tuple[tuple[str, str | None], ...]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.tags.append((f"/{tag}", ()))


def tags_of(document: str) -> list[tuple[str, tuple[tuple[str, str | None], ...]]]:
    parser = _Tags()
    parser.feed(document)
    return parser.tags


def assert_no_injected_markup(rendered_html: str, benign_html: str) -> None:
    # The document has exactly the template's own tags (and attributes): none were added by the data.
    assert tags_of(rendered_html) == tags_of(benign_html)
    for value in MARKUP.values():
        assert value not in rendered_html
        assert html.escape(value, quote=True) in rendered_html


def test_the_template_html_part_escapes_markup_in_every_field() -> None:
    # GIVEN an order with markup in every free-text field, and its TemplateData as the sender sends it
    data = json.loads(json.dumps(template_data(hostile_order())))

    # WHEN SES renders the default template parts with it (SES itself escapes nothing)
    rendered_html = render_template(DEFAULT_HTML, data)
    rendered_text = render_template(DEFAULT_TEXT, data)
    subject = render_template(DEFAULT_SUBJECT, data)

    # THEN the HTML part holds the escaped values and no markup of the data
    benign = render_template(DEFAULT_HTML, json.loads(json.dumps(template_data(benign_order()))))
    assert_no_injected_markup(rendered_html, benign)
    # AND the text part holds the plain values, as the customer typed them
    for value in MARKUP.values():
        assert value in rendered_text
    assert subject == "Your order ord-2024-000123 is confirmed"


def test_the_code_built_html_part_escapes_markup_in_every_field() -> None:
    # GIVEN the same order, sent without a template
    content = simple_content(hostile_order())

    # THEN its HTML part is escaped and its text part plain
    assert_no_injected_markup(content.html, simple_content(benign_order()).html)
    for value in MARKUP.values():
        assert value in content.text


def test_template_data_holds_plain_values_and_their_escaped_copies() -> None:
    # GIVEN an order with markup
    data = template_data(hostile_order())

    # THEN the plain values are unchanged and "html" repeats every one of them escaped
    assert data["customer_name"] == MARKUP["customer.name"]
    assert data["html"]["customer_name"] == html.escape(MARKUP["customer.name"], quote=True)
    assert data["html"]["items"][0] == {
        "sku": html.escape(MARKUP["items[0].sku"], quote=True),
        "name": html.escape(MARKUP["items[0].name"], quote=True),
        "quantity": "2",
        "unit_price": "9.99",
        "line_total": "19.98",
    }
    assert set(data["html"]) == set(data) - {"html"}


def test_the_template_data_sent_renders_every_part_of_the_default_template() -> None:
    # GIVEN the request the sender builds for a templated send
    request = build_request(
        benign_order(),
        EmailSettings(from_address="o@example.com", configuration_set_name="c", template_name="t"),
    )
    data = json.loads(request.to_sesv2_params()["Content"]["Template"]["TemplateData"])

    # WHEN / THEN SES finds every variable (a missing one raises a RenderingError)
    assert "Hello Jane Doe," in render_template(DEFAULT_HTML, data)
    assert "2 x Coffee mug (MUG-001) at 9.99: 19.98" in render_template(DEFAULT_TEXT, data)


@pytest.mark.parametrize(
    ("html_part", "match"),
    [
        ("<p>Hello {{customer_name}}</p>", r"html inserts \['customer_name'\] without HTML escaping"),
        (
            "{{#each items}}<td>{{name}}</td>{{/each}}",
            r"html inserts \['#each items'\] without HTML escaping",
        ),
        ("<p>{{html.coupon_code}}</p>", r"html uses \['html.coupon_code'\], which the order e-mail sender"),
    ],
)
def test_fails_if_the_html_part_inserts_unescaped_or_unknown_values(html_part: str, match: str) -> None:
    # GIVEN a custom HTML part with a plain (unescaped) or unknown value
    # WHEN / THEN synth fails naming it
    with pytest.raises(NotificationConfigError, match=match):
        OrderConfirmationTemplate(Stack(App(), "Tpl"), "Template", html=html_part)


def test_fails_if_the_text_part_uses_the_escaped_copies() -> None:
    # GIVEN a text part that would show "&lt;" to the customer
    # WHEN / THEN synth fails naming the variable
    with pytest.raises(NotificationConfigError, match=r"text uses \['html.customer_name'\]"):
        OrderConfirmationTemplate(Stack(App(), "Tpl"), "Template", text="Hi {{html.customer_name}}")


def test_accepts_a_custom_html_part_using_the_escaped_copies() -> None:
    # GIVEN an HTML part using only html.* values
    part = "<h1>{{html.customer_name}}</h1>{{#each html.items}}<li>{{quantity}} {{name}}</li>{{/each}}"

    # WHEN / THEN it synthesizes
    OrderConfirmationTemplate(Stack(App(), "Tpl"), "Template", html=part)
