"""E-mail address normalisation and masking (pure functions). Validation is part of the contract with
the constructs: :func:`lambda_handlers.contracts.is_valid_email`."""

from __future__ import annotations

from email.utils import parseaddr


def normalize_address(value: str) -> str:
    """The key used in the suppression table: the bare address, stripped and lower-cased."""
    return value.strip().lower()


def extract_address(value: str) -> str | None:
    """The bare address of ``jane@example.com`` or ``"Jane" <jane@example.com>``, or ``None``."""
    address = parseaddr(value)[1].strip()
    return address if "@" in address else None


def mask_address(value: str) -> str:
    """``jane.doe@example.com`` -> ``j***@example.com`` for logs: the domain stays readable (useful when a
    provider misbehaves); anything that is not an address is masked completely."""
    address = extract_address(value) if isinstance(value, str) else None
    local, _, domain = (address or "").rpartition("@")
    return f"{local[0]}***@{domain}" if local and domain else "***"
