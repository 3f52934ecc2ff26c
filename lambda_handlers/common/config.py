"""Typed reads of environment variables, for each handler's ``config.py`` (nothing else in the handlers
touches ``os.environ``). Every failure is a :class:`ConfigError` whose message names the variable, the
offending value (never a secret here) and what is allowed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from lambda_handlers import contracts
from lambda_handlers.common.errors import ConfigError
from lambda_handlers.contracts import (
    DEAD_LETTER_QUEUE_URL_ENV,
    DEFAULT_METRICS_NAMESPACE,
    METRICS_NAMESPACE_ENV,
)

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def environment(environ: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """``environ`` if given (tests), else the process environment."""
    return os.environ if environ is None else environ


def metrics_namespace(environ: Mapping[str, str] | None = None) -> str:
    """CloudWatch namespace for the EMF metrics: ``POWERTOOLS_METRICS_NAMESPACE`` or the default."""
    return optional_str(environment(environ), METRICS_NAMESPACE_ENV) or DEFAULT_METRICS_NAMESPACE


def optional_str(environ: Mapping[str, str], name: str) -> str | None:
    return environ.get(name, "").strip() or None


def required_str(environ: Mapping[str, str], name: str) -> str:
    value = optional_str(environ, name)
    if value is None:
        raise ConfigError(f"environment variable {name} is required but is missing or empty")
    return value


def int_value(environ: Mapping[str, str], name: str, *, default: int, minimum: int, maximum: int) -> int:
    raw = optional_str(environ, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"environment variable {name} must be between {minimum} and {maximum}, got {value}")
    return value


def bool_value(environ: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = environ.get(name, "")
    lowered = raw.strip().lower()
    if not lowered:
        return default
    if lowered not in _TRUE | _FALSE:
        raise ConfigError(f"environment variable {name} must be 'true' or 'false', got {raw!r}")
    return lowered in _TRUE


def sender_address(environ: Mapping[str, str], name: str) -> str:
    """A From address: ``orders@example.com`` or ``Shop <orders@example.com>``."""
    value = required_str(environ, name)
    if contracts.sender_address(value) is None:
        raise ConfigError(
            f"environment variable {name} must be an e-mail address like 'orders@example.com' "
            f"or 'Shop <orders@example.com>' (no line breaks), got {value!r}"
        )
    return value


def sns_topic_arn(environ: Mapping[str, str], name: str) -> str | None:
    value = optional_str(environ, name)
    if value is not None and not (value.startswith("arn:") and ":sns:" in value):
        raise ConfigError(
            f"environment variable {name} must be an SNS topic ARN (arn:aws:sns:...), got {value!r}"
        )
    return value


def dead_letter_queue_url(environ: Mapping[str, str]) -> str | None:
    """``DEAD_LETTER_QUEUE_URL``: the SQS queue permanently failing records are forwarded to (optional)."""
    value = optional_str(environ, DEAD_LETTER_QUEUE_URL_ENV)
    if value is not None and not value.startswith(("https://", "http://")):
        raise ConfigError(
            f"environment variable {DEAD_LETTER_QUEUE_URL_ENV} must be an SQS queue URL (https://...), "
            f"got {value!r}"
        )
    return value
