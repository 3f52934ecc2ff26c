"""Powertools helpers shared by the handler shells, and the cap on third-party log levels.

Importing this module caps the AWS SDK's and Powertools' own loggers at INFO (:func:`cap_library_loggers`):
at DEBUG botocore logs whole request parameters (addresses, message bodies) and Powertools' batch utility
logs exception messages (AWS error text), whatever ``POWERTOOLS_LOG_LEVEL``, ``LOG_LEVEL`` or
``AWS_LAMBDA_LOG_LEVEL`` say. The handlers' own logger is not affected.
"""

from __future__ import annotations

import logging

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from lambda_handlers.common.records import Counter


def counter(metrics: Metrics) -> Counter:
    """A :data:`Counter` that adds ``1`` (unit Count) to the named EMF metric."""

    def count(name: str) -> None:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)

    return count


#: Loggers that print request parameters or exception messages below INFO.
CAPPED_LOGGERS = ("boto3", "botocore", "urllib3", "s3transfer", "aws_lambda_powertools")


def cap_library_loggers(level: int = logging.INFO) -> None:
    """Raise the level of :data:`CAPPED_LOGGERS` to at least ``level`` (never lowers a stricter one)."""
    for name in CAPPED_LOGGERS:
        library_logger = logging.getLogger(name)
        if library_logger.level < level:  # NOTSET (0) would inherit the root logger's DEBUG
            library_logger.setLevel(level)


cap_library_loggers()
