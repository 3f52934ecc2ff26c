"""Configuration of the reply classifier; the only place that reads its environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lambda_handlers import contracts
from lambda_handlers.common import config as env
from lambda_handlers.common.errors import ConfigError


@dataclass(frozen=True)
class ClassifierConfig:
    bucket_name: str
    forward_from_address: str | None
    forward_to_address: str | None
    forward_queue_url: str | None
    max_message_bytes: int
    dead_letter_queue_url: str | None


def load_config(environ: Mapping[str, str] | None = None) -> ClassifierConfig:
    """Raises :class:`ConfigError` naming the bad variable; at least one forward target is required."""
    source = env.environment(environ)
    to_address = env.optional_str(source, contracts.FORWARD_TO_ADDRESS_ENV)
    if to_address is not None and not contracts.is_valid_email(to_address):
        raise ConfigError(
            f"environment variable {contracts.FORWARD_TO_ADDRESS_ENV} must be an e-mail address, "
            f"got {to_address!r}"
        )
    from_address = (
        env.sender_address(source, contracts.FORWARD_FROM_ADDRESS_ENV) if to_address is not None else None
    )
    queue_url = env.optional_str(source, contracts.FORWARD_QUEUE_URL_ENV)
    if queue_url is not None and not queue_url.startswith(("https://", "http://")):
        raise ConfigError(
            f"environment variable {contracts.FORWARD_QUEUE_URL_ENV} must be an SQS queue URL, got {queue_url!r}"
        )
    if to_address is None and queue_url is None:
        raise ConfigError(
            f"set {contracts.FORWARD_TO_ADDRESS_ENV} and/or {contracts.FORWARD_QUEUE_URL_ENV}: "
            "human replies need somewhere to go"
        )
    return ClassifierConfig(
        bucket_name=env.required_str(source, contracts.INBOUND_BUCKET_NAME_ENV),
        forward_from_address=from_address,
        forward_to_address=to_address,
        forward_queue_url=queue_url,
        max_message_bytes=env.int_value(
            source,
            contracts.MAX_INBOUND_MESSAGE_BYTES_ENV,
            default=contracts.DEFAULT_MAX_INBOUND_MESSAGE_BYTES,
            minimum=contracts.MIN_INBOUND_MESSAGE_BYTES,
            maximum=contracts.MAX_INBOUND_MESSAGE_BYTES,
        ),
        dead_letter_queue_url=env.dead_letter_queue_url(source),
    )
