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


# --- Incidents (IncidentAlertPipeline, lambda_handlers.incident_tracker) ------------------------------
# Environment variables of incident_tracker (also SENDER_ADDRESS_ENV, CONFIGURATION_SET_NAME_ENV).
INCIDENTS_TABLE_NAME_ENV = "INCIDENTS_TABLE_NAME"
ON_CALL_TOPIC_ARN_ENV = "ON_CALL_TOPIC_ARN"
ACKNOWLEDGEMENT_QUEUE_URL_ENV = "ACKNOWLEDGEMENT_DEADLINE_QUEUE_URL"
ACKNOWLEDGEMENT_DEADLINE_SECONDS_ENV = "ACKNOWLEDGEMENT_DEADLINE_SECONDS"
REPORT_RECIPIENTS_ENV = "INCIDENT_REPORT_RECIPIENTS"
"""Comma-separated stakeholder addresses the incident report goes to."""
ALARM_SEVERITIES_ENV = "ALARM_SEVERITIES"
"""JSON object: CloudWatch alarm name -> severity (alarms not named get ``DEFAULT_ALARM_SEVERITY``)."""
DEFAULT_ALARM_SEVERITY_ENV = "DEFAULT_ALARM_SEVERITY"

# The incident.event message, schema v1 (see lambda_handlers.incident_tracker.models).
INCIDENT_EVENT_TYPE = "incident.event"
INCIDENT_SCHEMA_MAJOR_VERSION = 1
INCIDENT_SEVERITIES = ("critical", "high", "medium", "low")
"""Most severe first; the ``severity`` message attribute of every page on the on-call topic."""
CRITICAL_SEVERITY = "critical"
DEFAULT_ALARM_SEVERITY = "high"
INCIDENT_ACTIONS = ("open", "acknowledge", "resolve", "note")
SEVERITY_ATTRIBUTE = "severity"
INCIDENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
"""Incident ids are logged and shown in pages: letters, digits, ``_ . : -``, at most 128 characters."""
MAX_INCIDENT_TEXT_LENGTH = 1000
"""``summary`` and ``note`` (``NewStateReason`` of an alarm is cut to this length)."""
MAX_INCIDENT_SERVICE_LENGTH = 100
MAX_INCIDENT_ACTOR_LENGTH = 200
MAX_REPORT_RECIPIENTS = 50
"""SES accepts at most 50 recipients per message."""

# The acknowledgement deadline: an SQS delay per hop of at most 15 minutes, re-queued until it is due.
DEFAULT_ACKNOWLEDGEMENT_DEADLINE_SECONDS = 15 * 60
MIN_ACKNOWLEDGEMENT_DEADLINE_SECONDS = 60
MAX_ACKNOWLEDGEMENT_DEADLINE_SECONDS = 24 * 60 * 60
MAX_SQS_DELAY_SECONDS = 900

# Metrics of incident_tracker.
METRIC_INCIDENT_OPENED = "IncidentOpened"
METRIC_INCIDENT_REPEATED = "IncidentRepeated"
METRIC_INCIDENT_ACKNOWLEDGED = "IncidentAcknowledged"
METRIC_INCIDENT_RESOLVED = "IncidentResolved"
METRIC_INCIDENT_NOTE = "IncidentNoteAdded"
METRIC_INCIDENT_DUPLICATE = "IncidentEventDuplicate"
METRIC_INCIDENT_EVENT_IGNORED = "IncidentEventIgnored"
METRIC_INCIDENT_PAGED = "IncidentPaged"
METRIC_INCIDENT_REPORT_SENT = "IncidentReportSent"
METRIC_UNACKNOWLEDGED_INCIDENT = "UnacknowledgedIncident"
"""One per incident still unacknowledged at its deadline (the pipeline alarms on Sum >= 1)."""

