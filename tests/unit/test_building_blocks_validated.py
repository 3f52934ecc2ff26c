"""Every building block composed in one stack is clean under cdk-nag (AwsSolutions + Serverless) and cfn-lint."""

from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_sns as sns

from notification_constructs import (
    EmailConfigurationSet,
    NotificationTopic,
    ProcessingQueue,
    QueueConsumerFunction,
    SenderIdentity,
)
from tests.support.validators import add_nag_packs, cfn_lint, synth_with_nag


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    app = App()
    stack = Stack(app, "BuildingBlocks", env=Environment(account="111111111111", region="eu-west-1"))
    zone = route53.PublicHostedZone(stack, "Zone", zone_name="example.com")
    events = NotificationTopic(stack, "SesEvents")
    config = EmailConfigurationSet(stack, "Config", topic=events)
    sender = SenderIdentity(stack, "Sender", domain="example.com", hosted_zone=zone, configuration_set=config)
    queue = ProcessingQueue(stack, "Bounces", alarm_topic=events.topic)
    queue.subscribe_to(events, filter_policy={"x": sns.SubscriptionFilter.exists_filter()})
    consumer = QueueConsumerFunction(
        stack,
        "Processor",
        queue=queue,
        handler="lambda_handlers.bounce_processor.handler.handler",
        max_concurrency=2,
    )
    sender.grant_send_email(consumer.function, configuration_set=config, from_address="orders@example.com")
    add_nag_packs(app)
    assembly, _ = synth_with_nag(app)
    return dict(assembly.get_stack_by_name("BuildingBlocks").template)


def test_cdk_nag_is_clean(template: dict[str, Any]) -> None:
    # synth_with_nag raised in the fixture if any finding was neither fixed nor acknowledged
    assert template["Resources"]


def test_cfn_lint_is_clean(template: dict[str, Any]) -> None:
    assert cfn_lint(template) == []


def test_the_nag_harness_reports_an_insecure_queue() -> None:
    # GIVEN a hand-wired queue without DLQ, TLS enforcement or encryption
    from aws_cdk import aws_sqs as sqs

    app = App()
    stack = Stack(app, "Insecure")
    sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.UNENCRYPTED)
    add_nag_packs(app)
    # WHEN synthesized THEN the findings fail the synth, naming the rules
    with pytest.raises(AssertionError, match=r"(?s)AwsSolutions-SQS3.*Insecure/Plain"):
        synth_with_nag(app)
