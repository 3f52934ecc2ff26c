"""boto3 client construction shared by the gateways (created lazily, on first use)."""

from __future__ import annotations

from typing import Any

# Short timeouts: a Lambda processing an SQS batch must not hang on one call. botocore's "standard"
# retry mode already retries throttling and 5xx a few times with backoff before we see the error.
_CONNECT_TIMEOUT_SECONDS = 3
_READ_TIMEOUT_SECONDS = 10
_MAX_ATTEMPTS = 3


def make_client(service_name: str) -> Any:
    """A boto3 client for ``service_name`` with the handlers' timeout and retry settings.

    Region and credentials come from the Lambda environment (``AWS_REGION``, the execution role).
    """
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=_CONNECT_TIMEOUT_SECONDS,
        read_timeout=_READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "max_attempts": _MAX_ATTEMPTS},
    )
    # The default session caches the service models, so later clients are cheap to create.
    return boto3.client(service_name, config=config)  # type: ignore[call-overload]


class LazyClient:
    """Holds a boto3 client that is only created when first needed (``.client``)."""

    def __init__(self, service_name: str, client: Any | None = None) -> None:
        self._service_name = service_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self._service_name)
        return self._client
