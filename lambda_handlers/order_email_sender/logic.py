"""Pure decisions of the order e-mail sender: what to send (or not), with no I/O."""

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


@dataclass(frozen=True)
class SimpleContent:
    subject: str
    text: str
    html: str


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
        content: dict[str, Any]
        if isinstance(self.content, TemplateContent):
            content = {
                "Template": {
                    "TemplateName": self.content.template_name,
                    "TemplateData": self.content.template_data,
                }
            }
        else:
            content = {
                "Simple": {
                    "Subject": {"Data": self.content.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": self.content.text, "Charset": "UTF-8"},
                        "Html": {"Data": self.content.html, "Charset": "UTF-8"},
                    },
                }
            }
        return {
            "FromEmailAddress": self.from_address,
            "Destination": {"ToAddresses": [self.to_address]},
            "Content": content,
            "ConfigurationSetName": self.configuration_set_name,
            "EmailTags": [{"Name": name, "Value": value} for name, value in self.tags],
        }


@dataclass(frozen=True)
class SkipSuppressed:
    """The recipient is on the suppression list: send nothing (not an error)."""

    order_id: str


@dataclass(frozen=True)
class SendConfirmation:
    order_id: str
    request: SendEmailRequest


Decision = SkipSuppressed | SendConfirmation


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
        "items": [
            {
                "sku": item.sku,
                "name": item.name,
                "quantity": item.quantity,
                "unit_price": format_amount(item.unit_price),
                "line_total": format_amount(item.line_total),
            }
            for item in order.items
        ],
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
    """Subject, plain-text and HTML parts for sends without an SES template (all values HTML-escaped)."""
    data = template_data(order)
    text_lines = [
        f"Hello {order.customer.name},",
        "",
        f"thank you for your order {order.order_id} placed on {data['placed_at']}.",
        "",
    ]
    text_lines += [
        f"- {item['quantity']} x {item['name']} ({item['sku']}) at {item['unit_price']} {order.currency}"
        f" = {item['line_total']} {order.currency}"
        for item in data["items"]
    ]
    text_lines += ["", f"Total: {data['total']} {order.currency}", ""]

    e = html.escape
    rows = "".join(
        f"<tr><td>{e(str(item['quantity']))}</td><td>{e(item['name'])} ({e(item['sku'])})</td>"
        f"<td>{e(item['unit_price'])} {e(order.currency)}</td>"
        f"<td>{e(item['line_total'])} {e(order.currency)}</td></tr>"
        for item in data["items"]
    )
    html_body = (
        "<!DOCTYPE html><html><body>"
        f"<p>Hello {e(order.customer.name)},</p>"
        f"<p>thank you for your order <strong>{e(order.order_id)}</strong>"
        f" placed on {e(data['placed_at'])}.</p>"
        "<table><thead><tr><th>Qty</th><th>Item</th><th>Unit price</th><th>Line total</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        f"<p><strong>Total: {e(data['total'])} {e(order.currency)}</strong></p>"
        "</body></html>"
    )
    return SimpleContent(subject=subject_line(order), text="\n".join(text_lines), html=html_body)


def email_tags(order: OrderPlaced) -> tuple[tuple[str, str], ...]:
    """SES message tags; they come back in every SES event of this message (event publishing)."""
    return ((ORDER_ID_TAG, order.order_id), (EVENT_TYPE_TAG, ORDER_PLACED_TAG_VALUE))


def build_request(order: OrderPlaced, settings: EmailSettings) -> SendEmailRequest:
    content: TemplateContent | SimpleContent
    if settings.template_name:
        content = TemplateContent(
            template_name=settings.template_name,
            template_data=json.dumps(template_data(order), ensure_ascii=False, separators=(",", ":")),
        )
    else:
        content = simple_content(order)
    return SendEmailRequest(
        from_address=settings.from_address,
        to_address=order.customer.email,
        configuration_set_name=settings.configuration_set_name,
        tags=email_tags(order),
        content=content,
    )


def decide(order: OrderPlaced, *, suppressed: bool, settings: EmailSettings) -> Decision:
    """Skip suppressed recipients, otherwise send the confirmation."""
    if suppressed:
        return SkipSuppressed(order_id=order.order_id)
    return SendConfirmation(order_id=order.order_id, request=build_request(order, settings))
