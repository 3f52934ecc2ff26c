"""Custom resource ``Custom::SesActiveReceiptRuleSet``: make a receipt rule set the active one (opt-in).

SES has one active receipt rule set per account and region, and CloudFormation has no property for it
(``AWS::SES::ReceiptRuleSet`` only creates the set), so ``InboundReplies(activate=True)`` adds this
resource. Properties: ``RuleSetName``. Physical id: ``active-receipt-rule-set/<name>``, so a new name
activates the new set first and CloudFormation's cleanup then deletes the old resource - which changes
nothing, because the old set is no longer the active one.

- Create / Update: ``SetActiveReceiptRuleSet(RuleSetName=name)``; the set active before (if any) is
  returned as ``PreviouslyActive`` (it stops receiving mail: this is the account-wide switch).
- Delete: deactivate (``SetActiveReceiptRuleSet`` without a name) only if ``name`` is still the active set;
  another set activated meanwhile is left alone, and the previous set is never re-activated.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import boto3

from lambda_handlers.common import custom_resource
from lambda_handlers.common.custom_resource import CustomResourceError, Outcome

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)
PHYSICAL_ID_PREFIX = "active-receipt-rule-set/"


def _name(properties: Mapping[str, Any]) -> str:
    value = properties.get("RuleSetName")
    if not isinstance(value, str) or not value:
        raise CustomResourceError("property RuleSetName is missing or empty")
    return value


def active_rule_set(ses: Any) -> str | None:
    metadata = ses.describe_active_receipt_rule_set().get("Metadata") or {}
    name = metadata.get("Name")
    return name if isinstance(name, str) and name else None


def activate(
    properties: Mapping[str, Any], event: Mapping[str, Any], old: Mapping[str, Any] | None
) -> Outcome:
    name = _name(properties)
    ses = boto3.client("ses")
    previous = active_rule_set(ses)
    ses.set_active_receipt_rule_set(RuleSetName=name)
    LOGGER.info("receipt rule set activated", extra={"rule_set": name, "previously_active": previous})
    return Outcome(f"{PHYSICAL_ID_PREFIX}{name}", {"RuleSetName": name, "PreviouslyActive": previous or ""})


def deactivate(
    properties: Mapping[str, Any], event: Mapping[str, Any], old: Mapping[str, Any] | None
) -> Outcome:
    physical_id = str(event.get("PhysicalResourceId") or "")
    if not physical_id.startswith(PHYSICAL_ID_PREFIX):
        return Outcome(physical_id or "none")  # a create that failed before anything was activated
    name = physical_id.removeprefix(PHYSICAL_ID_PREFIX)
    ses = boto3.client("ses")
    if active_rule_set(ses) == name:
        ses.set_active_receipt_rule_set()  # no name: no rule set is active
        LOGGER.info("receipt rule set deactivated", extra={"rule_set": name})
    else:
        LOGGER.info("receipt rule set is no longer the active one; left alone", extra={"rule_set": name})
    return Outcome(physical_id)


def handler(event: Mapping[str, Any], context: object) -> None:
    custom_resource.run(event, create=activate, update=activate, delete=deactivate)
