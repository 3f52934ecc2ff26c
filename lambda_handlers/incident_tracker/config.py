"""Configuration of the incident tracker; the only place that reads its environment variables."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from lambda_handlers import contracts
from lambda_handlers.common import config as env
from lambda_handlers.common.errors import ConfigError


@dataclass(frozen=True)
class TrackerConfig:
    incidents_table_name: str
    on_call_topic_arn: str
    deadline_queue_url: str
    acknowledgement_deadline: timedelta
    from_address: str
    configuration_set_name: str
    report_recipients: tuple[str, ...]
    default_alarm_severity: str
    alarm_severities: dict[str, str] = field(default_factory=dict)
    dead_letter_queue_url: str | None = None


def _recipients(source: Mapping[str, str]) -> tuple[str, ...]:
    name = contracts.REPORT_RECIPIENTS_ENV
    raw = env.required_str(source, name)
    addresses = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not 1 <= len(addresses) <= contracts.MAX_REPORT_RECIPIENTS:
        raise ConfigError(
            f"environment variable {name} must list 1 to {contracts.MAX_REPORT_RECIPIENTS} addresses"
        )
    invalid = [index for index, address in enumerate(addresses) if not contracts.is_valid_email(address)]
    if invalid:  # the addresses themselves are not repeated in the error (it is logged)
        raise ConfigError(f"environment variable {name}: entries {invalid} are not valid e-mail addresses")
    return addresses


def _severity(value: object, what: str) -> str:
    if value not in contracts.INCIDENT_SEVERITIES:
        raise ConfigError(f"{what} must be one of {', '.join(contracts.INCIDENT_SEVERITIES)}, got {value!r}")
    return str(value)


def _alarm_severities(source: Mapping[str, str]) -> dict[str, str]:
    name = contracts.ALARM_SEVERITIES_ENV
    raw = env.optional_str(source, name)
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be a JSON object") from None
    if not isinstance(value, dict):
        raise ConfigError(f"environment variable {name} must be a JSON object of alarm name -> severity")
    return {str(alarm): _severity(severity, f"{name}[{alarm!r}]") for alarm, severity in value.items()}


def _queue_url(source: Mapping[str, str], name: str) -> str:
    value = env.required_str(source, name)
    if not value.startswith(("https://", "http://")):
        raise ConfigError(
            f"environment variable {name} must be an SQS queue URL (https://...), got {value!r}"
        )
    return value


def load_config(environ: Mapping[str, str] | None = None) -> TrackerConfig:
    """Raises :class:`ConfigError` naming the bad variable."""
    source = env.environment(environ)
    topic_arn = env.sns_topic_arn(source, contracts.ON_CALL_TOPIC_ARN_ENV)
    if topic_arn is None:
        raise ConfigError(
            f"environment variable {contracts.ON_CALL_TOPIC_ARN_ENV} is required but is missing or empty"
        )
    deadline = env.int_value(
        source,
        contracts.ACKNOWLEDGEMENT_DEADLINE_SECONDS_ENV,
        default=contracts.DEFAULT_ACKNOWLEDGEMENT_DEADLINE_SECONDS,
        minimum=contracts.MIN_ACKNOWLEDGEMENT_DEADLINE_SECONDS,
        maximum=contracts.MAX_ACKNOWLEDGEMENT_DEADLINE_SECONDS,
    )
    default_severity = _severity(
        env.optional_str(source, contracts.DEFAULT_ALARM_SEVERITY_ENV) or contracts.DEFAULT_ALARM_SEVERITY,
        f"environment variable {contracts.DEFAULT_ALARM_SEVERITY_ENV}",
    )
    return TrackerConfig(
        incidents_table_name=env.required_str(source, contracts.INCIDENTS_TABLE_NAME_ENV),
        on_call_topic_arn=topic_arn,
        deadline_queue_url=_queue_url(source, contracts.ACKNOWLEDGEMENT_QUEUE_URL_ENV),
        acknowledgement_deadline=timedelta(seconds=deadline),
        from_address=env.sender_address(source, contracts.SENDER_ADDRESS_ENV),
        configuration_set_name=env.required_str(source, contracts.CONFIGURATION_SET_NAME_ENV),
        report_recipients=_recipients(source),
        default_alarm_severity=default_severity,
        alarm_severities=_alarm_severities(source),
        dead_letter_queue_url=env.dead_letter_queue_url(source),
    )
