# --- README: testing your own stack (this file is quoted verbatim in README.md; keep them in sync) ---
from aws_cdk import App, Stack

from notification_constructs import (
    BounceHandlingPipeline,
    EmailConfigurationSet,
    OrderConfirmationPipeline,
    SenderIdentity,
)
from notification_constructs.testing import Sandbox, order_placed, publish_order


def build_app() -> App:
    app = App()
    stack = Stack(app, "MyShopMail")
    config = EmailConfigurationSet(stack, "Config")
    sender = SenderIdentity(stack, "Sender", domain="shop.example.com", configuration_set=config)
    bounces = BounceHandlingPipeline(stack, "Bounces", configuration_set=config)
    OrderConfirmationPipeline(
        stack,
        "Orders",
        sender=sender,
        configuration_set=config,
        from_address="Shop <orders@shop.example.com>",
        suppression_table=bounces.suppression_table,
    )
    return app


def test_an_order_is_confirmed_by_email(notification_sandbox: Sandbox) -> None:
    # GIVEN my stack deployed into the sandbox with the real CDK CLI
    notification_sandbox.deploy(build_app(), stacks="MyShopMail")
    cfn = notification_sandbox.client("cloudformation")
    resources = cfn.describe_stack_resources(StackName="MyShopMail")["StackResources"]
    topic_arn = next(
        r["PhysicalResourceId"]
        for r in resources
        if r["ResourceType"] == "AWS::SNS::Topic" and r["LogicalResourceId"].startswith("OrdersOrderEvents")
    )
    # WHEN my app publishes an order
    customer = "jane.doe@example.net"
    publish_order(notification_sandbox.client("sns"), topic_arn, order_placed("ord-1", email=customer))
    notification_sandbox.wait_until_idle()
    # THEN exactly one confirmation was sent, from my template
    [email] = notification_sandbox.emails(to=customer)
    assert email["subject"] == "Your order ord-1 is confirmed"
    assert email["from_address"] == "Shop <orders@shop.example.com>"


# --- end of README example ---
