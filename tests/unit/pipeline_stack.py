"""One stack with both pipelines, synthesized once per test module."""

from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from notification_constructs import (
    BounceHandlingPipeline,
    EmailConfigurationSet,
    OrderConfirmationPipeline,
    SenderIdentity,
)


def build() -> tuple[OrderConfirmationPipeline, BounceHandlingPipeline, Template]:
    stack = Stack(App(), "Pipelines")
    config = EmailConfigurationSet(stack, "Config", configuration_set_name="orders")
    sender = SenderIdentity(stack, "Sender", domain="example.com")
    bounces = BounceHandlingPipeline(
        stack, "Bounces", configuration_set=config, alert_email="oncall@example.com"
    )
    orders = OrderConfirmationPipeline(
        stack,
        "Orders",
        sender=sender,
        configuration_set=config,
        from_address="Shop <orders@example.com>",
        suppression_table=bounces.suppression_table,
        alarm_topic=bounces.alert_topic,
    )
    orders.grant_publish(
        iam.Role(stack, "ShopApp", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    )
    return orders, bounces, Template.from_stack(stack)


def statements_of(template: Template, role_prefix: str) -> list[dict]:  # type: ignore[type-arg]
    """The IAM statements of the default policy attached to the role whose logical id starts with the prefix."""
    for policy in template.find_resources("AWS::IAM::Policy").values():
        roles = policy["Properties"]["Roles"]
        if any(r["Ref"].startswith(role_prefix) for r in roles):
            return list(policy["Properties"]["PolicyDocument"]["Statement"])
    raise AssertionError(f"no policy for {role_prefix}")


def actions_on(statements: list[dict], fragment: str) -> set[str]:  # type: ignore[type-arg]
    """Actions granted on resources whose (JSON) reference mentions ``fragment``."""
    found: set[str] = set()
    for statement in statements:
        if fragment in str(statement["Resource"]):
            actions = statement["Action"]
            found |= {actions} if isinstance(actions, str) else set(actions)
    return found
