"""Field checks shared by the versioned event parsers (order placed, shipment updated, incident): text,
timestamps and schema versions, each raising :class:`SchemaError` with a reason that names the field."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from lambda_handlers.common.errors import SchemaError, UnsupportedSchemaVersionError

SCHEMA_VERSION = re.compile(r"^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})(?:\.(0|[1-9][0-9]{0,5}))?$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
#: Valid JSON ("\ud800"), but UTF-8 cannot encode a lone surrogate: boto3 would crash on it.
SURROGATES = re.compile(r"[\ud800-\udfff]")
MAX_TIMESTAMP_LENGTH = 64


def text(value: Any, path: str, *, max_length: int) -> str:
    """A non-blank string of at most ``max_length`` characters, without control characters."""
    if not isinstance(value, str):
        raise SchemaError(f"{path}: must be a string")
    if SURROGATES.search(value):
        raise SchemaError(f"{path}: must be valid Unicode (no lone surrogates)")
    if not value.strip():
        raise SchemaError(f"{path}: must not be empty")
    if len(value) > max_length:
        raise SchemaError(f"{path}: must be at most {max_length} characters")
    if CONTROL_CHARACTERS.search(value):
        raise SchemaError(f"{path}: must not contain control characters")
    return value


def schema_version(value: Any, supported_major: int) -> str:
    """``"<major>.<minor>"`` (or ``.patch``); any minor of ``supported_major`` is accepted, any other major is
    rejected permanently (:class:`UnsupportedSchemaVersionError`)."""
    if not isinstance(value, str):
        raise SchemaError('schema_version: must be a string like "1.0"')
    match = SCHEMA_VERSION.fullmatch(value)
    if not match:
        raise SchemaError('schema_version: must look like "<major>.<minor>", e.g. "1.0"')
    major = int(match.group(1))
    if major != supported_major:
        raise UnsupportedSchemaVersionError(
            f"schema_version: major version {major} is not supported (supported: {supported_major}.x)"
        )
    return value


def timestamp(value: Any, path: str, *, min_year: int, max_year: int) -> datetime:
    """An ISO-8601 timestamp with a time zone whose UTC year is in ``[min_year, max_year]`` (as given, in
    its own time zone)."""
    if not isinstance(value, str) or len(value) > MAX_TIMESTAMP_LENGTH:
        raise SchemaError(f"{path}: must be an ISO-8601 timestamp string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise SchemaError(f"{path}: must be an ISO-8601 timestamp") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise SchemaError(f"{path}: must include a time zone (e.g. 'Z' or '+02:00')")
    try:
        year = parsed.astimezone(UTC).year
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00
        year = 0
    if not min_year <= year <= max_year:
        raise SchemaError(f"{path}: must be between the years {min_year} and {max_year}")
    return parsed
