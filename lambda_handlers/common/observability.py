"""Powertools helpers shared by the handler shells."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from lambda_handlers.common.records import Counter


def counter(metrics: Metrics) -> Counter:
    """A :data:`Counter` that adds ``1`` (unit Count) to the named EMF metric."""

    def count(name: str) -> None:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)

    return count
