"""Configuration of the bounce processor; the only place that reads its environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lambda_handlers.common import config as env
from lambda_handlers.contracts import (
    ALERT_TOPIC_ARN_ENV,
    DEFAULT_SOFT_BOUNCE_THRESHOLD,
    DEFAULT_SOFT_BOUNCE_WINDOW_HOURS,
    MAX_SOFT_BOUNCE_THRESHOLD,
    MAX_SOFT_BOUNCE_WINDOW_HOURS,
    MIN_SOFT_BOUNCE_THRESHOLD,
    MIN_SOFT_BOUNCE_WINDOW_HOURS,
    SOFT_BOUNCE_TABLE_NAME_ENV,
    SOFT_BOUNCE_THRESHOLD_ENV,
    SOFT_BOUNCE_WINDOW_HOURS_ENV,
    SUPPRESSION_TABLE_NAME_ENV,
    USE_ACCOUNT_SUPPRESSION_LIST_ENV,
)


@dataclass(frozen=True)
class BounceConfig:
    suppression_table_name: str
    soft_bounce_table_name: str
    soft_bounce_threshold: int
    soft_bounce_window_hours: int
    alert_topic_arn: str | None
    use_account_suppression_list: bool
    dead_letter_queue_url: str | None


def load_config(environ: Mapping[str, str] | None = None) -> BounceConfig:
    """Read and validate the configuration; raises :class:`ConfigError` naming the bad variable."""
    source = env.environment(environ)
    return BounceConfig(
        suppression_table_name=env.required_str(source, SUPPRESSION_TABLE_NAME_ENV),
        soft_bounce_table_name=env.required_str(source, SOFT_BOUNCE_TABLE_NAME_ENV),
        soft_bounce_threshold=env.int_value(
            source,
            SOFT_BOUNCE_THRESHOLD_ENV,
            default=DEFAULT_SOFT_BOUNCE_THRESHOLD,
            minimum=MIN_SOFT_BOUNCE_THRESHOLD,
            maximum=MAX_SOFT_BOUNCE_THRESHOLD,
        ),
        soft_bounce_window_hours=env.int_value(
            source,
            SOFT_BOUNCE_WINDOW_HOURS_ENV,
            default=DEFAULT_SOFT_BOUNCE_WINDOW_HOURS,
            minimum=MIN_SOFT_BOUNCE_WINDOW_HOURS,
            maximum=MAX_SOFT_BOUNCE_WINDOW_HOURS,
        ),
        alert_topic_arn=env.sns_topic_arn(source, ALERT_TOPIC_ARN_ENV),
        use_account_suppression_list=env.bool_value(source, USE_ACCOUNT_SUPPRESSION_LIST_ENV, default=False),
        dead_letter_queue_url=env.dead_letter_queue_url(source),
    )
