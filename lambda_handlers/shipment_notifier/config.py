"""Configuration of the shipment notifier; the only place that reads its environment variables."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from lambda_handlers import contracts
from lambda_handlers.common import config as env
from lambda_handlers.common.errors import ConfigError
from lambda_handlers.order_email_sender.logic import EmailSettings

_SENDER_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")
"""SNS: an alphanumeric sender id is 1-11 letters and digits, at least one letter."""


@dataclass(frozen=True)
class NotifierConfig:
    email: EmailSettings
    """``template_name`` is always set: shipment e-mails are sent with the SES template."""
    suppression_table_name: str
    state_table_name: str
    partner_topic_arn: str
    sms_sender_id: str | None
    dead_letter_queue_url: str | None


def load_config(environ: Mapping[str, str] | None = None) -> NotifierConfig:
    """Raises :class:`ConfigError` naming the bad variable."""
    source = env.environment(environ)
    partner_topic_arn = env.sns_topic_arn(source, contracts.PARTNER_TOPIC_ARN_ENV)
    if partner_topic_arn is None:
        raise ConfigError(
            f"environment variable {contracts.PARTNER_TOPIC_ARN_ENV} is required but is missing or empty"
        )
    sender_id = env.optional_str(source, contracts.SMS_SENDER_ID_ENV)
    if sender_id is not None and not _SENDER_ID.fullmatch(sender_id):
        raise ConfigError(
            f"environment variable {contracts.SMS_SENDER_ID_ENV} must be 1-11 letters and digits with at "
            f"least one letter, got {sender_id!r}"
        )
    return NotifierConfig(
        email=EmailSettings(
            from_address=env.sender_address(source, contracts.SENDER_ADDRESS_ENV),
            configuration_set_name=env.required_str(source, contracts.CONFIGURATION_SET_NAME_ENV),
            template_name=env.required_str(source, contracts.TEMPLATE_NAME_ENV),
        ),
        suppression_table_name=env.required_str(source, contracts.SUPPRESSION_TABLE_NAME_ENV),
        state_table_name=env.required_str(source, contracts.SHIPMENT_STATE_TABLE_NAME_ENV),
        partner_topic_arn=partner_topic_arn,
        sms_sender_id=sender_id,
        dead_letter_queue_url=env.dead_letter_queue_url(source),
    )
