"""OrderConfirmationTemplate: the SES template (subject, HTML and text parts) the order e-mail sender uses."""

from __future__ import annotations

import re

from aws_cdk import aws_ses as ses
from constructs import Construct

from ._validation import Problems, is_token

__all__ = ["TEMPLATE_DATA_KEYS", "OrderConfirmationTemplate"]

#: The TemplateData the ``order_email_sender`` handler sends (a contract between the two).
TEMPLATE_DATA_KEYS = frozenset({"order_id", "customer_name", "placed_at", "currency", "total", "items"})
ITEM_KEYS = frozenset({"sku", "name", "quantity", "unit_price", "line_total"})

DEFAULT_SUBJECT = "Your order {{order_id}} is confirmed"
DEFAULT_TEXT = """Hello {{customer_name}},

thank you for your order {{order_id}} placed at {{placed_at}}.

{{#each items}}- {{quantity}} x {{name}} ({{sku}}) at {{unit_price}}: {{line_total}}
{{/each}}
Total: {{total}} {{currency}}
"""
DEFAULT_HTML = """<!DOCTYPE html>
<html><body>
<p>Hello {{customer_name}},</p>
<p>thank you for your order <strong>{{order_id}}</strong> placed at {{placed_at}}.</p>
<table>
<thead><tr><th>Item</th><th>Quantity</th><th>Unit price</th><th>Total</th></tr></thead>
<tbody>
{{#each items}}<tr><td>{{name}} ({{sku}})</td><td>{{quantity}}</td><td>{{unit_price}}</td><td>{{line_total}}</td></tr>
{{/each}}
</tbody>
</table>
<p><strong>Total: {{total}} {{currency}}</strong></p>
</body></html>
"""
_VARIABLE_RE = re.compile(r"{{\s*(?![#/!])([A-Za-z_][A-Za-z0-9_.]*)\s*}}")
_EACH_RE = re.compile(r"{{#each\s+items\s*}}(.*?){{/each}}", re.DOTALL)
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _unknown_variables(part: str) -> set[str]:
    inner = " ".join(_EACH_RE.findall(part))
    outer = _EACH_RE.sub("", part)
    return (set(_VARIABLE_RE.findall(outer)) - TEMPLATE_DATA_KEYS) | (
        set(_VARIABLE_RE.findall(inner)) - ITEM_KEYS - TEMPLATE_DATA_KEYS
    )


class OrderConfirmationTemplate(Construct):
    """An SES e-mail template for order confirmations with HTML and text parts.

    The parts are Handlebars; they may use the TemplateData the ``order_email_sender`` sends:
    ``order_id``, ``customer_name``, ``placed_at``, ``currency``, ``total`` and ``items`` (each with
    ``sku``, ``name``, ``quantity``, ``unit_price``, ``line_total``). Any other variable fails at synth
    time instead of rendering empty (or as a Rendering Failure event) in production.

    Child ids (a public contract): ``Template``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        template_name: str | None = None,
        subject: str = DEFAULT_SUBJECT,
        html: str = DEFAULT_HTML,
        text: str = DEFAULT_TEXT,
    ) -> None:
        """
        :param template_name: Default: - a generated name.
        :param subject: Default: "Your order {{order_id}} is confirmed".
        :param html: Default: - a plain table of the items and the total.
        :param text: Default: - the same content as text.
        """
        super().__init__(scope, id)
        problems = Problems(self)
        if template_name is not None and not is_token(template_name):
            problems.check(
                bool(_NAME_RE.match(template_name)),
                f"template_name {template_name!r}: 1-64 characters a-z, A-Z, 0-9, '_', '-'",
            )
        for label, part in (("subject", subject), ("html", html), ("text", text)):
            problems.check(bool(part.strip()), f"{label}: must not be empty")
            unknown = _unknown_variables(part)
            problems.check(
                not unknown,
                f"{label} uses {sorted(unknown)}, which the order e-mail sender does not send; "
                f"available: {sorted(TEMPLATE_DATA_KEYS)} and per item {sorted(ITEM_KEYS)}",
            )
        problems.raise_if_any()
        self.template = ses.CfnTemplate(
            self,
            "Template",
            template=ses.CfnTemplate.TemplateProperty(
                template_name=template_name, subject_part=subject, html_part=html, text_part=text
            ),
        )
        self.template_name: str = self.template.ref
