"""Configuration of the order writer; the only place that reads its environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lambda_handlers.common import config as env
from lambda_handlers.contracts import ORDERS_TABLE_NAME_ENV


@dataclass(frozen=True)
class WriterConfig:
    orders_table_name: str
    dead_letter_queue_url: str | None


def load_config(environ: Mapping[str, str] | None = None) -> WriterConfig:
    """Raises :class:`ConfigError` naming the bad variable."""
    source = env.environment(environ)
    return WriterConfig(env.required_str(source, ORDERS_TABLE_NAME_ENV), env.dead_letter_queue_url(source))
