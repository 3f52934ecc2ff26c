"""The real CDK CLI against the sandbox: bootstrap, deploy, redeploy, update, diff, destroy.

The tests run in order on one sandbox (each step needs the one before); the app is synthesized in
process to a cloud assembly directory and handed to the CLI with ``--app <dir>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from botocore.exceptions import ClientError

from notification_constructs.testing._cdk import CdkCli
from notification_constructs.testing.sandbox import Sandbox, SandboxError

STACK = "SandboxCliStack"
REPO = Path(__file__).resolve().parents[2]


def synth(outdir: Path, *, retention_days: int) -> Path:
    """A topic, a queue subscribed to it, an alarm and two outputs, synthesized to ``outdir``."""
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, STACK, env=cdk.Environment(account="123456789012", region="us-east-1"))
    topic = sns.Topic(stack, "Topic")
    queue = sqs.Queue(stack, "Queue", retention_period=cdk.Duration.days(retention_days))
    topic.add_subscription(subscriptions.SqsSubscription(queue, raw_message_delivery=True))
    cloudwatch.Alarm(
        stack,
        "Backlog",
        metric=queue.metric_approximate_number_of_messages_visible(),
        threshold=1,
        evaluation_periods=1,
    )
    cdk.CfnOutput(stack, "TopicArn", value=topic.topic_arn)
    cdk.CfnOutput(stack, "QueueUrl", value=queue.queue_url)
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("assemblies")
    return {
        "v1": synth(root / "v1", retention_days=4),
        "v2": synth(root / "v2", retention_days=5),
    }


@pytest.fixture(scope="module")
def cli(sandbox: Sandbox) -> CdkCli:
    return CdkCli(sandbox, cwd=REPO)


@pytest.fixture(scope="module")
def first_deploy(sandbox: Sandbox, cli: CdkCli, assemblies: dict[str, Path]) -> dict[str, str]:
    """GIVEN a bootstrapped environment and a first deploy."""
    cli.bootstrap()
    outputs = cli.deploy(STACK, app=assemblies["v1"])
    return outputs[STACK]


def _physical_ids(sandbox: Sandbox) -> dict[str, str]:
    summaries = sandbox.client("cloudformation").list_stack_resources(StackName=STACK)[
        "StackResourceSummaries"
    ]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries}


def _status(sandbox: Sandbox) -> Any:
    return sandbox.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]


def test_bootstrap_and_first_deploy_create_the_stack(sandbox: Sandbox, first_deploy: dict[str, str]) -> None:
    # THEN the toolkit stack and the app's stack exist, with the outputs the CLI reported
    cfn = sandbox.client("cloudformation")
    assert cfn.describe_stacks(StackName="CDKToolkit")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert _status(sandbox) == "CREATE_COMPLETE"
    assert first_deploy["TopicArn"].startswith("arn:aws:sns:us-east-1:123456789012:")
    subscribed = sandbox.client("sns").list_subscriptions_by_topic(TopicArn=first_deploy["TopicArn"])
    assert len(subscribed["Subscriptions"]) == 1


def test_second_deploy_without_changes_keeps_everything(
    sandbox: Sandbox, cli: CdkCli, assemblies: dict[str, Path], first_deploy: dict[str, str]
) -> None:
    before = _physical_ids(sandbox)
    # WHEN the same assembly is deployed again
    outputs = cli.deploy(STACK, app=assemblies["v1"])
    # THEN the outputs and physical ids are unchanged
    assert outputs[STACK] == first_deploy
    assert _physical_ids(sandbox) == before


def test_deploy_with_a_change_updates_in_place(
    sandbox: Sandbox, cli: CdkCli, assemblies: dict[str, Path], first_deploy: dict[str, str]
) -> None:
    before = _physical_ids(sandbox)
    # WHEN the queue's retention period changes
    outputs = cli.deploy(STACK, app=assemblies["v2"])
    # THEN the queue is updated in place and the subscription survives
    assert _status(sandbox) == "UPDATE_COMPLETE"
    assert outputs[STACK] == first_deploy
    assert _physical_ids(sandbox) == before
    queue = sandbox.client("sqs").get_queue_attributes(
        QueueUrl=first_deploy["QueueUrl"], AttributeNames=["MessageRetentionPeriod"]
    )
    assert queue["Attributes"]["MessageRetentionPeriod"] == str(5 * 24 * 3600)
    subscribed = sandbox.client("sns").list_subscriptions_by_topic(TopicArn=first_deploy["TopicArn"])
    assert len(subscribed["Subscriptions"]) == 1


def test_diff_shows_the_pending_change(
    cli: CdkCli, assemblies: dict[str, Path], first_deploy: dict[str, str]
) -> None:
    # WHEN the previous version is diffed against the deployed (second) one
    output = cli.diff(STACK, app=assemblies["v1"])
    # THEN the retention change back to 4 days is shown
    assert "MessageRetentionPeriod" in output
    assert str(4 * 24 * 3600) in output


def test_fails_with_the_command_and_output_tail(cli: CdkCli, assemblies: dict[str, Path]) -> None:
    # WHEN a stack that is not in the assembly is deployed THEN SandboxError names the command
    with pytest.raises(SandboxError, match=r"cdk deploy NoSuchStack .*exited with code"):
        cli.deploy("NoSuchStack", app=assemblies["v1"])


def test_destroy_removes_the_stack_and_its_resources(
    sandbox: Sandbox, cli: CdkCli, assemblies: dict[str, Path], first_deploy: dict[str, str]
) -> None:
    # WHEN the stack is destroyed
    cli.destroy(STACK, app=assemblies["v2"])
    # THEN the stack, its topic and its queue are gone
    with pytest.raises(ClientError, match="does not exist"):
        sandbox.client("cloudformation").describe_stacks(StackName=STACK)
    topics = [t["TopicArn"] for t in sandbox.client("sns").list_topics()["Topics"]]
    assert first_deploy["TopicArn"] not in topics
    queues = sandbox.client("sqs").list_queues().get("QueueUrls", [])
    assert not [q for q in queues if q.endswith(first_deploy["QueueUrl"].rsplit("/", 1)[1])]
