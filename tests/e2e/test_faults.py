"""Fault injection while a few hundred orders flow through the deployed pipelines.

SES throttles a share of the sends, DynamoDB answers a share of the writes with transient errors, one
writer DynamoDB call hangs longer than the function timeout (the call times out within the invocation's
remaining time and that batch is returned for redelivery), and a poison message (a lone surrogate) is
published. Every valid order must still be stored once and e-mailed once, every invalid one (the poison
message included) must end in both order DLQs with its reason, and nothing may be lost.

The stack is the example app's, synthesized in-process, with shorter function timeouts, visibility
timeouts and receive counts (CloudFormation property overrides) so that retries happen within seconds.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from examples.app import OrderNotificationsStack
from notification_constructs.testing import Sandbox, order_placed, publish_order

STACK = "FaultyOrders"
VALID_ORDERS = 200
POISON_NAME = "Poison \ud800 Pill"  # a lone surrogate: a permanent schema error in both consumers
POISON_REASON = "customer.name: must be valid Unicode (no lone surrogates)"
#: Test-only settings per consumer, (function timeout, queue visibility timeout, max receive count), so
#: that retries come seconds apart instead of minutes. One writer DynamoDB call hangs past the writer's
#: timeout; the sender gets ample time, so SES throttling backoff never makes it time out (a kill after
#: SES accepted a message would be the documented at-least-once window, not what this tests).
WRITER = (5, 8, 3)
SENDER = (15, 18, 5)
PROCESSOR = (15, 18, 5)


def faulty_app(context: dict[str, Any]) -> App:
    app = App(context=context)
    stack = OrderNotificationsStack(
        app, STACK, domain="faults.example.com", sender_address="orders@faults.example.com"
    )
    consumers = (
        (stack.orders.writer, WRITER),
        (stack.orders.email_sender, SENDER),
        (stack.bounces.processor, PROCESSOR),
    )
    for consumer, (timeout, visibility, receives) in consumers:
        function = consumer.function.node.default_child
        assert isinstance(function, lambda_.CfnFunction)
        function.add_property_override("Timeout", timeout)
        queue = consumer.queue.queue.node.default_child
        assert isinstance(queue, sqs.CfnQueue)
        queue.add_property_override("VisibilityTimeout", visibility)
        queue.add_property_override("RedrivePolicy.maxReceiveCount", receives)
    return app


@pytest.fixture(scope="module")
def deployed(sandbox: Sandbox, cdk_json_context: dict[str, Any]) -> Iterator[dict[str, Any]]:
    outputs = sandbox.deploy(faulty_app(cdk_json_context), stacks=STACK)
    resources = sandbox.client("cloudformation").describe_stack_resources(StackName=STACK)["StackResources"]
    functions = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in resources
        if r["ResourceType"] == "AWS::Lambda::Function"
    }
    writer = next(
        name for logical, name in functions.items() if logical.startswith("OrderConfirmationWriter")
    )
    yield {"outputs": outputs, "writer": writer}
    sandbox.clear_faults()
    sandbox.destroy(stacks=STACK, app=faulty_app(cdk_json_context))


def test_every_valid_order_is_stored_and_mailed_once_and_every_invalid_one_is_dead_lettered(
    sandbox: Sandbox, deployed: dict[str, Any]
) -> None:
    outputs = deployed["outputs"]
    sns = sandbox.client("sns")
    # GIVEN faults at the SES / DynamoDB boundary and in one writer invocation
    ses_throttling = sandbox.inject_fault(
        service="sesv2",
        operation="SendEmail",
        error_code="TooManyRequestsException",
        status=429,
        message="Maximum sending rate exceeded.",
        probability=0.25,
        seed=7,
    )
    dynamodb_errors = sandbox.inject_fault(
        service="dynamodb",
        operation="PutItem",
        error_code="InternalServerError",
        status=500,
        probability=0.1,
        seed=11,
    )
    hang = sandbox.inject_fault(
        service="dynamodb",
        operation="PutItem",
        caller=deployed["writer"],
        delay_seconds=WRITER[0] + 2,
        count=1,
        skip=20,
    )
    # WHEN valid orders, invalid ones and a poison message are published
    valid = [
        order_placed(f"load-{i:04d}", email=f"success+load{i}@simulator.amazonses.com")
        for i in range(VALID_ORDERS)
    ]
    invalid = {
        "bad-total": order_placed("bad-total", email="success+faults@simulator.amazonses.com", total="1.00"),
        "bad-email": order_placed("bad-email", email="not-an-address"),
        "bad-id": order_placed("bad id with spaces", email="success+faults@simulator.amazonses.com"),
        "no-items": order_placed("no-items", email="success+faults@simulator.amazonses.com", items=[]),
    }
    poison = order_placed("poison-1", email="success+faults@simulator.amazonses.com", name=POISON_NAME)
    for order in valid[: VALID_ORDERS // 2]:
        publish_order(sns, outputs["OrderEventsTopicArn"], order)
    for order in invalid.values():
        publish_order(sns, outputs["OrderEventsTopicArn"], order)
    publish_order(sns, outputs["OrderEventsTopicArn"], json.dumps(poison))  # ensure_ascii: "\ud800" escaped
    for order in valid[VALID_ORDERS // 2 :]:
        publish_order(sns, outputs["OrderEventsTopicArn"], order)
    sandbox.wait_until_idle(timeout=240, quiet_period=1.0)

    # THEN the faults really happened
    rules = {rule["id"]: rule for rule in sandbox.faults()}
    assert rules[ses_throttling["id"]]["injected"] > 10
    assert rules[dynamodb_errors["id"]]["injected"] > 5
    assert rules[hang["id"]]["injected"] == 1
    # AND every valid order is stored once
    stored = sandbox.table_items(outputs["OrdersTableName"])
    stored_ids = Counter(item["order_id"] for item in stored)
    assert set(stored_ids) == {o["order_id"] for o in valid}
    # AND e-mailed exactly once
    mailed = Counter(
        e["tags"].get("order_id")
        for e in sandbox.emails()
        if str(e["tags"].get("order_id")).startswith("load-")
    )
    assert {o["order_id"] for o in valid} == set(mailed)
    assert max(mailed.values()) == 1, [k for k, n in mailed.items() if n > 1]
    # AND every invalid order, the poison message included, is in both order DLQs with its reason (the
    # handlers forward it themselves: a permanent error, not a crash left to the redrive policy)
    for dlq in ("WriterDeadLetterQueueUrl", "EmailDeadLetterQueueUrl"):
        messages = sandbox.queue_messages(outputs[dlq])
        by_order = {json.loads(m["Body"]).get("order_id"): m for m in messages}
        assert set(by_order) == {o["order_id"] for o in invalid.values()} | {"poison-1"}, dlq
        for order in invalid.values():
            assert by_order[order["order_id"]]["reason"], order["order_id"]
        assert by_order["poison-1"]["reason"] == POISON_REASON, dlq
    # AND it was never stored or mailed
    assert [e for e in sandbox.emails() if e["tags"].get("order_id") == "poison-1"] == []
    # AND the SES events were all handled
    assert sandbox.queue_messages(outputs["SesEventsDeadLetterQueueUrl"]) == []
