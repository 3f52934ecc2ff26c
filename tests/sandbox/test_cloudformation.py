"""CloudFormation in the sandbox, through the CloudFormation API (no CDK CLI): create, update, delete."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from notification_constructs.testing.sandbox import Sandbox

QUEUE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
            "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": "Topic"}}},
        }
    ],
}
TOPIC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ses.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": {"Ref": "Topic"},
        }
    ],
}
TEMPLATE: dict[str, Any] = {
    "Parameters": {"Threshold": {"Type": "Number", "Default": "1"}},
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "orders"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}},
        "QueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {"Queues": [{"Ref": "Queue"}], "PolicyDocument": QUEUE_POLICY},
        },
        "TopicPolicy": {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": TOPIC_POLICY},
        },
        "Subscription": {
            "Type": "AWS::SNS::Subscription",
            "DependsOn": ["QueuePolicy"],
            "Properties": {
                "Protocol": "sqs",
                "TopicArn": {"Ref": "Topic"},
                "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]},
                "RawMessageDelivery": True,
                "FilterPolicy": {"event_type": ["order.placed"]},
            },
        },
        "DepthAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "EvaluationPeriods": 1,
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Namespace": "AWS/SQS",
                "Period": 60,
                "Statistic": "Maximum",
                "Threshold": {"Ref": "Threshold"},
                "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["Queue", "QueueName"]}}],
                "AlarmActions": [{"Ref": "Topic"}],
            },
        },
        "Kept": {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Retain"},
        # moto's table model mutates the properties it is given: an unrelated update must not replace it
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
                "SSESpecification": {"SSEEnabled": True},
            },
        },
        "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:H4sI"}},
    },
    "Outputs": {
        "TableName": {"Value": {"Ref": "Table"}},
        "TopicArn": {"Value": {"Ref": "Topic"}},
        "QueueUrl": {"Value": {"Ref": "Queue"}},
        "AlarmArn": {"Value": {"Fn::GetAtt": ["DepthAlarm", "Arn"]}},
    },
}
STACK = "CfnApiStack"


def _stack(cfn: Any, name: str) -> dict[str, Any]:
    stack: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return stack


def _outputs(cfn: Any, name: str) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in _stack(cfn, name).get("Outputs") or []}


def _physical_ids(cfn: Any, name: str) -> dict[str, str]:
    summaries = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries}


def _change_set(cfn: Any, name: str, template: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    cfn.create_change_set(
        StackName=STACK,
        ChangeSetName=name,
        TemplateBody=json.dumps(template),
        ChangeSetType="UPDATE",
        **kwargs,
    )
    described: dict[str, Any] = cfn.describe_change_set(StackName=STACK, ChangeSetName=name)
    return described


@pytest.fixture(scope="module")
def deployed(sandbox: Sandbox) -> dict[str, str]:
    """GIVEN the small stack created with CreateStack."""
    cfn = sandbox.client("cloudformation")
    cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(TEMPLATE))
    stack = _stack(cfn, STACK)
    assert stack["StackStatus"] == "CREATE_COMPLETE", (stack.get("StackStatusReason"), sandbox._log_path)
    return _outputs(cfn, STACK)


def test_creates_every_resource_with_outputs(sandbox: Sandbox, deployed: dict[str, str]) -> None:
    # WHEN the stack's resources are listed
    cfn = sandbox.client("cloudformation")
    summaries = cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    # THEN every resource is there and complete, and the alarm and policies are real
    assert {r["LogicalResourceId"] for r in summaries} == set(TEMPLATE["Resources"])
    assert {r["ResourceStatus"] for r in summaries} == {"CREATE_COMPLETE"}
    alarm = sandbox.client("cloudwatch").describe_alarms()["MetricAlarms"][0]
    assert alarm["AlarmArn"] == deployed["AlarmArn"]
    assert alarm["Threshold"] == 1.0 and alarm["AlarmActions"] == [deployed["TopicArn"]]
    policy = sandbox.client("sqs").get_queue_attributes(
        QueueUrl=deployed["QueueUrl"], AttributeNames=["Policy"]
    )
    assert json.loads(policy["Attributes"]["Policy"])["Statement"][0]["Principal"] == {
        "Service": "sns.amazonaws.com"
    }
    topic = sandbox.client("sns").get_topic_attributes(TopicArn=deployed["TopicArn"])["Attributes"]
    assert json.loads(topic["Policy"])["Statement"][0]["Principal"] == {"Service": "ses.amazonaws.com"}


def test_subscription_delivers_matching_messages(sandbox: Sandbox, deployed: dict[str, str]) -> None:
    # WHEN a matching and a non-matching message are published
    sns, sqs = sandbox.client("sns"), sandbox.client("sqs")
    for event_type in ("order.placed", "order.cancelled"):
        sns.publish(
            TopicArn=deployed["TopicArn"],
            Message=f'{{"type": "{event_type}"}}',
            MessageAttributes={"event_type": {"DataType": "String", "StringValue": event_type}},
        )
    # THEN only the matching one arrives, raw
    messages = sqs.receive_message(QueueUrl=deployed["QueueUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert [m["Body"] for m in messages["Messages"]] == ['{"type": "order.placed"}']


def test_update_without_changes_is_a_failed_change_set_and_keeps_everything(
    sandbox: Sandbox, deployed: dict[str, str]
) -> None:
    cfn = sandbox.client("cloudformation")
    before = _physical_ids(cfn, STACK)
    # WHEN a change set with the same template is created
    described = _change_set(cfn, "no-change", TEMPLATE)
    # THEN it failed "without changes" (the CDK CLI's signal) and nothing was replaced
    assert described["Status"] == "FAILED"
    assert "didn't contain changes" in described["StatusReason"]
    cfn.delete_change_set(StackName=STACK, ChangeSetName="no-change")
    assert _physical_ids(cfn, STACK) == before


def test_update_changes_resources_in_place_and_keeps_subscriptions(
    sandbox: Sandbox, deployed: dict[str, str]
) -> None:
    cfn, sns = sandbox.client("cloudformation"), sandbox.client("sns")
    before = _physical_ids(cfn, STACK)
    changed = copy.deepcopy(TEMPLATE)
    changed["Resources"]["Topic"]["Properties"]["DisplayName"] = "orders-v2"
    changed["Resources"]["Queue"]["Properties"]["VisibilityTimeout"] = 60
    table_props = changed["Resources"]["Table"]["Properties"]
    table_props["TimeToLiveSpecification"] = {"AttributeName": "expires", "Enabled": True}
    table_props["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
    dynamodb = sandbox.client("dynamodb")
    dynamodb.put_item(TableName=deployed["TableName"], Item={"pk": {"S": "kept"}})
    # WHEN a change set with new property values and a new parameter value is executed
    described = _change_set(
        cfn, "in-place", changed, Parameters=[{"ParameterKey": "Threshold", "ParameterValue": "5"}]
    )
    actions = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in described["Changes"]}
    assert actions["Topic"]["Action"] == "Modify" and actions["Topic"]["Replacement"] == "False"
    cfn.execute_change_set(StackName=STACK, ChangeSetName="in-place")
    # THEN the stack is updated, the physical ids are the same and the values are new
    assert _stack(cfn, STACK)["StackStatus"] == "UPDATE_COMPLETE"
    assert _physical_ids(cfn, STACK) == before
    assert _outputs(cfn, STACK) == deployed
    attributes = sns.get_topic_attributes(TopicArn=deployed["TopicArn"])["Attributes"]
    assert attributes["DisplayName"] == "orders-v2"
    queue = sandbox.client("sqs").get_queue_attributes(QueueUrl=deployed["QueueUrl"], AttributeNames=["All"])
    assert queue["Attributes"]["VisibilityTimeout"] == "60"
    assert sandbox.client("cloudwatch").describe_alarms()["MetricAlarms"][0]["Threshold"] == 5.0
    assert len(sns.list_subscriptions_by_topic(TopicArn=deployed["TopicArn"])["Subscriptions"]) == 1
    # the table was updated in place: same table, its items kept, TTL and point-in-time recovery on
    assert dynamodb.get_item(TableName=deployed["TableName"], Key={"pk": {"S": "kept"}}).get("Item")
    ttl = dynamodb.describe_time_to_live(TableName=deployed["TableName"])["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED" and ttl["AttributeName"] == "expires"
    backups = dynamodb.describe_continuous_backups(TableName=deployed["TableName"])
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


def test_fails_if_the_change_set_does_not_exist(sandbox: Sandbox, deployed: dict[str, str]) -> None:
    cfn = sandbox.client("cloudformation")
    # WHEN a missing change set is described, THEN ChangeSetNotFound
    with pytest.raises(ClientError) as raised:
        cfn.describe_change_set(StackName=STACK, ChangeSetName="missing")
    assert raised.value.response["Error"]["Code"] == "ChangeSetNotFound"
    # AND deleting it on an existing stack succeeds, as on AWS (the CDK CLI does that before deploying)
    cfn.delete_change_set(StackName=STACK, ChangeSetName="missing")


def test_fails_if_a_resource_type_is_unknown(sandbox: Sandbox) -> None:
    cfn, sqs = sandbox.client("cloudformation"), sandbox.client("sqs")
    queues_before = set(sqs.list_queues().get("QueueUrls", []))
    template = {
        "Resources": {
            "First": {"Type": "AWS::SQS::Queue"},
            "Mystery": {"Type": "AWS::Nothing::Such", "DependsOn": "First", "Properties": {}},
        }
    }
    # WHEN a stack with a type the sandbox has no model for is created
    cfn.create_stack(StackName="UnknownTypeStack", TemplateBody=json.dumps(template))
    # THEN the stack is rolled back with a reason naming the type and the logical id
    stack = _stack(cfn, "UnknownTypeStack")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "AWS::Nothing::Such" in stack["StackStatusReason"] and "Mystery" in stack["StackStatusReason"]
    events = cfn.describe_stack_events(StackName="UnknownTypeStack")["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["Mystery"]
    assert "AWS::Nothing::Such" in failed[0]["ResourceStatusReason"]
    # AND what was created before is gone again
    assert set(sqs.list_queues().get("QueueUrls", [])) == queues_before
    cfn.delete_stack(StackName="UnknownTypeStack")


def test_resolves_ssm_parameter_types_and_dynamic_references(sandbox: Sandbox) -> None:
    cfn, ssm = sandbox.client("cloudformation"), sandbox.client("ssm")
    ssm.put_parameter(Name="/sandbox-test/display-name", Value="from-ssm", Type="String")
    template: dict[str, Any] = {
        "Parameters": {
            "Layer": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/aws/service/powertools/python/arm64/python3.14/3.37.0",
            }
        },
        "Resources": {
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"DisplayName": "{{resolve:ssm:/sandbox-test/display-name}}"},
            }
        },
        "Outputs": {"Layer": {"Value": {"Ref": "Layer"}}, "TopicArn": {"Value": {"Ref": "Topic"}}},
    }
    # WHEN a stack uses both, and is updated after the SSM value changed
    cfn.create_stack(StackName="SsmStack", TemplateBody=json.dumps(template))
    outputs = _outputs(cfn, "SsmStack")
    ssm.put_parameter(Name="/sandbox-test/display-name", Value="changed", Type="String", Overwrite=True)
    template["Outputs"]["Extra"] = {"Value": "x"}
    cfn.update_stack(StackName="SsmStack", TemplateBody=json.dumps(template))
    # THEN the public Powertools parameter names a layer and the reference is resolved each time
    assert outputs["Layer"].startswith(
        "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-"
    )
    assert _stack(cfn, "SsmStack")["StackStatus"] == "UPDATE_COMPLETE"
    attributes = sandbox.client("sns").get_topic_attributes(TopicArn=outputs["TopicArn"])["Attributes"]
    assert attributes["DisplayName"] == "changed"
    cfn.delete_stack(StackName="SsmStack")


def test_delete_removes_everything_but_retained_resources(sandbox: Sandbox, deployed: dict[str, str]) -> None:
    cfn = sandbox.client("cloudformation")
    kept = _physical_ids(cfn, STACK)["Kept"]
    # WHEN the stack is deleted
    cfn.delete_stack(StackName=STACK)
    # THEN topics, queues, subscriptions and alarms are gone, except the Retain queue
    sns, sqs = sandbox.client("sns"), sandbox.client("sqs")
    assert deployed["TopicArn"] not in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert [url.rsplit("/", 1)[1] for url in sqs.list_queues().get("QueueUrls", [])] == [
        kept.rsplit("/", 1)[1]
    ]
    assert sandbox.client("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert sns.list_subscriptions()["Subscriptions"] == []
    with pytest.raises(ClientError, match="does not exist"):
        cfn.describe_stacks(StackName=STACK)