# --- Shipment updates (ShipmentUpdatesPipeline, lambda_handlers.shipment_notifier.models) ----------
SHIPMENT_UPDATED_EVENT_TYPE = "shipment.updated"
"""The ``event_type`` of the body and of the SNS message attribute the pipeline filters on."""
SHIPMENT_SCHEMA_MAJOR_VERSION = 1
SHIPMENT_STATUSES = ("shipped", "out_for_delivery", "delivered", "exception")
SHIPMENT_PROGRESS = ("shipped", "out_for_delivery", "delivered")
"""The statuses in delivery order: one never follows a later one. ``exception`` may follow any status
except ``delivered`` (nothing is sent after the delivery)."""
SHIPMENT_EXCEPTION_STATUS = "exception"
SHIPMENT_CHANNELS = ("sms", "email", "webhook")
"""The channels a customer can choose, in the order the notifier delivers them."""
MAX_CARRIER_LENGTH = 100
MAX_TRACKING_URL_LENGTH = 2048
PARTNER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
E164_PATTERN = re.compile(r"^\+[1-9][0-9]{6,14}$")
"""A phone number in E.164: ``+``, a country code, at most 15 digits in all."""

# Environment of shipment_notifier (also SENDER_ADDRESS_ENV, CONFIGURATION_SET_NAME_ENV,
# TEMPLATE_NAME_ENV, SUPPRESSION_TABLE_NAME_ENV, DEAD_LETTER_QUEUE_URL_ENV).
SHIPMENT_STATE_TABLE_NAME_ENV = "SHIPMENT_STATE_TABLE_NAME"
PARTNER_TOPIC_ARN_ENV = "PARTNER_TOPIC_ARN"
SMS_SENDER_ID_ENV = "SMS_SENDER_ID"
"""Optional alphanumeric sender id (``AWS.SNS.SMS.SenderID``) where the destination country supports one."""

# Message attributes of the partner webhook messages (partners' HTTPS subscriptions filter on them).
SHIPMENT_STATUS_ATTRIBUTE = "status"
PARTNER_ATTRIBUTE = "partner"

# The shipment-update e-mail template (TemplateData; HTML-escaped copies under TEMPLATE_HTML_KEY).
SHIPMENT_TEMPLATE_VALUE_KEYS = (
    "order_id",
    "customer_name",
    "status",
    "status_text",
    "carrier",
    "tracking_url",
    "occurred_at",
)
SHIPMENT_STATUS_TEXT = {
    "shipped": "has shipped",
    "out_for_delivery": "is out for delivery",
    "delivered": "has been delivered",
    "exception": "has a delivery problem",
}
"""``status_text`` of each status: "Your order ord-1 has shipped"."""
SHIPMENT_DEFAULT_SUBJECT = "Your order {{order_id}} {{status_text}}"
SHIPMENT_UPDATED_TAG_VALUE = "shipment-updated"
SHIPMENT_STATUS_TAG = "shipment_status"

SMS_MAX_GSM_CHARACTERS = 160
"""One SMS segment of the GSM 03.38 alphabet; the notifier shortens the text to fit when it can."""

# Metrics of shipment_notifier
METRIC_SHIPMENT_SMS_SENT = "ShipmentSmsSent"
METRIC_SHIPMENT_EMAIL_SENT = "ShipmentEmailSent"
METRIC_SHIPMENT_WEBHOOK_PUBLISHED = "ShipmentWebhookPublished"
METRIC_SHIPMENT_PHONE_OPTED_OUT = "ShipmentPhoneOptedOut"
METRIC_SHIPMENT_RECIPIENT_SUPPRESSED = "ShipmentRecipientSuppressed"
METRIC_SHIPMENT_CHANNEL_ALREADY_SENT = "ShipmentChannelAlreadySent"
METRIC_SHIPMENT_DUPLICATE_SKIPPED = "ShipmentDuplicateSkipped"
METRIC_SHIPMENT_STALE_SKIPPED = "ShipmentStaleUpdateSkipped"
"""An update that arrived after a later status of its order (out of order): never sent as a regression."""
METRIC_SHIPMENT_CHANNEL_FAILED = "ShipmentChannelFailed"


