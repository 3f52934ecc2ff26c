"""Pacing sends under a rate: the token bucket each execution environment keeps for its share of the SES
maximum send rate (the pipeline's rate divided by its maximum concurrency, ``SEND_RATE_PER_SECOND``)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from lambda_handlers.common.errors import ConfigError

MIN_RATE, MAX_RATE = 0.01, 10_000.0

MAX_BURST = 50
"""Default capacity cap: SESv2 ``SendBulkEmail`` takes at most 50 destinations."""


class TokenBucket:
    """At most ``rate`` messages per second on average, bursts of at most ``capacity`` (starts full).

    Pure arithmetic on the times it is given (no clock of its own): :meth:`delay` says how long to wait
    before ``n`` messages may go, :meth:`take` spends them.
    """

    def __init__(self, rate: float, capacity: int | None = None) -> None:
        if not rate > 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.capacity = capacity or max(1, min(MAX_BURST, math.floor(rate)))
        self._tokens = float(self.capacity)
        self._at: float | None = None

    def _refill(self, now: float) -> None:
        if self._at is not None and now > self._at:
            self._tokens = min(float(self.capacity), self._tokens + (now - self._at) * self.rate)
        self._at = now if self._at is None else max(self._at, now)

    def delay(self, n: int, now: float) -> float:
        """Seconds from ``now`` until ``n`` (<= capacity) tokens are available."""
        if n > self.capacity:
            raise ValueError(f"at most {self.capacity} messages at a time")
        self._refill(now)
        return max(0.0, (n - self._tokens) / self.rate)

    def take(self, n: int, now: float) -> None:
        self._refill(now)
        self._tokens -= n


def send_rate(environ: Mapping[str, str], name: str, *, required: bool) -> float | None:
    """The messages per second in ``environ[name]`` (:data:`MIN_RATE` - :data:`MAX_RATE`); ``None`` when
    it is not set and not ``required``. Raises :class:`ConfigError` naming the variable."""
    raw = environ.get(name, "").strip()
    if not raw:
        if required:
            raise ConfigError(f"environment variable {name} is required")
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or not MIN_RATE <= value <= MAX_RATE:
        raise ConfigError(f"environment variable {name} must be between 0.01 and 10000, got {raw!r}")
    return value
