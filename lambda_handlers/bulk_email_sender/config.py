"""Configuration of the bulk e-mail sender; the only place that reads its environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lambda_handlers import contracts
from lambda_handlers.bulk_email_sender.logic import CampaignSettings
from lambda_handlers.common import config as env
from lambda_handlers.common.errors import ConfigError
from lambda_handlers.common.send_rate import send_rate


@dataclass(frozen=True)
class BulkSenderConfig:
    campaign: CampaignSettings
    suppression_table_name: str
    campaign_table_name: str
    campaign_queue_url: str
    send_rate_per_second: float
    contacts_page_size: int
    one_click_unsubscribe: bool
    record_ttl_days: int
    dead_letter_queue_url: str | None


def load_config(environ: Mapping[str, str] | None = None) -> BulkSenderConfig:
    """Raises :class:`ConfigError` naming the bad variable."""
    source = env.environment(environ)
    queue_url = env.required_str(source, contracts.CAMPAIGN_QUEUE_URL_ENV)
    if not queue_url.startswith(("https://", "http://")):
        raise ConfigError(
            f"environment variable {contracts.CAMPAIGN_QUEUE_URL_ENV} must be an SQS queue URL, got {queue_url!r}"
        )
    return BulkSenderConfig(
        campaign=CampaignSettings(
            from_address=env.sender_address(source, contracts.SENDER_ADDRESS_ENV),
            configuration_set_name=env.required_str(source, contracts.CONFIGURATION_SET_NAME_ENV),
            contact_list_name=env.required_str(source, contracts.CONTACT_LIST_NAME_ENV),
        ),
        suppression_table_name=env.required_str(source, contracts.SUPPRESSION_TABLE_NAME_ENV),
        campaign_table_name=env.required_str(source, contracts.CAMPAIGN_TABLE_NAME_ENV),
        campaign_queue_url=queue_url,
        send_rate_per_second=send_rate(source, contracts.SEND_RATE_PER_SECOND_ENV, required=True) or 0.0,
        contacts_page_size=env.int_value(
            source,
            contracts.CONTACTS_PAGE_SIZE_ENV,
            default=contracts.DEFAULT_CONTACTS_PAGE_SIZE,
            minimum=1,
            maximum=contracts.MAX_CONTACTS_PAGE_SIZE,
        ),
        one_click_unsubscribe=env.bool_value(source, contracts.ONE_CLICK_UNSUBSCRIBE_ENV, default=True),
        record_ttl_days=env.int_value(
            source,
            contracts.CAMPAIGN_RECORD_TTL_DAYS_ENV,
            default=contracts.DEFAULT_CAMPAIGN_RECORD_TTL_DAYS,
            minimum=contracts.MIN_CAMPAIGN_RECORD_TTL_DAYS,
            maximum=contracts.MAX_CAMPAIGN_RECORD_TTL_DAYS,
        ),
        dead_letter_queue_url=env.dead_letter_queue_url(source),
    )
