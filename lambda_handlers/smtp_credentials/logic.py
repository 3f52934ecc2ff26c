"""The SES SMTP password of an IAM secret access key, for one region (pure functions, no boto3).

The documented conversion ("Obtaining Amazon SES SMTP credentials by converting existing AWS credentials",
https://docs.aws.amazon.com/ses/latest/dg/smtp-credentials.html#smtp-credentials-convert): the SigV4
signing-key chain over the fixed date ``11111111``, the region, ``ses`` and ``aws4_request``, then one more
HMAC-SHA256 of ``SendRawEmail``; the password is Base64 of the version byte ``0x04`` followed by that
signature. A password is valid only for the region it was derived for.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SMTP_PORT = 587
"""STARTTLS port (465 is TLS wrapper, 25/2587 also exist); 587 is what most SMTP clients default to."""

_DATE = "11111111"
_SERVICE = "ses"
_TERMINAL = "aws4_request"
_MESSAGE = "SendRawEmail"
_VERSION = 0x04


def _sign(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def smtp_password(secret_access_key: str, region: str) -> str:
    """The SMTP password for ``secret_access_key`` in ``region`` (44 characters of Base64)."""
    if not secret_access_key:
        raise ValueError("secret_access_key is empty")
    if not region or any(not (c.isalnum() or c == "-") for c in region):
        raise ValueError(f"{region!r} is not an AWS region name")
    signature = ("AWS4" + secret_access_key).encode("utf-8")
    for part in (_DATE, region, _SERVICE, _TERMINAL, _MESSAGE):
        signature = _sign(signature, part)
    return base64.b64encode(bytes([_VERSION]) + signature).decode("ascii")


def smtp_endpoint(region: str) -> str:
    """SES's SMTP endpoint of ``region`` (https://docs.aws.amazon.com/general/latest/gr/ses.html)."""
    return f"email-smtp.{region}.amazonaws.com"