# --- SMS account settings (SmsSettings, lambda_handlers.sms_settings) ---------------------------------
# The SNS SetSMSAttributes attribute names (https://docs.aws.amazon.com/sns/latest/api/API_SetSMSAttributes.html);
# the custom resource passes them through under the ``Attributes`` property, every value a string.
SMS_ATTRIBUTES_PROPERTY = "Attributes"
SMS_MONTHLY_SPEND_LIMIT = "MonthlySpendLimit"
SMS_DEFAULT_TYPE = "DefaultSMSType"
SMS_DEFAULT_SENDER_ID = "DefaultSenderID"
SMS_DELIVERY_STATUS_ROLE = "DeliveryStatusIAMRole"
SMS_DELIVERY_STATUS_SAMPLING_RATE = "DeliveryStatusSuccessSamplingRate"
SMS_ATTRIBUTE_NAMES = (
    SMS_MONTHLY_SPEND_LIMIT,
    SMS_DEFAULT_TYPE,
    SMS_DEFAULT_SENDER_ID,
    SMS_DELIVERY_STATUS_ROLE,
    SMS_DELIVERY_STATUS_SAMPLING_RATE,
)
SMS_TYPES = ("Transactional", "Promotional")
SENDER_ID_PATTERN = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")
"""An alphanumeric sender id: 1-11 letters and digits, at least one letter (SetSMSAttributes DefaultSenderID)."""


# --- Bulk sends (SubscriptionManagement, BulkEmailSender, lambda_handlers.bulk_email_sender) ----------
# The campaign.send request, schema v1 (see lambda_handlers.bulk_email_sender.logic).
CAMPAIGN_SEND_EVENT_TYPE = "campaign.send"
CAMPAIGN_SCHEMA_MAJOR_VERSION = 1
CAMPAIGN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""Campaign ids are SES tag values (``campaign_id`` tag): ASCII letters, digits, ``_`` and ``-``."""
SES_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""Names of SES templates and contact-list topics this library accepts."""
CONTACT_LIST_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_CONTACT_LIST_TOPICS = 20
"""SES quota: at most 20 topics per contact list."""
MAX_TOPIC_DISPLAY_NAME_LENGTH = 128
SUBSCRIPTION_STATUSES = ("OPT_IN", "OPT_OUT")
OPT_IN = "OPT_IN"
OPT_OUT = "OPT_OUT"
MAX_BULK_DESTINATIONS = 50
"""SESv2 ``SendBulkEmail`` takes at most 50 entries per call."""
MAX_CONTACTS_PAGE_SIZE = 1000
"""SESv2 ``ListContacts`` returns at most 1,000 contacts per page."""
DEFAULT_CONTACTS_PAGE_SIZE = 100
BATCH_GET_MAX_KEYS = 100
"""DynamoDB ``BatchGetItem`` reads at most 100 keys per call."""
DEFAULT_CAMPAIGN_RECORD_TTL_DAYS = 90
MIN_CAMPAIGN_RECORD_TTL_DAYS = 1
MAX_CAMPAIGN_RECORD_TTL_DAYS = 3650

# Environment of bulk_email_sender (also SENDER_ADDRESS_ENV, CONFIGURATION_SET_NAME_ENV,
# SUPPRESSION_TABLE_NAME_ENV, DEAD_LETTER_QUEUE_URL_ENV).
CONTACT_LIST_NAME_ENV = "CONTACT_LIST_NAME"
CAMPAIGN_TABLE_NAME_ENV = "CAMPAIGN_TABLE_NAME"
CAMPAIGN_QUEUE_URL_ENV = "CAMPAIGN_QUEUE_URL"
"""The queue the sender feeds itself the next page of a campaign through (its own source queue)."""
SEND_RATE_PER_SECOND_ENV = "SEND_RATE_PER_SECOND"
"""Messages per second of one execution environment: the pipeline's rate divided by its max concurrency."""
CONTACTS_PAGE_SIZE_ENV = "CONTACTS_PAGE_SIZE"
ONE_CLICK_UNSUBSCRIBE_ENV = "ONE_CLICK_UNSUBSCRIBE"
"""``true``: one SendEmail per recipient with ListManagementOptions (SES adds the RFC 8058 headers);
``false``: SendBulkEmail, up to 50 recipients a call (SendBulkEmail has no ListManagementOptions)."""
CAMPAIGN_RECORD_TTL_DAYS_ENV = "CAMPAIGN_RECORD_TTL_DAYS"

