"""The example's deliverability stack on the sandbox, beside its own copy of the order stack (stack names and
domain of their own, so the example app's deployment in tests/e2e/test_example_app.py is not touched): one
deployment with every flag on, the deliverability scenario, then both stacks destroyed (SES allows one
contact list per account, and the active receipt rule set is account-wide)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk import App

from examples.app import OrderNotificationsStack
from examples.deliverability import add_deliverability_stack
from notification_constructs.testing import Sandbox
from notification_constructs.testing.deliverability_scenario import (
    DeliverabilityReport,
    DeliverabilityScenario,
)

ORDERS = "DlvOrderNotifications"
STACK = "DlvDeliverability"
DOMAIN = "dlv.example.com"
CONTEXT = {"dedicated_ips": "managed", "vdm": "true", "activate_receipt_rule_set": "true"}


def build_app(context: dict[str, Any]) -> App:
    app = App(context=context)
    orders = OrderNotificationsStack(app, ORDERS, domain=DOMAIN, sender_address=f"Shop <orders@{DOMAIN}>")

    def ctx(key: str) -> str | None:
        value = app.node.try_get_context(key)
        return str(value) if value not in (None, "") else None

    add_deliverability_stack(app, orders, ctx, id=STACK)
    return app


@pytest.fixture(scope="module")
def outputs(sandbox: Sandbox, cdk_json_context: dict[str, Any]) -> Iterator[dict[str, str]]:
    # GIVEN both stacks deployed with the CDK CLI (the order stack first: the deliverability stack imports
    # its sender, configuration set, suppression table and alert topic), every flag on
    app = build_app({**cdk_json_context, **CONTEXT})
    sandbox.deploy(app, stacks=[ORDERS, STACK])
    yield {**sandbox.stack_outputs(ORDERS), **sandbox.stack_outputs(STACK)}
    sandbox.destroy(app, stacks=[STACK, ORDERS])


@pytest.fixture(scope="module")
def report(sandbox: Sandbox, outputs: dict[str, str]) -> DeliverabilityReport:
    # WHEN the scenario runs: a registration e-mail, the SMTP secret, a campaign, two replies
    return DeliverabilityScenario(sandbox, outputs, timeout=90).run()


def test_every_expectation_of_the_scenario_holds(report: DeliverabilityReport) -> None:
    # THEN every check passed (the rendered report says which did not)
    assert report.ok, report.render()
    assert report.render().startswith(f"Deliverability scenario {report.run_id} - PASSED")
    assert report.replies_run and not report.rule_set_activated_here  # the stack activated its rule set


def test_the_campaign_went_out_with_one_click_unsubscribe(
    sandbox: Sandbox, outputs: dict[str, str], report: DeliverabilityReport
) -> None:
    # THEN each campaign mail names the contact list and topic (SES adds the List-Unsubscribe headers) and
    # went through the campaign configuration set, not the transactional one
    mails = [e for e in sandbox.emails() if e.get("template") == outputs["CampaignTemplateName"]]
    ours = [m for m in mails if set(m["to"]) & set(report.contacts.values())]
    assert len(ours) == 2
    for mail in ours:
        assert mail["list_management"] == {
            "ContactListName": outputs["ContactListName"],
            "TopicName": outputs["CampaignTopic"],
        }
        assert mail["configuration_set"] == outputs["CampaignConfigurationSetName"]
        assert mail["subject"] == f"News {report.run_id}"


def test_the_flags_deployed_the_pool_and_vdm(sandbox: Sandbox, outputs: dict[str, str]) -> None:
    # THEN the managed pool is the campaign set's sending pool, and VDM is on for the account
    sesv2 = sandbox.client("sesv2")
    pool = sesv2.get_dedicated_ip_pool(PoolName=outputs["DedicatedIpPoolName"])["DedicatedIpPool"]
    assert pool["ScalingMode"] == "MANAGED"
    config_set = sesv2.get_configuration_set(ConfigurationSetName=outputs["CampaignConfigurationSetName"])
    assert config_set["DeliveryOptions"]["SendingPoolName"] == outputs["DedicatedIpPoolName"]
    assert sesv2.get_account()["VdmAttributes"]["VdmEnabled"] == "ENABLED"


def test_the_reply_rule_set_is_the_active_one(sandbox: Sandbox, outputs: dict[str, str]) -> None:
    active = sandbox.client("ses").describe_active_receipt_rule_set()
    assert active["Metadata"]["Name"] == outputs["ReceiptRuleSetName"]
    assert [r["Recipients"] for r in active["Rules"]] == [[outputs["ReplyAddress"]]]
