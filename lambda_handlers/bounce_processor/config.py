"""Configuration of the bounce processor; the only place that reads its environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lambda_handlers import contracts
from lambda_handlers.common import config as env


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
        suppression_table_name=env.required_str(source, contracts.SUPPRESSION_TABLE_NAME_ENV),
        soft_bounce_table_name=env.required_str(source, contracts.SOFT_BOUNCE_TABLE_NAME_ENV),
        soft_bounce_threshold=env.int_value(
            source,
            contracts.SOFT_BOUNCE_THRESHOLD_ENV,
            default=contracts.DEFAULT_SOFT_BOUNCE_THRESHOLD,
            minimum=contracts.MIN_SOFT_BOUNCE_THRESHOLD,
            maximum=contracts.MAX_SOFT_BOUNCE_THRESHOLD,
        ),
        soft_bounce_window_hours=env.int_value(
            source,
            contracts.SOFT_BOUNCE_WINDOW_HOURS_ENV,
            default=contracts.DEFAULT_SOFT_BOUNCE_WINDOW_HOURS,
            minimum=contracts.MIN_SOFT_BOUNCE_WINDOW_HOURS,
            maximum=contracts.MAX_SOFT_BOUNCE_WINDOW_HOURS,
        ),
        alert_topic_arn=env.sns_topic_arn(source, contracts.ALERT_TOPIC_ARN_ENV),
        use_account_suppression_list=env.bool_value(
            source, contracts.USE_ACCOUNT_SUPPRESSION_LIST_ENV, default=False
        ),
        dead_letter_queue_url=env.dead_letter_queue_url(source),
    )
