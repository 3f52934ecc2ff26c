"""E-mail address validation, normalisation and masking (pure functions, no dependencies)."""

from __future__ import annotations

import re
from email.utils import parseaddr

MAX_ADDRESS_LENGTH = 254
MAX_LOCAL_PART_LENGTH = 64

# RFC 5322 dot-atom characters for the local part (SES requires 7-bit ASCII local parts).
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
# Domain labels: letters, digits, hyphens (IDNs must be Punycode-encoded, as SES requires).
_DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TLD = re.compile(r"^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$")


def is_valid_email(value: object) -> bool:
    """A pragmatic check: one ``@``, a dot-atom local part, a domain with a dot, no whitespace or
    control characters, at most 254 characters. Quoted local parts and IP-literal domains are rejected."""
    if not isinstance(value, str) or not value or len(value) > MAX_ADDRESS_LENGTH:
        return False
    if value.count("@") != 1:
        return False
    local, domain = value.split("@")
    if not local or len(local) > MAX_LOCAL_PART_LENGTH or not _LOCAL_PART.fullmatch(local):
        return False
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        return False
    return bool(_TLD.fullmatch(labels[-1]))


def normalize_address(value: str) -> str:
    """The key used in the suppression table: the bare address, stripped and lower-cased."""
    return value.strip().lower()


def extract_address(value: str) -> str | None:
    """The bare address of ``jane@example.com`` or ``"Jane" <jane@example.com>``, or ``None``."""
    _, address = parseaddr(value)
    address = address.strip()
    return address if "@" in address else None


def mask_address(value: str) -> str:
    """Mask an address for logs: ``jane.doe@example.com`` -> ``j***@example.com``.

    The domain stays readable (useful when a provider misbehaves); anything that is not an address
    is masked completely.
    """
    address = extract_address(value) if isinstance(value, str) else None
    if not address:
        return "***"
    local, _, domain = address.rpartition("@")
    if not local or not domain:
        return "***"
    return f"{local[0]}***@{domain}"
