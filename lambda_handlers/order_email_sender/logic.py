"""Pure decisions of the order e-mail sender: the SESv2 ``SendEmail`` request of a confirmation."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from lambda_handlers.common.order_event import OrderPlaced, format_amount
from lambda_handlers.contracts import (
    DEFAULT_SUBJECT,
    EVENT_TYPE_TAG,
    ORDER_ID_TAG,
    ORDER_PLACED_TAG_VALUE,
    TEMPLATE_HTML_KEY,
)


@dataclass(frozen=True)
class EmailSettings:
    """The deployment-specific part of every send (from the handler's configuration)."""

    from_address: str
    configuration_set_name: str
    template_name: str | None = None


@dataclass(frozen=True)
class TemplateContent:
    template_name: str
    template_data: str
    """JSON object with the keys :data:`lambda_handlers.contracts.TEMPLATE_DATA_KEYS`."""

    def to_sesv2(self) -> dict[str, Any]:
        return {"Template": {"TemplateName": self.template_name, "TemplateData": self.template_data}}


@dataclass(frozen=True)
class SimpleContent:
    subject: str
    text: str
    html: str

    def to_sesv2(self) -> dict[str, Any]:
        return {
            "Simple": {
                "Subject": {"Data": self.subject, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": self.text, "Charset": "UTF-8"},
                    "Html": {"Data": self.html, "Charset": "UTF-8"},
                },
            }
        }


@dataclass(frozen=True)
class SendEmailRequest:
    """One SESv2 ``SendEmail`` call."""

    from_address: str
    to_address: str
    configuration_set_name: str
    tags: tuple[tuple[str, str], ...]
    content: TemplateContent | SimpleContent

    def to_sesv2_params(self) -> dict[str, Any]:
        """The keyword arguments of ``sesv2.send_email``."""
        return {
            "FromEmailAddress": self.from_address,
            "Destination": {"ToAddresses": [self.to_address]},
            "Content": self.content.to_sesv2(),
            "ConfigurationSetName": self.configuration_set_name,
            "EmailTags": [{"Name": name, "Value": value} for name, value in self.tags],
        }


def template_data(order: OrderPlaced) -> dict[str, Any]:
    """The ``TemplateData`` object the SES template (Handlebars) is rendered with.

    Amounts are decimal strings, ``quantity`` is an integer. SES inserts template data as it is, also
    into the HTML part, so every value is repeated HTML-escaped under ``html`` (``TEMPLATE_HTML_KEY``):
    the HTML part uses ``{{html.customer_name}}``, the text part and the subject ``{{customer_name}}``.
    """
    values: dict[str, Any] = {
        "order_id": order.order_id,
        "customer_name": order.customer.name,
        "placed_at": order.placed_at.isoformat(),
        "currency": order.currency,
        "total": format_amount(order.total),
        "items": [item.as_plain() for item in order.items],
    }
    return {**values, TEMPLATE_HTML_KEY: _escaped(values)}


def _escaped(value: Any) -> Any:
    """``value`` with every string and number HTML-escaped (quotes too: safe in attributes)."""
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return html.escape(str(value), quote=True)


def subject_line(order: OrderPlaced) -> str:
    """:data:`~lambda_handlers.contracts.DEFAULT_SUBJECT`, rendered (the order id is plain text)."""
    return DEFAULT_SUBJECT.replace("{{order_id}}", order.order_id)


def simple_content(order: OrderPlaced) -> SimpleContent:
    """Subject, plain-text and HTML parts for sends without an SES template (HTML: the escaped values)."""
    data = template_data(order)
    h, c = data[TEMPLATE_HTML_KEY], order.currency
    text = [
        f"Hello {order.customer.name},",
        "",
        f"thank you for your order {order.order_id} placed on {data['placed_at']}.",
        "",
        *(
            f"- {i['quantity']} x {i['name']} ({i['sku']}) at {i['unit_price']} {c} = {i['line_total']} {c}"
            for i in data["items"]
        ),
        "",
        f"Total: {data['total']} {c}",
        "",
    ]
    rows = "".join(
        f"<tr><td>{i['quantity']}</td><td>{i['name']} ({i['sku']})</td><td>{i['unit_price']} {h['currency']}"
        f"</td><td>{i['line_total']} {h['currency']}</td></tr>"
        for i in h["items"]
    )
    html_body = (
        "<!DOCTYPE html><html><body>"
        f"<p>Hello {h['customer_name']},</p>"
        f"<p>thank you for your order <strong>{h['order_id']}</strong> placed on {h['placed_at']}.</p>"
        "<table><thead><tr><th>Qty</th><th>Item</th><th>Unit price</th><th>Line total</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        f"<p><strong>Total: {h['total']} {h['currency']}</strong></p>"
        "</body></html>"
    )
    return SimpleContent(subject=subject_line(order), text="\n".join(text), html=html_body)


def build_request(order: OrderPlaced, settings: EmailSettings) -> SendEmailRequest:
    """The confirmation's ``SendEmail``; its tags come back in every SES event of the message."""
    content: TemplateContent | SimpleContent
    if settings.template_name:
        data = json.dumps(template_data(order), ensure_ascii=False, separators=(",", ":"))
        content = TemplateContent(template_name=settings.template_name, template_data=data)
    else:
        content = simple_content(order)
    return SendEmailRequest(
        from_address=settings.from_address,
        to_address=order.customer.email,
        configuration_set_name=settings.configuration_set_name,
        tags=((ORDER_ID_TAG, order.order_id), (EVENT_TYPE_TAG, ORDER_PLACED_TAG_VALUE)),
        content=content,
    )
