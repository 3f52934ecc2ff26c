"""Custom resource ``Custom::SnsSmsAttributes``: the account's SMS settings through SNS ``SetSMSAttributes``.

Properties: ``Attributes`` - ``MonthlySpendLimit`` (required), ``DefaultSMSType``, ``DefaultSenderID``,
``DeliveryStatusIAMRole``, ``DeliveryStatusSuccessSamplingRate`` (the API's names, string values).

- Create / Update: ``SetSMSAttributes`` with those attributes, then ``GetSMSAttributes`` reads them back;
  the values SNS now holds are the response ``Data`` (``Fn::GetAtt``). An attribute dropped from the
  properties keeps its previous value: SetSMSAttributes only sets what it is given.
- Delete: nothing. The settings belong to the account and region, not to this stack: other applications
  of the account send SMS under the same spend limit and sender id, and "restoring" them would need values
  this resource never knew (and would lift the spend limit back to the account maximum). Change or clear
  them in the SNS console (Text messaging (SMS) > Text messaging preferences) if the account stops sending.

The function answers CloudFormation itself (``lambda_handlers.common.custom_resource``: a PUT to the
``ResponseURL`` with urllib); it needs nothing but boto3, which the Lambda runtime has.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import ClientError

from lambda_handlers.common import custom_resource
from lambda_handlers.common.custom_resource import CustomResourceError, Outcome
from lambda_handlers.sms_settings.logic import physical_resource_id, sms_attributes

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)


def _apply(properties: Mapping[str, Any], physical_id: str) -> Outcome:
    attributes = sms_attributes(properties)
    sns = boto3.client("sns")
    try:
        sns.set_sms_attributes(attributes=attributes)
        applied = sns.get_sms_attributes()["attributes"]
    except ClientError as exc:
        # The error code only: an AWS error message may quote request values.
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        raise CustomResourceError(f"SNS rejected the SMS attributes: {code}") from exc
    LOGGER.info("SMS attributes set", extra={"attributes": sorted(attributes)})
    return Outcome(physical_id, {name: str(applied.get(name, "")) for name in sorted(attributes)})


def create(properties: Mapping[str, Any], event: Mapping[str, Any], old: Mapping[str, Any] | None) -> Outcome:
    return _apply(properties, physical_resource_id(os.environ.get("AWS_REGION", "unknown")))


def update(properties: Mapping[str, Any], event: Mapping[str, Any], old: Mapping[str, Any] | None) -> Outcome:
    return _apply(properties, str(event["PhysicalResourceId"]))


def delete(properties: Mapping[str, Any], event: Mapping[str, Any], old: Mapping[str, Any] | None) -> Outcome:
    # Account-wide settings stay as they are (see the module docstring).
    return Outcome(str(event.get("PhysicalResourceId") or "none"))


def handler(event: Mapping[str, Any], context: object) -> None:
    custom_resource.run(event, create=create, update=update, delete=delete)