# SES tags of campaign messages (they come back in every SES event of the message).
CAMPAIGN_ID_TAG = "campaign_id"
CAMPAIGN_TAG_VALUE = "campaign"
"""The ``event_type`` tag (:data:`EVENT_TYPE_TAG`) of campaign messages."""

# Metrics of bulk_email_sender (one count per destination unless noted).
METRIC_CAMPAIGN_EMAIL_SENT = "CampaignEmailSent"
METRIC_CAMPAIGN_RECIPIENT_SUPPRESSED = "CampaignRecipientSuppressed"
METRIC_CAMPAIGN_ALREADY_HANDLED = "CampaignRecipientAlreadyHandled"
"""A destination with a result from an earlier delivery of its page: not mailed again."""
METRIC_CAMPAIGN_SEND_FAILED = "CampaignSendFailed"
"""A destination SES refused for good (recorded as failed, never retried)."""
METRIC_CAMPAIGN_SEND_RETRIED = "CampaignSendRetried"
"""A destination SES did not take this time (throttled, transient): its page is delivered again."""
METRIC_CAMPAIGN_PAGE_QUEUED = "CampaignPageQueued"
"""One per next page of a campaign queued (one campaign = one page per CONTACTS_PAGE_SIZE contacts)."""


# --- Inbound replies (InboundReplies, lambda_handlers.reply_classifier) -------------------------------
# Environment of reply_classifier (also DEAD_LETTER_QUEUE_URL_ENV).
INBOUND_BUCKET_NAME_ENV = "INBOUND_BUCKET_NAME"
"""The only bucket the classifier reads raw mail from (a notification naming another one is refused)."""
FORWARD_FROM_ADDRESS_ENV = "FORWARD_FROM_ADDRESS"
"""The verified sending identity forwarded replies are sent from (``From``); the sender goes to ``Reply-To``."""
FORWARD_TO_ADDRESS_ENV = "FORWARD_TO_ADDRESS"
FORWARD_QUEUE_URL_ENV = "FORWARD_QUEUE_URL"
MAX_INBOUND_MESSAGE_BYTES_ENV = "MAX_INBOUND_MESSAGE_BYTES"

INBOUND_OBJECT_PREFIX = "inbound/"
"""Key prefix of the raw mail SES stores (the S3 action's ``ObjectKeyPrefix``); the key is then SES's message id."""
DEFAULT_MAX_INBOUND_MESSAGE_BYTES = 10 * 1024 * 1024
MIN_INBOUND_MESSAGE_BYTES = 1024
MAX_INBOUND_MESSAGE_BYTES = 40 * 1024 * 1024
"""SES stores mail of up to 40 MB with the S3 action; SESv2 ``SendEmail`` takes raw messages of up to 40 MB."""

# The message a human reply puts on the forward queue, schema v1 (no body: bucket and key point at it).
REPLY_RECEIVED_EVENT_TYPE = "reply.received"
REPLY_SCHEMA_VERSION = "1.0"
REPLY_MESSAGE_KEYS = (
    "event_type",
    "schema_version",
    "bucket",
    "key",
    "ses_message_id",
    "from",
    "reply_to",
    "subject",
    "message_id",
    "in_reply_to",
    "received_at",
)

# Metrics of reply_classifier.
METRIC_REPLY_FORWARDED_BY_EMAIL = "ReplyForwardedByEmail"
METRIC_REPLY_FORWARDED_TO_QUEUE = "ReplyForwardedToQueue"
METRIC_AUTO_RESPONSE_RECEIVED = "AutoResponseReceived"
"""Out-of-office and other automatic replies: recorded, never forwarded."""
METRIC_INBOUND_BOUNCE_RECEIVED = "InboundBounceReceived"
"""Delivery reports (``Return-Path: <>``, MAILER-DAEMON, ``multipart/report``) that reached the reply address."""
METRIC_INBOUND_NOTIFICATION_IGNORED = "InboundNotificationIgnored"
"""SES notifications that announce no stored mail (not ``Received``, or not an S3 action)."""
