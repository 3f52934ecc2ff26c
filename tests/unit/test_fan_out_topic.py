"""FanOutTopic: every subscription kind, a DLQ (policy, key, alarm) per subscription, filter policies and
delivery policies checked at synth, delivery-status logging, failure alarms, tokens, cdk-nag."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, CfnParameter, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from notification_constructs import NotificationConfigError, ProcessingQueue
from notification_constructs.fan_out_topic import (
    DEFAULT_HTTPS_DELIVERY_POLICY,
    FanOutTopic,
    delivery_policy_problems,
)
from tests.support.validators import add_nag_packs, synth_with_nag

ENV = {"account": "111111111111", "region": "eu-west-1"}
ENDPOINT_ARN = "arn:aws:sns:eu-west-1:111111111111:endpoint/GCM/ShopApp/0a1b2c3d"
SEVERITY = {"severity": sns.SubscriptionFilter.string_filter(allowlist=["critical", "high"])}


def _function(stack: Stack, id: str) -> lambda_.Function:
    return lambda_.Function(
        stack,
        id,
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )


@pytest.fixture(scope="module")
def built() -> tuple[FanOutTopic, Template]:
    stack = Stack(App(), "FanOut", env=ENV)
    topic = FanOutTopic(stack, "Alerts", display_name="Shop")
    topic.add_sms_subscription("OnCall", "+4915112345678", filter_policy=SEVERITY)
    topic.add_email_subscription("Ops", "ops@example.com")
    topic.add_email_subscription("OpsJson", "ops-json@example.com", json=True)
    topic.add_https_subscription(
        "Partner",
        "https://partner.example.com/hook",
        filter_policy={"event_type": sns.SubscriptionFilter.string_filter(allowlist=["shipment.updated"])},
    )
    topic.add_queue_subscription("Archive", ProcessingQueue(stack, "ArchiveQueue"), raw_message_delivery=True)
    topic.add_lambda_subscription("Pager", _function(stack, "PagerFn"))
    topic.add_push_subscription("Phone", ENDPOINT_ARN)
    return topic, Template.from_stack(stack)


@pytest.fixture(scope="module")
def template(built: tuple[FanOutTopic, Template]) -> Template:
    return built[1]


@pytest.mark.parametrize(
    ("protocol", "endpoint"),
    [
        ("sms", "+4915112345678"),
        ("email", "ops@example.com"),
        ("email-json", "ops-json@example.com"),
        ("https", "https://partner.example.com/hook"),
        ("application", ENDPOINT_ARN),
    ],
)
def test_each_kind_of_endpoint_is_subscribed_with_a_dead_letter_queue(
    template: Template, protocol: str, endpoint: str
) -> None:
    # THEN a subscription of that protocol has the endpoint and a redrive policy to a queue of its own
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": protocol,
            "Endpoint": endpoint,
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": [Match.string_like_regexp("Alerts"), "Arn"]}
            },
        },
    )


def test_queue_and_lambda_subscriptions_name_their_targets(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "sqs",
            "RawMessageDelivery": True,
            "Endpoint": {"Fn::GetAtt": [Match.string_like_regexp("ArchiveQueue"), "Arn"]},
        },
    )
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "lambda", "Endpoint": {"Fn::GetAtt": [Match.string_like_regexp("PagerFn"), "Arn"]}},
    )
    # AND SNS may invoke the function for this topic only
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Principal": "sns.amazonaws.com", "SourceArn": {"Ref": Match.string_like_regexp("Alerts")}},
    )


def test_every_subscription_has_its_own_encrypted_dlq_and_depth_alarm(
    built: tuple[FanOutTopic, Template],
) -> None:
    topic, template = built
    # THEN seven subscriptions, seven distinct DLQs
    ids = ["OnCall", "Ops", "OpsJson", "Partner", "Archive", "Pager", "Phone"]
    assert sorted(topic.subscription_dead_letter_queues) == sorted(ids)
    redrive = [
        s["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for s in template.find_resources("AWS::SNS::Subscription").values()
    ]
    assert len(set(redrive)) == len(ids)
    for queue_id in redrive:
        queue = template.to_json()["Resources"][queue_id]["Properties"]
        assert queue["KmsMasterKeyId"]["Fn::GetAtt"][0].startswith("AlertsDeadLetterQueueKey")
        assert queue["MessageRetentionPeriod"] == 1209600
    # AND each DLQ has a depth alarm (>= 1 message)
    depth_alarms = [
        a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0] in redrive
    ]
    assert len(depth_alarms) == len(ids)
    assert all(a["Threshold"] == 1 for a in depth_alarms)


def test_sns_may_send_to_each_dlq_from_this_topic_only(template: Template) -> None:
    # THEN a queue policy of a DLQ allows sqs:SendMessage for sns.amazonaws.com with aws:SourceArn = topic
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "sqs:SendMessage",
                                "Principal": {"Service": "sns.amazonaws.com"},
                                "Condition": {
                                    "ArnEquals": {
                                        "aws:SourceArn": {"Ref": Match.string_like_regexp("Alerts")}
                                    }
                                },
                            }
                        )
                    ]
                )
            },
            "Queues": [{"Ref": Match.string_like_regexp("AlertsPartnerDeadLetterQueue")}],
        },
    )


def test_the_dlq_key_lets_sns_encrypt_for_this_topic_only(template: Template) -> None:
    keys = template.find_resources("AWS::KMS::Key")
    key = next(v for k, v in keys.items() if k.startswith("AlertsDeadLetterQueueKey"))
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    sns_statement = next(s for s in statements if s.get("Principal") == {"Service": "sns.amazonaws.com"})
    assert sorted(sns_statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert sns_statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "111111111111"}
    assert sns_statement["Condition"]["ArnLike"]["aws:SourceArn"]["Ref"].startswith("Alerts")


def test_a_queue_subscription_lets_sns_send_and_use_the_queue_key(template: Template) -> None:
    # THEN the subscribed queue's policy and key policy name this topic
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": Match.string_like_regexp("ArchiveQueue")}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Action": "sqs:SendMessage", "Principal": {"Service": "sns.amazonaws.com"}}
                        )
                    ]
                )
            },
        },
    )
    keys = template.find_resources("AWS::KMS::Key")
    key = next(v for k, v in keys.items() if k.startswith("ArchiveQueueKey"))
    principals = [s.get("Principal") for s in key["Properties"]["KeyPolicy"]["Statement"]]
    assert {"Service": "sns.amazonaws.com"} in principals


def test_https_gets_the_default_delivery_policy_with_retries_and_a_throttle(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "https", "DeliveryPolicy": dict(DEFAULT_HTTPS_DELIVERY_POLICY)}
    )
    # AND the default is within the SNS limits itself
    assert delivery_policy_problems(DEFAULT_HTTPS_DELIVERY_POLICY) == []


def test_filter_policies_reach_the_subscriptions(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "sms", "FilterPolicy": {"severity": ["critical", "high"]}}
    )


def test_delivery_status_logging_for_the_protocols_sns_logs(template: Template) -> None:
    # THEN HTTP/S, SQS, Lambda and application deliveries are logged (not SMS: an account setting; not e-mail)
    topic = next(iter(template.find_resources("AWS::SNS::Topic").values()))["Properties"]
    configs = topic["LoggingConfig"] if "LoggingConfig" in topic else topic["DeliveryStatusLogging"]
    assert sorted(c["Protocol"] for c in configs) == ["application", "http/s", "lambda", "sqs"]
    assert {c["SuccessFeedbackSampleRate"] for c in configs} == {"100"}
    roles = {c["FailureFeedbackRoleArn"]["Fn::GetAtt"][0] for c in configs}
    assert len(roles) == 1 and next(iter(roles)).startswith("AlertsDeliveryStatusRole")


def test_the_delivery_status_role_writes_only_to_this_topics_log_groups(template: Template) -> None:
    role = next(
        v
        for k, v in template.find_resources("AWS::IAM::Role").items()
        if k.startswith("AlertsDeliveryStatusRole")
    )
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "sns.amazonaws.com"
    }
    policy = next(
        v
        for k, v in template.find_resources("AWS::IAM::Policy").items()
        if k.startswith("AlertsDeliveryStatusRole")
    )
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:PutMetricFilter",
        "logs:PutRetentionPolicy",
    ]
    suffixes = [r["Fn::Join"][1][-1] for r in statement["Resource"]]
    prefixes = {r["Fn::Join"][1][2] for r in statement["Resource"]}
    assert prefixes == {":logs:eu-west-1:111111111111:log-group:sns/eu-west-1/111111111111/"}
    assert sorted(str(s) for s in suffixes) == sorted(
        ["/Failure", "/Failure:*", ":*", str({"Fn::GetAtt": [suffixes[0]["Fn::GetAtt"][0], "TopicName"]})]
    )


def test_failed_deliveries_alarm_on_the_topic_and_per_push_application(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "NumberOfNotificationsFailed",
            "Namespace": "AWS/SNS",
            "Dimensions": [{"Name": "TopicName", "Value": {"Fn::GetAtt": [Match.any_value(), "TopicName"]}}],
            "Statistic": "Sum",
            "Threshold": 1,
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "NumberOfNotificationsFailed",
            "Dimensions": [{"Name": "Application", "Value": "ShopApp"}, {"Name": "Platform", "Value": "GCM"}],
        },
    )


def test_alarms_attribute_lists_topic_dlq_and_push_alarms(built: tuple[FanOutTopic, Template]) -> None:
    topic, _ = built
    # 1 topic alarm + 7 DLQ alarms + 1 push alarm
    assert len(topic.alarms) == 9
    assert topic.notifications_failed_alarm in topic.alarms


def test_alarm_topic_receives_every_alarm() -> None:
    stack = Stack(App(), "Alarmed", env=ENV)
    alerts = sns.Topic(stack, "Ops")
    topic = FanOutTopic(stack, "Fan", alarm_topic=alerts)
    topic.add_https_subscription("Hook", "https://example.com/hook")
    alarms = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 2
    actions = [a["Properties"]["AlarmActions"] for a in alarms.values()]
    assert all(len(a) == 1 and a[0]["Ref"].startswith("Ops") for a in actions)


def test_without_delivery_status_logging_there_is_no_role_or_logging_config() -> None:
    stack = Stack(App(), "Quiet", env=ENV)
    topic = FanOutTopic(stack, "Fan", delivery_status_logging=False, success_sample_rate=10)
    topic.add_https_subscription("Hook", "https://example.com/hook")
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::IAM::Role", 0)
    topic_props = next(iter(template.find_resources("AWS::SNS::Topic").values()))["Properties"]
    assert "DeliveryStatusLogging" not in topic_props
    assert topic.delivery_status_role is None


def test_a_custom_delivery_policy_is_passed_through_as_given() -> None:
    stack = Stack(App(), "Custom", env=ENV)
    topic = FanOutTopic(stack, "Fan")
    policy = {
        "healthyRetryPolicy": {"minDelayTarget": 2, "maxDelayTarget": 30, "numRetries": 10},
        "requestPolicy": {"headerContentType": "application/json"},
    }
    topic.add_https_subscription(
        "Hook", "https://example.com/hook", delivery_policy=policy, raw_message_delivery=True
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::SNS::Subscription", {"DeliveryPolicy": policy, "RawMessageDelivery": True}
    )


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            {"healthyRetryPolicy": {"minDelayTarget": 0, "maxDelayTarget": 20, "numRetries": 3}},
            "minDelayTarget 0",
        ),
        (
            {"healthyRetryPolicy": {"minDelayTarget": 30, "maxDelayTarget": 20, "numRetries": 3}},
            r"> maxDelayTarget",
        ),
        (
            {"healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 20, "numRetries": 101}},
            "at most 100",
        ),
        ({"healthyRetryPolicy": {"maxDelayTarget": 20, "numRetries": 3}}, "minDelayTarget required"),
        (
            {
                "healthyRetryPolicy": {
                    "minDelayTarget": 1,
                    "maxDelayTarget": 3600,
                    "numRetries": 2,
                    "numMaxDelayRetries": 2,
                }
            },
            "at least 7200 s",
        ),
        (
            {
                "healthyRetryPolicy": {
                    "minDelayTarget": 1,
                    "maxDelayTarget": 5,
                    "numRetries": 2,
                    "numNoDelayRetries": 3,
                }
            },
            r"\(3\) > numRetries \(2\)",
        ),
        (
            {
                "healthyRetryPolicy": {
                    "minDelayTarget": 1,
                    "maxDelayTarget": 5,
                    "numRetries": 2,
                    "backoffFunction": "cubic",
                }
            },
            "backoffFunction 'cubic'",
        ),
        ({"throttlePolicy": {"maxReceivesPerSecond": 0}}, "maxReceivesPerSecond 0"),
        ({"requestPolicy": {"headerContentType": "json"}}, "headerContentType 'json'"),
        ({"sicklyRetryPolicy": {}}, "unknown key"),
    ],
)
def test_fails_if_the_delivery_policy_breaks_an_sns_limit(policy: dict[str, Any], message: str) -> None:
    stack = Stack(App(), "Bad", env=ENV)
    topic = FanOutTopic(stack, "Fan")
    with pytest.raises(NotificationConfigError, match=message):
        topic.add_https_subscription("Hook", "https://example.com/hook", delivery_policy=policy)


def test_fails_if_filter_policy_breaks_the_sns_limits_listing_both_problems() -> None:
    stack = Stack(App(), "Filters", env=ENV)
    topic = FanOutTopic(stack, "Fan")
    six_keys = {f"k{i}": sns.SubscriptionFilter.string_filter(allowlist=["a"]) for i in range(6)}
    with pytest.raises(NotificationConfigError, match="6 keys") as error:
        topic.add_email_subscription("Ops", "ops@example.com", filter_policy=six_keys)
    assert "Filters/Fan" in str(error.value)
    many_values = {
        "channel": sns.SubscriptionFilter.string_filter(allowlist=[f"c{i}" for i in range(20)]),
        "severity": sns.SubscriptionFilter.string_filter(allowlist=[f"s{i}" for i in range(10)]),
    }
    with pytest.raises(NotificationConfigError, match="200 value combinations"):
        topic.add_sms_subscription("Sms", "+4915112345678", filter_policy=many_values)


@pytest.mark.parametrize(
    ("subscribe", "message"),
    [
        (lambda t: t.add_sms_subscription("S", "015112345678"), "E.164"),
        (lambda t: t.add_sms_subscription("S", "+49 151 1234"), "E.164"),
        (lambda t: t.add_email_subscription("E", "not-an-address"), "not an e-mail address"),
        (lambda t: t.add_https_subscription("H", "http://example.com/hook"), "https:// URL"),
        (
            lambda t: t.add_push_subscription("P", "arn:aws:sns:eu-west-1:111111111111:app/GCM/ShopApp"),
            "platform endpoint ARN",
        ),
    ],
)
def test_fails_if_an_endpoint_is_malformed(subscribe: Any, message: str) -> None:
    stack = Stack(App(), "Endpoints", env=ENV)
    with pytest.raises(NotificationConfigError, match=message):
        subscribe(FanOutTopic(stack, "Fan"))


def test_fails_if_a_subscription_id_is_used_twice_or_reserved() -> None:
    stack = Stack(App(), "Ids", env=ENV)
    topic = FanOutTopic(stack, "Fan")
    topic.add_email_subscription("Ops", "ops@example.com")
    with pytest.raises(NotificationConfigError, match="'Ops' is already used"):
        topic.add_email_subscription("Ops", "other@example.com")
    with pytest.raises(NotificationConfigError, match="'Policy' is already used"):
        topic.add_email_subscription("Policy", "other@example.com")


def test_fails_if_a_fifo_queue_is_subscribed() -> None:
    stack = Stack(App(), "Fifo", env=ENV)
    topic = FanOutTopic(stack, "Fan")
    queue = sqs.Queue(stack, "Q", fifo=True)
    with pytest.raises(NotificationConfigError, match="FIFO queue"):
        topic.add_queue_subscription("Q", queue)


def test_fails_if_success_sample_rate_is_not_a_percentage() -> None:
    with pytest.raises(NotificationConfigError, match="success_sample_rate 101"):
        FanOutTopic(Stack(App(), "Rate", env=ENV), "Fan", success_sample_rate=101)


def test_token_values_pass_through_the_checks() -> None:
    # GIVEN endpoints and delivery-policy values known only at deploy time
    stack = Stack(App(), "Tokens", env=ENV)
    phone = CfnParameter(stack, "Phone").value_as_string
    address = CfnParameter(stack, "Address").value_as_string
    url = CfnParameter(stack, "Url").value_as_string
    endpoint = CfnParameter(stack, "Endpoint").value_as_string
    retries = CfnParameter(stack, "Retries", type="Number").value_as_number
    topic = FanOutTopic(stack, "Fan")
    # WHEN subscribed   THEN nothing is rejected, the tokens reach the template
    topic.add_sms_subscription("Sms", phone)
    topic.add_email_subscription("Mail", address)
    topic.add_https_subscription(
        "Hook",
        url,
        delivery_policy={
            "healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 60, "numRetries": retries}
        },
    )
    topic.add_push_subscription("Push", endpoint)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "sms", "Endpoint": {"Ref": "Phone"}}
    )
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Endpoint": {"Ref": "Url"},
            "DeliveryPolicy": {"healthyRetryPolicy": Match.object_like({"numRetries": {"Ref": "Retries"}})},
        },
    )
    # AND a push endpoint known only at deploy time gets no per-application alarm (the topic alarm covers it)
    assert len(topic.alarms) == 1 + 4


def test_the_stack_is_clean_under_cdk_nag(tmp_path: Any) -> None:
    # GIVEN AwsSolutions + Serverless and a topic with every subscription kind but Lambda's (whose function
    # is the caller's)
    app = App(outdir=str(tmp_path))
    add_nag_packs(app)
    stack = Stack(app, "Nag", env=ENV)
    topic = FanOutTopic(stack, "Fan")
    topic.add_sms_subscription("Sms", "+4915112345678", filter_policy=SEVERITY)
    topic.add_email_subscription("Mail", "ops@example.com")
    topic.add_https_subscription("Hook", "https://example.com/hook")
    topic.add_queue_subscription("Queue", ProcessingQueue(stack, "Work"))
    topic.add_push_subscription("Push", ENDPOINT_ARN)
    # WHEN synthesized THEN no finding is left unacknowledged
    synth_with_nag(app)
