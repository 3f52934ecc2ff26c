"""Parse and check the ``Custom::SnsSmsAttributes`` properties (pure: no boto3, tested with plain values).

CloudFormation passes every property value as a string; the construct validates the same rules at synth
time, this is the run-time guard for a template written by hand (a request that breaks them is answered
FAILED with the reason, before SNS is called).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lambda_handlers import contracts
from lambda_handlers.common.custom_resource import CustomResourceError

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")


def _integer(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise CustomResourceError(f"{name} {value!r} is not an integer") from None


def sms_attributes(properties: Mapping[str, Any]) -> dict[str, str]:
    """The attributes to pass to ``SetSMSAttributes``, checked; raises CustomResourceError naming the problem."""
    raw = properties.get(contracts.SMS_ATTRIBUTES_PROPERTY)
    if not isinstance(raw, Mapping) or not raw:
        raise CustomResourceError(f"property {contracts.SMS_ATTRIBUTES_PROPERTY} is missing or empty")
    unknown = sorted(str(k) for k in raw if k not in contracts.SMS_ATTRIBUTE_NAMES)
    if unknown:
        raise CustomResourceError(
            f"unsupported attribute(s) {', '.join(unknown)}; expected {', '.join(contracts.SMS_ATTRIBUTE_NAMES)}"
        )
    attributes = {str(k): str(v) for k, v in raw.items()}
    problems: list[str] = []
    limit = attributes.get(contracts.SMS_MONTHLY_SPEND_LIMIT)
    if limit is None:
        problems.append(f"{contracts.SMS_MONTHLY_SPEND_LIMIT} is required (a decision, not a default)")
    elif _integer(contracts.SMS_MONTHLY_SPEND_LIMIT, limit) <= 0:
        problems.append(f"{contracts.SMS_MONTHLY_SPEND_LIMIT} {limit}: must be a whole number of USD > 0")
    sms_type = attributes.get(contracts.SMS_DEFAULT_TYPE)
    if sms_type is not None and sms_type not in contracts.SMS_TYPES:
        problems.append(f"{contracts.SMS_DEFAULT_TYPE} {sms_type!r}: one of {', '.join(contracts.SMS_TYPES)}")
    sender = attributes.get(contracts.SMS_DEFAULT_SENDER_ID)
    if sender is not None and not contracts.SENDER_ID_PATTERN.match(sender):
        problems.append(
            f"{contracts.SMS_DEFAULT_SENDER_ID} {sender!r}: 1-11 letters and digits, at least one letter"
        )
    role = attributes.get(contracts.SMS_DELIVERY_STATUS_ROLE)
    if role is not None and not _ROLE_ARN.match(role):
        problems.append(f"{contracts.SMS_DELIVERY_STATUS_ROLE} {role!r} is not an IAM role ARN")
    rate = attributes.get(contracts.SMS_DELIVERY_STATUS_SAMPLING_RATE)
    if rate is not None and not 0 <= _integer(contracts.SMS_DELIVERY_STATUS_SAMPLING_RATE, rate) <= 100:
        problems.append(f"{contracts.SMS_DELIVERY_STATUS_SAMPLING_RATE} {rate}: must be 0-100")
    if problems:
        raise CustomResourceError("; ".join(problems))
    return attributes


def physical_resource_id(region: str) -> str:
    """One id per account and region (the settings are account-wide), stable across updates so an update
    never makes CloudFormation delete the "old" resource."""
    return f"sns-sms-attributes-{region}"
