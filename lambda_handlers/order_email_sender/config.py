"""Configuration of the order e-mail sender; the only place that reads its environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lambda_handlers import contracts
from lambda_handlers.common import config as env
from lambda_handlers.common.send_rate import send_rate
from lambda_handlers.order_email_sender.logic import EmailSettings


@dataclass(frozen=True)
class SenderConfig:
    email: EmailSettings
    suppression_table_name: str
    idempotency_table_name: str
    idempotency_ttl_seconds: int
    dead_letter_queue_url: str | None
    send_rate_per_second: float | None = None
    """This execution environment's share of the SES maximum send rate; ``None``: no pacing."""


def load_config(environ: Mapping[str, str] | None = None) -> SenderConfig:
    """Raises :class:`ConfigError` naming the bad variable."""
    source = env.environment(environ)
    return SenderConfig(
        email=EmailSettings(
            from_address=env.sender_address(source, contracts.SENDER_ADDRESS_ENV),
            configuration_set_name=env.required_str(source, contracts.CONFIGURATION_SET_NAME_ENV),
            template_name=env.optional_str(source, contracts.TEMPLATE_NAME_ENV),
        ),
        suppression_table_name=env.required_str(source, contracts.SUPPRESSION_TABLE_NAME_ENV),
        idempotency_table_name=env.required_str(source, contracts.IDEMPOTENCY_TABLE_NAME_ENV),
        idempotency_ttl_seconds=env.int_value(
            source,
            contracts.IDEMPOTENCY_TTL_SECONDS_ENV,
            default=contracts.DEFAULT_IDEMPOTENCY_TTL_SECONDS,
            minimum=contracts.MIN_IDEMPOTENCY_TTL_SECONDS,
            maximum=contracts.MAX_IDEMPOTENCY_TTL_SECONDS,
        ),
        dead_letter_queue_url=env.dead_letter_queue_url(source),
        send_rate_per_second=send_rate(source, contracts.SEND_RATE_PER_SECOND_ENV, required=False),
    )
