"""CloudFormation custom resources answered by our own Python Lambdas (no cfn-response, no Node framework).

CloudFormation sends ``RequestType`` Create / Update / Delete with a pre-signed S3 ``ResponseURL`` and waits
for a JSON document PUT there (``Status`` SUCCESS or FAILED, ``PhysicalResourceId``, ``StackId``,
``RequestId``, ``LogicalResourceId``, optional ``Data`` and ``Reason``); an empty ``Content-Type`` is what
the pre-signed URL was signed for. Without an answer the stack operation hangs for up to an hour, so every
error - including a bug - is answered as FAILED with a reason.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html

``Data`` is readable by anyone who can describe the stack's resources (``Fn::GetAtt``): never put a secret
in it; the handlers store secrets themselves (Secrets Manager) and return only where they are.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

LOGGER = logging.getLogger(__name__)
#: CloudFormation's limit on the response body is 4,096 bytes; a long reason is cut to fit.
MAX_REASON_CHARS = 1000
RESPONSE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Outcome:
    """What a Create / Update / Delete handler returns: the physical id and the (non-secret) attributes."""

    physical_resource_id: str
    data: Mapping[str, str] = field(default_factory=dict)


class CustomResourceError(Exception):
    """A request that cannot be carried out; its message becomes the FAILED reason the stack events show."""


Operation = Callable[[Mapping[str, Any], Mapping[str, Any], "Mapping[str, Any] | None"], Outcome]


def send_response(
    event: Mapping[str, Any],
    *,
    status: str,
    physical_resource_id: str,
    data: Mapping[str, str] | None = None,
    reason: str | None = None,
    opener: Callable[..., Any] = urllib.request.urlopen,
) -> None:
    """PUT the answer to the request's ``ResponseURL``."""
    body = {
        "Status": status,
        "PhysicalResourceId": physical_resource_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": dict(data or {}),
    }
    if reason:
        body["Reason"] = reason[:MAX_REASON_CHARS]
    payload = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        event["ResponseURL"],
        data=payload,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(payload))},
    )
    with opener(request, timeout=RESPONSE_TIMEOUT_SECONDS) as response:
        response.read()


def run(
    event: Mapping[str, Any],
    *,
    create: Operation,
    update: Operation,
    delete: Operation,
    opener: Callable[..., Any] = urllib.request.urlopen,
) -> None:
    """Dispatch ``event`` to ``create`` / ``update`` / ``delete`` (each called with the resource properties,
    the whole event and the old properties of an update) and answer CloudFormation, FAILED on any error."""
    request_type = event.get("RequestType")
    properties: Mapping[str, Any] = event.get("ResourceProperties") or {}
    old: Mapping[str, Any] | None = event.get("OldResourceProperties")
    # Until an operation names one, keep the id CloudFormation has (Update / Delete) or a stable fallback.
    physical_id = str(event.get("PhysicalResourceId") or event.get("LogicalResourceId") or "unknown")
    try:
        operation = {"Create": create, "Update": update, "Delete": delete}.get(str(request_type))
        if operation is None:
            raise CustomResourceError(f"unknown RequestType {request_type!r}")
        outcome = operation(properties, event, old)
    except Exception as exc:
        known = isinstance(exc, CustomResourceError)
        reason = str(exc) if known else f"{type(exc).__name__} (see the function's log)"
        LOGGER.error(
            "custom resource request failed",
            extra={"request_type": request_type, "reason": reason},
            exc_info=not known,
        )
        send_response(event, status="FAILED", physical_resource_id=physical_id, reason=reason, opener=opener)
        return
    send_response(
        event,
        status="SUCCESS",
        physical_resource_id=outcome.physical_resource_id,
        data=outcome.data,
        opener=opener,
    )
