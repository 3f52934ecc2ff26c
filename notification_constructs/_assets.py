"""Locate the packaged Lambda handler code (``lambda_handlers``) without importing it (no boto3 here)."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

#: Powertools for AWS Lambda (Python) release the handlers are tested with (the dev pin in pyproject).
POWERTOOLS_VERSION = "3.37.0"
#: Lambda runtime of the consumers; ``POWERTOOLS_LAYER_PARAMETER`` must name the same Python version.
RUNTIME = lambda_.Runtime.PYTHON_3_14
#: Public SSM parameter published by the Powertools team with the layer ARN of exactly that release,
#: so no layer version number is hard-coded here.
POWERTOOLS_LAYER_PARAMETER = f"/aws/service/powertools/python/arm64/python3.14/{POWERTOOLS_VERSION}"

_EXCLUDE = ["*", ".*", "!lambda_handlers", "!lambda_handlers/**", "**/__pycache__", "**/*.pyc", "**/py.typed"]


@cache
def handlers_root() -> Path:
    """The directory that contains the ``lambda_handlers`` package (repo root or site-packages)."""
    spec = importlib.util.find_spec("lambda_handlers")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the lambda_handlers package is not installed alongside notification_constructs")
    return Path(next(iter(spec.submodule_search_locations))).parent


def handlers_code() -> lambda_.Code:
    """A code asset holding only ``lambda_handlers/`` so entry points stay ``lambda_handlers.<name>...``."""
    return lambda_.Code.from_asset(str(handlers_root()), exclude=_EXCLUDE)
