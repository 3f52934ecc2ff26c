"""Configuration of the order e-mail sender; the only place that reads its environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lambda_handlers.common import config as env
from lambda_handlers.contracts import (
    CONFIGURATION_SET_NAME_ENV,
    DEFAULT_IDEMPOTENCY_TTL_SECONDS,
    IDEMPOTENCY_TABLE_NAME_ENV,
    IDEMPOTENCY_TTL_SECONDS_ENV,
    MAX_IDEMPOTENCY_TTL_SECONDS,
    MIN_IDEMPOTENCY_TTL_SECONDS,
    SENDER_ADDRESS_ENV,
    SUPPRESSION_TABLE_NAME_ENV,
    TEMPLATE_NAME_ENV,
)


@dataclass(frozen=True)
class SenderConfig:
    sender_address: str
    configuration_set_name: str
    template_name: str | None
    suppression_table_name: str
    idempotency_table_name: str
    idempotency_ttl_seconds: int
    dead_letter_queue_url: str | None


def load_config(environ: Mapping[str, str] | None = None) -> SenderConfig:
    """Read and validate the configuration; raises :class:`ConfigError` naming the bad variable."""
    source = env.environment(environ)
    return SenderConfig(
        sender_address=env.sender_address(source, SENDER_ADDRESS_ENV),
        configuration_set_name=env.required_str(source, CONFIGURATION_SET_NAME_ENV),
        template_name=env.optional_str(source, TEMPLATE_NAME_ENV),
        suppression_table_name=env.required_str(source, SUPPRESSION_TABLE_NAME_ENV),
        idempotency_table_name=env.required_str(source, IDEMPOTENCY_TABLE_NAME_ENV),
        idempotency_ttl_seconds=env.int_value(
            source,
            IDEMPOTENCY_TTL_SECONDS_ENV,
            default=DEFAULT_IDEMPOTENCY_TTL_SECONDS,
            minimum=MIN_IDEMPOTENCY_TTL_SECONDS,
            maximum=MAX_IDEMPOTENCY_TTL_SECONDS,
        ),
        dead_letter_queue_url=env.dead_letter_queue_url(source),
    )
