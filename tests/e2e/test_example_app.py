"""The example app (``cdk.json`` -> ``examples/app.py``) deployed with the real CDK CLI into the sandbox:
the scenario end to end, a redeploy without and with a change, destroy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from examples.app import build_app
from notification_constructs.testing import OrderPipelinesScenario, Sandbox, order_placed, publish_order

STACK = "OrderNotifications"
CONTEXT = {"alert_email": "oncall@example.com"}


def physical_ids(sandbox: Sandbox) -> dict[str, str]:
    cfn = sandbox.client("cloudformation")
    resources = cfn.describe_stack_resources(StackName=STACK)["StackResources"]
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in resources}


@pytest.fixture(scope="module")
def outputs(sandbox: Sandbox) -> dict[str, str]:
    # GIVEN the example stack deployed by the CDK CLI from cdk.json
    sandbox.deploy(stacks=STACK, context=CONTEXT)
    return sandbox.stack_outputs(STACK)


def test_deploy_creates_every_resource_of_the_template(sandbox: Sandbox, outputs: dict[str, str]) -> None:
    cfn = sandbox.client("cloudformation")
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    resources = cfn.describe_stack_resources(StackName=STACK)["StackResources"]
    types = {r["ResourceType"] for r in resources}
    assert {
        "AWS::SNS::Subscription",
        "AWS::SES::ConfigurationSetEventDestination",
        "AWS::SQS::QueuePolicy",
        "AWS::CloudWatch::Alarm",
        "AWS::Lambda::EventSourceMapping",
    } <= types
    assert all(r["ResourceStatus"] == "CREATE_COMPLETE" for r in resources)
    # the subscriptions really exist: two order queues on the order topic
    subscriptions = sandbox.client("sns").list_subscriptions_by_topic(TopicArn=outputs["OrderEventsTopicArn"])
    assert sorted(s["Protocol"] for s in subscriptions["Subscriptions"]) == ["sqs", "sqs"]


def test_the_scenario_holds_end_to_end(sandbox: Sandbox, outputs: dict[str, str]) -> None:
    # WHEN the scenario runs: simulator orders, a malformed event, a duplicate, a reused id, a suppressed order
    report = OrderPipelinesScenario(sandbox, outputs, timeout=90).run()
    # THEN every expectation held
    assert report.ok, report.render()
    # and the e-mails in the outbox are the rendered template (subject carries the order id)
    for email in report.emails:
        order_tag = email["tags"]["order_id"]
        assert order_tag in email["subject"]
        assert email["configuration_set"] == outputs["ConfigurationSetName"]


def test_a_second_deploy_without_change_leaves_every_resource_in_place(
    sandbox: Sandbox, outputs: dict[str, str], cdk_json_context: dict[str, Any]
) -> None:
    before = physical_ids(sandbox)
    # WHEN the same app is deployed again (synthesized in-process this time: the same template)
    sandbox.deploy(build_app({**cdk_json_context, **CONTEXT}), stacks=STACK)
    # THEN nothing was replaced and the pipelines still deliver
    assert physical_ids(sandbox) == before
    assert sandbox.stack_outputs(STACK) == outputs
    assert_an_order_is_mailed(sandbox, outputs, "after-noop-deploy")


def test_a_deploy_with_a_change_updates_only_what_changed(
    sandbox: Sandbox, outputs: dict[str, str], cdk_json_context: dict[str, Any]
) -> None:
    before = physical_ids(sandbox)
    # WHEN the alert e-mail address changes
    sandbox.deploy(build_app({**cdk_json_context, "alert_email": "support@example.com"}), stacks=STACK)
    after = physical_ids(sandbox)
    # THEN only the alert e-mail subscription changed (CDK names it after the address: a new logical id);
    # every other resource - the tables with their data above all - is left in place
    assert {k: v for k, v in after.items() if k in before} == {k: v for k, v in before.items() if k in after}
    removed, added = [k for k in before if k not in after], [k for k in after if k not in before]
    assert len(removed) == 1 and removed[0].startswith("BounceHandlingSupportAlerts")
    assert "oncallexamplecom" in removed[0]
    assert len(added) == 1 and added[0].startswith("BounceHandlingSupportAlerts")
    assert "supportexamplecom" in added[0]
    alert_subscriptions = sandbox.client("sns").list_subscriptions_by_topic(TopicArn=outputs["AlertTopicArn"])
    endpoints = [s["Endpoint"] for s in alert_subscriptions["Subscriptions"] if s["Protocol"] == "email"]
    assert endpoints == ["support@example.com"]
    assert_an_order_is_mailed(sandbox, outputs, "after-update")


def test_destroy_removes_the_stack_and_every_resource_not_retained(sandbox: Sandbox) -> None:
    cfn = sandbox.client("cloudformation")
    template = cfn.get_template(StackName=STACK)["TemplateBody"]
    template = template if isinstance(template, dict) else json.loads(template)
    retained = {k for k, v in template["Resources"].items() if v.get("DeletionPolicy") == "Retain"}
    resources = cfn.describe_stack_resources(StackName=STACK)["StackResources"]
    # WHEN the stack is destroyed
    sandbox.destroy(stacks=STACK)
    # THEN the stack is gone; of its functions, queues, topics and tables only the RETAIN ones are left
    live = {s["StackName"] for s in cfn.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"}
    assert STACK not in live
    existing = {
        "AWS::Lambda::Function": {
            f["FunctionName"] for f in sandbox.client("lambda").list_functions()["Functions"]
        },
        "AWS::SQS::Queue": set(sandbox.client("sqs").list_queues().get("QueueUrls", [])),
        "AWS::SNS::Topic": {t["TopicArn"] for t in sandbox.client("sns").list_topics()["Topics"]},
        "AWS::DynamoDB::Table": set(sandbox.client("dynamodb").list_tables()["TableNames"]),
    }
    left = {
        r["LogicalResourceId"]
        for r in resources
        if r["ResourceType"] in existing and _exists(r["PhysicalResourceId"], existing[r["ResourceType"]])
    }
    expected = {r["LogicalResourceId"] for r in resources if r["ResourceType"] in existing} & retained
    assert left == expected
    assert any("OrdersTable" in k for k in left) and any("SuppressionTable" in k for k in left)


def _exists(physical_id: str, existing: set[str]) -> bool:
    # queue URLs differ in host between the stack (moto's URL) and ListQueues: compare by name
    name = physical_id.rsplit("/", 1)[-1]
    return physical_id in existing or any(e.rsplit("/", 1)[-1] == name for e in existing)


def assert_an_order_is_mailed(sandbox: Sandbox, outputs: dict[str, str], label: str) -> None:
    address = f"success+{label}@simulator.amazonses.com"
    order: dict[str, Any] = order_placed(f"check-{label}", email=address)
    publish_order(sandbox.client("sns"), outputs["OrderEventsTopicArn"], order)
    sandbox.wait_until_idle(timeout=60)
    emails = sandbox.emails(to=address)
    assert len(emails) == 1 and order["order_id"] in emails[0]["subject"]
