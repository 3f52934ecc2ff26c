"""The same end-to-end scenario against a real AWS account (opt-in: ``make e2e-aws``; never in CI here).

Needs credentials, ``AWS_REGION`` and the example stack deployed there
(``npx cdk deploy OrderNotifications -c domain=<a domain verified in SES>``). Uses only the SES mailbox
simulator addresses, which SES accepts even while the account is in the SES sandbox.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from notification_constructs.testing import OrderPipelinesScenario

pytestmark = pytest.mark.aws


class Account:
    """A :class:`~notification_constructs.testing.scenario.ScenarioTarget` backed by real AWS."""

    def __init__(self) -> None:
        import boto3

        self.session = boto3.Session()

    def client(self, service: str) -> Any:
        return self.session.client(service)


def _why_not() -> str | None:
    if os.environ.get("CI"):
        return "never runs in CI: it needs a real AWS account"
    if os.environ.get("AWS_ENDPOINT_URL"):
        return "AWS_ENDPOINT_URL is set: this test is for a real account, not an emulator"
    import boto3

    session = boto3.Session()
    if session.get_credentials() is None:
        return "no AWS credentials (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
    if not session.region_name:
        return "no region (set AWS_REGION)"
    return None


def test_the_scenario_holds_in_a_real_account() -> None:
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    account = Account()
    stack = os.environ.get("NC_E2E_STACK", "OrderNotifications")
    described = account.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    report = OrderPipelinesScenario(account, outputs, timeout=300, settle=30, progress=print).run()
    print(report.render())
    assert report.ok, report.render()
