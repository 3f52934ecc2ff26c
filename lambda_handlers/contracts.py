"""The contract between the constructs and the handlers: the one place both packages read it from.

``notification_constructs`` (synth time) and ``lambda_handlers`` (run time) both import this module, so
an environment variable name, a default, a limit or a validation rule cannot drift between them. It is
pure standard-library Python: no boto3, no botocore, no Powertools, no aws_cdk (a test enforces this),
so the constructs can import it without the runtime's dependencies and the handlers pay nothing for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# --- Environment variables --------------------------------------------------------------------------
# Read by Powertools itself (set by QueueConsumerFunction on every function).
SERVICE_NAME_ENV = "POWERTOOLS_SERVICE_NAME"
LOG_LEVEL_ENV = "POWERTOOLS_LOG_LEVEL"
METRICS_NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
#: "false" = the function has active X-Ray tracing and the handlers use the Powertools Tracer.
TRACE_DISABLED_ENV = "POWERTOOLS_TRACE_DISABLED"
POWERTOOLS_ENV = (SERVICE_NAME_ENV, LOG_LEVEL_ENV, METRICS_NAMESPACE_ENV, TRACE_DISABLED_ENV)


def tracing_enabled(environ: Mapping[str, str]) -> bool:
    """Whether the handlers trace with the Powertools Tracer (only where the function traces actively)."""
    return environ.get(TRACE_DISABLED_ENV, "true").strip().lower() in ("false", "0")


# Read by every handler.
DEAD_LETTER_QUEUE_URL_ENV = "DEAD_LETTER_QUEUE_URL"

# order_writer
ORDERS_TABLE_NAME_ENV = "ORDERS_TABLE_NAME"

# order_email_sender
SENDER_ADDRESS_ENV = "SENDER_ADDRESS"
CONFIGURATION_SET_NAME_ENV = "CONFIGURATION_SET_NAME"
TEMPLATE_NAME_ENV = "TEMPLATE_NAME"
SUPPRESSION_TABLE_NAME_ENV = "SUPPRESSION_TABLE_NAME"
IDEMPOTENCY_TABLE_NAME_ENV = "IDEMPOTENCY_TABLE_NAME"
IDEMPOTENCY_TTL_SECONDS_ENV = "IDEMPOTENCY_TTL_SECONDS"

# bounce_processor (also SUPPRESSION_TABLE_NAME_ENV)
SOFT_BOUNCE_TABLE_NAME_ENV = "SOFT_BOUNCE_TABLE_NAME"
SOFT_BOUNCE_THRESHOLD_ENV = "SOFT_BOUNCE_THRESHOLD"
SOFT_BOUNCE_WINDOW_HOURS_ENV = "SOFT_BOUNCE_WINDOW_HOURS"
ALERT_TOPIC_ARN_ENV = "ALERT_TOPIC_ARN"
USE_ACCOUNT_SUPPRESSION_LIST_ENV = "USE_ACCOUNT_SUPPRESSION_LIST"

# --- Defaults and limits ----------------------------------------------------------------------------
DEFAULT_METRICS_NAMESPACE = "NotificationConstructs"

DEFAULT_SOFT_BOUNCE_THRESHOLD = 3
MIN_SOFT_BOUNCE_THRESHOLD = 1
MAX_SOFT_BOUNCE_THRESHOLD = 100
DEFAULT_SOFT_BOUNCE_WINDOW_HOURS = 72
MIN_SOFT_BOUNCE_WINDOW_HOURS = 1
MAX_SOFT_BOUNCE_WINDOW_HOURS = 24 * 365

DEFAULT_IDEMPOTENCY_TTL_SECONDS = 14 * 24 * 60 * 60
"""14 days: the maximum SQS message retention, so no redelivery can outlive its idempotency record."""
MIN_IDEMPOTENCY_TTL_SECONDS = 60
MAX_IDEMPOTENCY_TTL_SECONDS = 365 * 24 * 60 * 60

# --- The order.placed event, schema v1 (see lambda_handlers.common.order_event) ---------------------
ORDER_PLACED_EVENT_TYPE = "order.placed"
"""The ``event_type`` of the message body and of the SNS message attribute the pipeline filters on."""
EVENT_TYPE_ATTRIBUTE = "event_type"
ORDER_SCHEMA_MAJOR_VERSION = 1
ORDER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_ORDER_ITEMS = 100
MAX_NAME_LENGTH = 200
MAX_SKU_LENGTH = 100
MAX_QUANTITY = 1_000_000

# --- The order-confirmation template ----------------------------------------------------------------
TEMPLATE_HTML_KEY = "html"
"""The ``TemplateData`` object holding every value again, HTML-escaped (SES does not escape template data):
an HTML part uses ``{{html.customer_name}}`` and ``{{#each html.items}}``, text and subject the plain keys."""
TEMPLATE_VALUE_KEYS = ("order_id", "customer_name", "placed_at", "currency", "total", "items")
"""The plain values of the ``TemplateData`` (the same keys again, escaped, under :data:`TEMPLATE_HTML_KEY`)."""
TEMPLATE_DATA_KEYS = (*TEMPLATE_VALUE_KEYS, TEMPLATE_HTML_KEY)
"""The top-level keys of the ``TemplateData`` the sender sends, in the order it sends them."""
TEMPLATE_ITEM_KEYS = ("sku", "name", "quantity", "unit_price", "line_total")
"""The keys of each element of ``items`` (and of ``html.items``)."""
DEFAULT_SUBJECT = "Your order {{order_id}} is confirmed"
"""The template subject; the sender renders the same line for sends without a template."""

# --- SES message tags (they come back in every SES event of the message) ----------------------------
ORDER_ID_TAG = "order_id"
EVENT_TYPE_TAG = "event_type"
ORDER_PLACED_TAG_VALUE = "order-placed"
"""SES tag values allow only ASCII letters, digits, ``_`` and ``-``: ``order.placed`` -> ``order-placed``."""

# --- Dead-letter forwarding: message attributes on a record the handler parks in the DLQ ------------
FAILURE_REASON_ATTRIBUTE = "failure_reason"
SOURCE_MESSAGE_ID_ATTRIBUTE = "source_message_id"

# --- Metric names (EMF, namespace POWERTOOLS_METRICS_NAMESPACE) -------------------------------------
# Every handler (the record-processing shell).
METRIC_PERMANENT_FAILURE = "PermanentFailure"
METRIC_DEAD_LETTERED = "DeadLettered"
METRIC_DEAD_LETTER_FORWARD_FAILED = "DeadLetterForwardFailed"
METRIC_TRANSIENT_FAILURE = "TransientFailure"
METRIC_UNEXPECTED_FAILURE = "UnexpectedFailure"
# order_writer
METRIC_ORDER_STORED = "OrderStored"
METRIC_DUPLICATE_ORDER = "DuplicateOrder"
METRIC_ORDER_ID_CONFLICT = "OrderIdConflict"
# order_email_sender
METRIC_EMAIL_SENT = "ConfirmationSent"
METRIC_RECIPIENT_SUPPRESSED = "RecipientSuppressed"
METRIC_DUPLICATE_SKIPPED = "DuplicateSkipped"
# bounce_processor (plus one ``SesEvent<Type>`` count per SES event type, e.g. ``SesEventBounce``)
METRIC_ADDRESS_SUPPRESSED = "AddressSuppressed"
METRIC_ADDRESS_ALREADY_SUPPRESSED = "AddressAlreadySuppressed"
METRIC_ACCOUNT_SUPPRESSION_ADDED = "AccountSuppressionAdded"
METRIC_SOFT_BOUNCE_RECORDED = "SoftBounceRecorded"
METRIC_SOFT_BOUNCE_THRESHOLD_REACHED = "SoftBounceThresholdReached"
METRIC_NOT_SPAM_COMPLAINT_IGNORED = "NotSpamComplaintIgnored"
METRIC_INVALID_RECIPIENT_SKIPPED = "InvalidRecipientSkipped"
"""One recipient entry of a bounce / complaint / delivery delay that is not an e-mail address."""
METRIC_ALERT = "AlertRaised"
METRIC_ALERT_SUMMARY_PUBLISHED = "AlertSummaryPublished"
METRIC_ALERT_PUBLISH_FAILED = "AlertPublishFailed"

# --- Addresses --------------------------------------------------------------------------------------
MAX_ADDRESS_LENGTH = 254
MAX_LOCAL_PART_LENGTH = 64
MAX_DOMAIN_LENGTH = 253

# RFC 5322 dot-atom characters for the local part (SES requires 7-bit ASCII local parts).
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
# Domain labels: letters, digits, hyphens (IDNs must be Punycode-encoded, as SES requires).
_DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TLD = re.compile(r"^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_DISPLAY_ADDRESS = re.compile(r"^(?P<name>[^<>]*)<(?P<address>[^<>]*)>$")


def is_valid_domain(value: object) -> bool:
    """At least two labels of letters, digits and inner hyphens, a top-level domain of letters (or
    Punycode ``xn--``), at most 253 characters, no trailing dot."""
    if not isinstance(value, str) or not value or len(value) > MAX_DOMAIN_LENGTH:
        return False
    labels = value.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        return False
    return bool(_TLD.fullmatch(labels[-1]))


def is_valid_email(value: object) -> bool:
    """A pragmatic check: one ``@``, a dot-atom local part, a valid domain (:func:`is_valid_domain`), no
    whitespace or control characters, at most 254 characters. Quoted local parts and IP-literal domains
    are rejected."""
    if not isinstance(value, str) or not value or len(value) > MAX_ADDRESS_LENGTH:
        return False
    if value.count("@") != 1:
        return False
    local, domain = value.split("@")
    if not local or len(local) > MAX_LOCAL_PART_LENGTH or not _LOCAL_PART.fullmatch(local):
        return False
    return is_valid_domain(domain)


def split_sender_address(value: str) -> tuple[str, str]:
    """``'Shop <orders@example.com>'`` -> ``('Shop', 'orders@example.com')``; anything else is a bare
    address ``('', value)``. Surrounding whitespace is dropped; nothing is validated."""
    stripped = value.strip()
    match = _DISPLAY_ADDRESS.fullmatch(stripped)
    if match:
        return match.group("name").strip(), match.group("address").strip()
    return "", stripped


def sender_address(value: object) -> str | None:
    """The bare address of a From value - ``orders@example.com`` or ``Shop <orders@example.com>`` - or
    ``None`` when ``value`` is not one (invalid address, stray brackets, control characters such as line
    breaks, several addresses). Surrounding whitespace is ignored, as the handler's configuration does."""
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    if _CONTROL_CHARACTERS.search(stripped):
        return None
    _, address = split_sender_address(stripped)
    return address if is_valid_email(address) else None
