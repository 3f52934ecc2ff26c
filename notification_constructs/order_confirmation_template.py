"""OrderConfirmationTemplate: the SES template (subject, HTML and text parts) the order e-mail sender uses."""

from __future__ import annotations

import re

from aws_cdk import aws_ses as ses
from constructs import Construct

from lambda_handlers.contracts import (
    DEFAULT_SUBJECT,
    TEMPLATE_HTML_KEY,
    TEMPLATE_ITEM_KEYS,
    TEMPLATE_VALUE_KEYS,
)

from ._validation import Problems, is_token

__all__ = ["OrderConfirmationTemplate"]

# The TemplateData the ``order_email_sender`` handler sends (the contract between the two): plain values
# for the subject and the text part, the same values HTML-escaped under ``html`` for the HTML part.
_LIST_KEY = "items"
_SCALAR_KEYS = frozenset(TEMPLATE_VALUE_KEYS) - {_LIST_KEY}
_ITEM_KEYS = frozenset(TEMPLATE_ITEM_KEYS)
_HTML = TEMPLATE_HTML_KEY
DEFAULT_TEXT = """Hello {{customer_name}},

thank you for your order {{order_id}} placed at {{placed_at}}.

{{#each items}}- {{quantity}} x {{name}} ({{sku}}) at {{unit_price}}: {{line_total}}
{{/each}}
Total: {{total}} {{currency}}
"""
DEFAULT_HTML = """<!DOCTYPE html>
<html><body>
<p>Hello {{html.customer_name}},</p>
<p>thank you for your order <strong>{{html.order_id}}</strong> placed at {{html.placed_at}}.</p>
<table>
<thead><tr><th>Item</th><th>Quantity</th><th>Unit price</th><th>Total</th></tr></thead>
<tbody>
{{#each html.items}}<tr><td>{{name}} ({{sku}})</td><td>{{quantity}}</td><td>{{unit_price}}</td><td>{{line_total}}</td></tr>
{{/each}}
</tbody>
</table>
<p><strong>Total: {{html.total}} {{html.currency}}</strong></p>
</body></html>
"""
_VARIABLE_RE = re.compile(r"{{\s*(?![#/!])([A-Za-z_][A-Za-z0-9_.]*)\s*}}")
_EACH_RE = re.compile(r"{{#each\s+([A-Za-z_][A-Za-z0-9_.]*)\s*}}(.*?){{/each}}", re.DOTALL)
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _unknown_variables(part: str, *, escaped: bool) -> set[str]:
    """The variables (and ``#each`` lists) of ``part`` that are not in the TemplateData the sender sends,
    in the plain values (``escaped=False``) or in the HTML-escaped ``html`` object (``escaped=True``)."""
    prefix = f"{_HTML}." if escaped else ""
    scalars = {prefix + key for key in _SCALAR_KEYS}
    unknown = set(_VARIABLE_RE.findall(_EACH_RE.sub("", part))) - scalars
    for collection, body in _EACH_RE.findall(part):
        if collection != prefix + _LIST_KEY:
            unknown.add(f"#each {collection}")
        unknown |= set(_VARIABLE_RE.findall(body)) - _ITEM_KEYS - scalars
    return unknown


def _unescaped(unknown: set[str]) -> set[str]:
    """The plain values among ``unknown``: in an HTML part they would be inserted without escaping."""
    plain = _SCALAR_KEYS | {f"#each {_LIST_KEY}"}
    return unknown & plain


class OrderConfirmationTemplate(Construct):
    """An SES e-mail template for order confirmations with HTML and text parts.

    The parts are Handlebars; they may use the TemplateData the ``order_email_sender`` sends:
    ``order_id``, ``customer_name``, ``placed_at``, ``currency``, ``total`` and ``items`` (each with
    ``sku``, ``name``, ``quantity``, ``unit_price``, ``line_total``) in the subject and the text part,
    and the same values HTML-escaped under ``html`` in the HTML part (``{{html.customer_name}}``,
    ``{{#each html.items}}{{name}}{{/each}}``): SES does not escape template data, so a plain value in
    the HTML part would let anyone who places an order put markup into the mail. A plain value in the
    HTML part, or any other variable, fails at synth time instead of rendering unescaped, empty (or as a
    Rendering Failure event) in production.

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
        for label, part, escaped in (
            ("subject", subject, False),
            ("html", html, True),
            ("text", text, False),
        ):
            problems.check(bool(part.strip()), f"{label}: must not be empty")
            unknown = _unknown_variables(part, escaped=escaped)
            unescaped = _unescaped(unknown) if escaped else set()
            problems.check(
                not unescaped,
                f"{label} inserts {sorted(unescaped)} without HTML escaping (SES does not escape template "
                f"data); use the escaped copies {{{{{_HTML}.<name>}}}} and {{{{#each {_HTML}.{_LIST_KEY}}}}}",
            )
            unknown -= unescaped
            prefix = f"{_HTML}." if escaped else ""
            problems.check(
                not unknown,
                f"{label} uses {sorted(unknown)}, which the order e-mail sender does not send; "
                f"available: {sorted(prefix + key for key in _SCALAR_KEYS)}, "
                f"#each {prefix}{_LIST_KEY} and per item {sorted(_ITEM_KEYS)}",
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
