"""Lambda runtime code for the notification-constructs pipelines.

Each sub-package is one Lambda function with the entry point ``lambda_handlers.<name>.handler.handler``:

- ``order_email_sender`` - sends the order confirmation e-mail through SES (exactly once per order).
- ``order_writer`` - persists order-placed events in the orders table.
- ``bounce_processor`` - turns SES bounce/complaint/... notifications into suppressions and alerts.
- ``shipment_notifier`` - delivers shipment updates by SMS, e-mail and partner webhook (once, in order).
- ``incident_tracker`` - records incident lifecycles, pages on-call, sends the incident report.
- ``bulk_email_sender`` - sends campaign pages to a contact-list topic's subscribers.
- ``reply_classifier`` - classifies inbound replies (auto-response or human) and forwards human ones.
- ``sms_settings``, ``smtp_credentials`` - CloudFormation custom resources (SNS SMS account settings; SES SMTP
  credentials in Secrets Manager); ``reply_classifier.activation`` activates a receipt rule set.

This module is imported by the CDK side to locate the handler code, so it must stay free of boto3,
Powertools or anything else that is only available inside the Lambda runtime.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
"""Directory holding the handler sources (the Lambda code asset root is its parent)."""

HANDLER_NAMES = (
    "order_email_sender",
    "order_writer",
    "bounce_processor",
    "shipment_notifier",
    "incident_tracker",
    "bulk_email_sender",
    "reply_classifier",
    "sms_settings",
    "smtp_credentials",
)
"""Sub-packages that are deployable Lambda functions."""


def entry_point(name: str) -> str:
    """Return the Lambda ``handler`` string for one of :data:`HANDLER_NAMES`.

    >>> entry_point("order_writer")
    'lambda_handlers.order_writer.handler.handler'
    """
    if name not in HANDLER_NAMES:
        raise ValueError(f"unknown handler {name!r}; expected one of {', '.join(HANDLER_NAMES)}")
    return f"lambda_handlers.{name}.handler.handler"


__all__ = ["HANDLER_NAMES", "PACKAGE_DIR", "entry_point"]
