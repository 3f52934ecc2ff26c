"""Lambda runtime code for the notification-constructs pipelines.

Each sub-package is one Lambda function with the entry point ``lambda_handlers.<name>.handler.handler``:

- ``order_email_sender`` - sends the order confirmation e-mail through SES (exactly once per order).
- ``order_writer`` - persists order-placed events in the orders table.
- ``bounce_processor`` - turns SES bounce/complaint/... notifications into suppressions and alerts.

This module is imported by the CDK side to locate the handler code, so it must stay free of boto3,
Powertools or anything else that is only available inside the Lambda runtime.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
"""Directory holding the handler sources (the Lambda code asset root is its parent)."""

HANDLER_NAMES = ("order_email_sender", "order_writer", "bounce_processor")
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
