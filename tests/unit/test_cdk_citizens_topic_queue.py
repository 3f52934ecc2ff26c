"""NotificationTopic and ProcessingQueue as first-class CDK citizens: they are an sns.Topic and an sqs.Queue,
so aws-cdk-lib APIs take them; plain aws-cdk-lib topics work where ours do; every check is token-aware."""

from typing import Any, cast

import jsii
import pytest
from aws_cdk import App, CfnParameter, Duration, Fn, IStableStringProducer, Lazy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as lambda_event_sources
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as sns_subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from notification_constructs import NotificationConfigError, NotificationTopic, ProcessingQueue

IMPORTED_TOPIC_ARN = "arn:aws:sns:eu-west-1:111111111111:orders"
IMPORTED_KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/11111111-2222-3333-4444-555555555555"


@jsii.implements(IStableStringProducer)
class _Name:
    """A name produced only at synthesis (``Lazy.string``)."""

    def __init__(self, value: str) -> None:
        self._value = value

    def produce(self) -> str:
        return self._value


def _number(stack: Stack, id: str) -> int:
    """A Number CfnParameter's value: a token, typed as the int the prop is."""
    return cast(int, CfnParameter(stack, id, type="Number").value_as_number)


def _ref(stack: Stack, construct: Any) -> dict[str, str]:
    return {"Ref": stack.get_logical_id(construct.node.default_child)}


def _arn(stack: Stack, construct: Any) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [stack.get_logical_id(construct.node.default_child), "Arn"]}


def _policy_statements(template: Template, type_: str) -> list[dict[str, Any]]:
    key = "KeyPolicy" if type_ == "AWS::KMS::Key" else "PolicyDocument"
    return [
        statement
        for resource in template.find_resources(type_).values()
        for statement in resource["Properties"][key]["Statement"]
    ]


class Citizens:
    """One stack wiring our topic and queue into aws-cdk-lib APIs (synthesized once for the module)."""

    def __init__(self) -> None:
        self.stack = stack = Stack(App(), "Citizens")
        self.topic = NotificationTopic(stack, "Events")
        self.queue = ProcessingQueue(stack, "Work")
        # aws-cdk-lib APIs taking an sns.ITopic / sqs.IQueue
        self.topic.add_subscription(sns_subscriptions.SqsSubscription(self.queue))
        self.function = lambda_.Function(
            stack,
            "Consumer",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context): pass"),
        )
        self.function.add_event_source(lambda_event_sources.SqsEventSource(self.queue))
        self.producer = iam.Role(stack, "Producer", assumed_by=iam.AccountRootPrincipal())
        self.queue.grant_send_messages(self.producer)
        self.alarm = cloudwatch.Alarm(
            stack,
            "Backlog",
            metric=self.queue.metric_oldest_message_age(),
            threshold=60,
            evaluation_periods=1,
        )
        self.alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        self.configuration_set = ses.ConfigurationSet(stack, "Config")
        self.configuration_set.add_event_destination(
            "ToTopic", destination=ses.EventDestination.sns_topic(self.topic)
        )
        events.Rule(
            stack,
            "Hourly",
            schedule=events.Schedule.rate(Duration.hours(1)),
            targets=[events_targets.SnsTopic(self.topic)],
        )
        # plain aws-cdk-lib resources where ours are used
        self.plain_topic = sns.Topic(stack, "PlainTopic")
        self.plain_subscription = self.queue.subscribe_to(self.plain_topic)
        self.alarmed = ProcessingQueue(stack, "Alarmed", alarm_topic=self.plain_topic)
        self.plain_queue = sqs.Queue(stack, "PlainQueue")
        self.topic.add_subscription(sns_subscriptions.SqsSubscription(self.plain_queue))
        self.template = Template.from_stack(stack)


@pytest.fixture(scope="module")
def citizens() -> Citizens:
    return Citizens()


def test_they_are_the_aws_cdk_lib_types_and_keep_their_old_attributes(citizens: Citizens) -> None:
    # GIVEN our topic and queue
    topic, queue = citizens.topic, citizens.queue
    # THEN they are an sns.Topic and an sqs.Queue, .topic/.queue are themselves and the DLQ is a queue
    assert isinstance(topic, sns.Topic) and topic.topic is topic
    assert isinstance(queue, sqs.Queue) and queue.queue is queue
    assert isinstance(queue.dead_letter_queue, sqs.Queue) and queue.dead_letter_queue is not queue
    assert queue.encryption_master_key is queue.encryption_key
    assert topic.master_key is topic.encryption_key


def test_our_queue_is_an_sqs_subscription_endpoint_of_our_topic(citizens: Citizens) -> None:
    # GIVEN topic.add_subscription(SqsSubscription(queue)) THEN SNS delivers from our topic to our queue
    stack = citizens.stack
    citizens.template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "sqs", "TopicArn": _ref(stack, citizens.topic), "Endpoint": _arn(stack, citizens.queue)},
    )
    # AND aws-cdk-lib lets SNS send to the queue, only from that topic
    assert {
        "Action": "sqs:SendMessage",
        "Condition": {"ArnEquals": {"aws:SourceArn": _ref(stack, citizens.topic)}},
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Resource": _arn(stack, citizens.queue),
    } in _policy_statements(citizens.template, "AWS::SQS::QueuePolicy")


def test_our_queue_feeds_a_lambda_event_source_with_its_grants(citizens: Citizens) -> None:
    # GIVEN SqsEventSource(queue) and queue.grant_send_messages(role)
    stack, template = citizens.stack, citizens.template
    # THEN the mapping reads our queue
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"EventSourceArn": _arn(stack, citizens.queue)}
    )
    # AND the consumer may receive and decrypt, the producer may send and encrypt, with our key
    statements = _policy_statements(template, "AWS::IAM::Policy")
    on_queue = {
        a
        for s in statements
        if s["Resource"] == _arn(stack, citizens.queue)
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage"} <= on_queue
    on_key = {
        a
        for s in statements
        if s["Resource"] == _arn(stack, citizens.queue.encryption_key)
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= on_key


def test_our_topic_is_an_alarm_action_and_an_ses_event_destination(citizens: Citizens) -> None:
    # GIVEN SnsAction(topic) and ses.EventDestination.sns_topic(topic)
    stack, template = citizens.stack, citizens.template
    # THEN the alarm notifies our topic and the configuration set publishes its events to it
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ApproximateAgeOfOldestMessage", "AlarmActions": [_ref(stack, citizens.topic)]},
    )
    template.has_resource_properties(
        "AWS::SES::ConfigurationSetEventDestination",
        {
            "ConfigurationSetName": _ref(stack, citizens.configuration_set),
            "EventDestination": Match.object_like(
                {"SnsDestination": {"TopicARN": _ref(stack, citizens.topic)}}
            ),
        },
    )


def test_aws_cdk_lib_grants_on_our_topic_use_our_grant_publish(citizens: Citizens) -> None:
    # GIVEN an EventBridge target, which calls topic.grant_publish(events.amazonaws.com)
    stack, template = citizens.stack, citizens.template
    events_principal = {"Service": "events.amazonaws.com"}
    # THEN the service may publish (topic policy) and use the key, with the two actions, no wildcard
    assert {
        "Action": "sns:Publish",
        "Effect": "Allow",
        "Principal": events_principal,
        "Resource": _ref(stack, citizens.topic),
    } in [
        {k: v for k, v in s.items() if k != "Sid"}
        for s in _policy_statements(template, "AWS::SNS::TopicPolicy")
    ]
    key_id = stack.get_logical_id(cast(Any, citizens.topic.encryption_key.node.default_child))
    key_policy = template.find_resources("AWS::KMS::Key")[key_id]["Properties"]["KeyPolicy"]
    (statement,) = [s for s in key_policy["Statement"] if s["Principal"] == events_principal]
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_subscribe_to_takes_a_plain_sns_topic(citizens: Citizens) -> None:
    # GIVEN queue.subscribe_to(sns.Topic(...))
    stack, template = citizens.stack, citizens.template
    plain = _ref(stack, citizens.plain_topic)
    # THEN the subscription is raw, parks undeliverable messages in our DLQ, and SNS may send and use the
    # queue key only for that topic
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "TopicArn": plain,
            "Endpoint": _arn(stack, citizens.queue),
            "RawMessageDelivery": True,
            "RedrivePolicy": {"deadLetterTargetArn": _arn(stack, citizens.queue.dead_letter_queue)},
        },
    )
    assert citizens.queue.subscriptions[-1] is citizens.plain_subscription
    key_id = stack.get_logical_id(cast(Any, citizens.queue.encryption_key.node.default_child))
    key_policy = template.find_resources("AWS::KMS::Key")[key_id]["Properties"]["KeyPolicy"]
    assert {
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Condition": {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
            "ArnLike": {"aws:SourceArn": plain},
        },
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Resource": "*",
    } in key_policy["Statement"]


def test_plain_topic_as_alarm_topic_and_plain_queue_subscribed_to_our_topic(citizens: Citizens) -> None:
    stack, template = citizens.stack, citizens.template
    # GIVEN ProcessingQueue(alarm_topic=sns.Topic(...)) THEN both its alarms notify the plain topic
    for alarm in citizens.alarmed.alarms:
        alarm_id = stack.get_logical_id(cast(Any, alarm.node.default_child))
        actions = template.find_resources("AWS::CloudWatch::Alarm")[alarm_id]["Properties"]["AlarmActions"]
        assert actions == [_ref(stack, citizens.plain_topic)]
    # GIVEN an sqs.Queue subscribed to our topic THEN it receives from it
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"TopicArn": _ref(stack, citizens.topic), "Endpoint": _arn(stack, citizens.plain_queue)},
    )


def test_dead_letter_queue_metrics_feed_the_alarms(citizens: Citizens) -> None:
    # GIVEN the queue's metric methods
    queue, stack = citizens.queue, citizens.stack
    depth = queue.metric_dead_letter_queue_depth()
    age = queue.metric_oldest_message_age()
    # THEN the DLQ depth is the DLQ's visible messages, the age the queue's oldest message, Maximum per minute
    assert (depth.namespace, depth.metric_name) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert stack.resolve(depth.dimensions) == {
        "QueueName": {
            "Fn::GetAtt": [
                stack.get_logical_id(cast(Any, queue.dead_letter_queue.node.default_child)),
                "QueueName",
            ]
        }
    }
    assert stack.resolve(age.dimensions) == {
        "QueueName": {"Fn::GetAtt": [stack.get_logical_id(cast(Any, queue.node.default_child)), "QueueName"]}
    }
    assert {(m.statistic, m.period.to_seconds()) for m in (depth, age)} == {("Maximum", 60)}
    # AND they are what the alarms watch
    for alarm, metric in ((queue.dlq_depth_alarm, depth), (queue.oldest_message_age_alarm, age)):
        watched = cast(cloudwatch.Metric, alarm.metric)
        assert watched.metric_name == metric.metric_name
        assert stack.resolve(watched.dimensions) == stack.resolve(metric.dimensions)
    # AND the options are honoured
    custom = queue.metric_dead_letter_queue_depth(period=Duration.minutes(5), statistic="Average")
    assert (custom.statistic, custom.period.to_seconds()) == ("Average", 300)


def test_an_imported_topic_with_its_key_is_granted_with_the_key() -> None:
    # GIVEN a topic imported with its key ARN
    stack = Stack(App(), "Imported")
    topic = NotificationTopic.from_topic_attributes(
        stack, "Orders", topic_arn=IMPORTED_TOPIC_ARN, key_arn=IMPORTED_KEY_ARN
    )
    role = iam.Role(stack, "Producer", assumed_by=iam.AccountRootPrincipal())
    # WHEN granting publish, and a queue subscribes to it
    topic.grant_publish(role)
    ProcessingQueue(stack, "Q").subscribe_to(topic)
    template = Template.from_stack(stack)
    # THEN the key is known and granted, and the subscription points at the imported topic
    assert topic.master_key is not None and topic.master_key.key_arn == IMPORTED_KEY_ARN
    statements = _policy_statements(template, "AWS::IAM::Policy")
    assert {"Action": "sns:Publish", "Effect": "Allow", "Resource": IMPORTED_TOPIC_ARN} in statements
    assert {
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Effect": "Allow",
        "Resource": IMPORTED_KEY_ARN,
    } in statements
    template.has_resource_properties("AWS::SNS::Subscription", {"TopicArn": IMPORTED_TOPIC_ARN})


def test_fifo_queue_subscribes_to_a_topic_imported_from_a_token_but_not_to_a_known_standard_one() -> None:
    # GIVEN a FIFO queue
    stack = Stack(App(), "FifoImports")
    queue = ProcessingQueue(stack, "Q", fifo=True)
    # WHEN the topic ARN is only known at deploy time THEN it is not judged
    queue.subscribe_to(sns.Topic.from_topic_arn(stack, "FromExport", Fn.import_value("OrdersTopicArn")))
    assert len(queue.subscriptions) == 1
    # WHEN the imported ARN names a standard topic THEN the mismatch is reported
    with pytest.raises(
        NotificationConfigError, match=r"\[FifoImports/Q\] subscribe_to: a FIFO queue can only subscribe"
    ):
        queue.subscribe_to(sns.Topic.from_topic_arn(stack, "Standard", IMPORTED_TOPIC_ARN))


@pytest.fixture(scope="module")
def token_template() -> Template:
    stack = Stack(App(), "Tokens")
    ProcessingQueue(
        stack,
        "FromParameters",
        queue_name=CfnParameter(stack, "QueueName").value_as_string,
        visibility_timeout=Duration.seconds(_number(stack, "Visibility")),
        retention_period=Duration.seconds(_number(stack, "Retention")),
        dead_letter_retention_period=Duration.seconds(Token.as_number(Fn.import_value("DlqRetention"))),
        max_message_age=Duration.seconds(_number(stack, "MaxAge")),
        max_receive_count=cast(int, Token.as_number(Fn.import_value("MaxReceives"))),
    )
    ProcessingQueue(stack, "Lazy", queue_name=Lazy.string(_Name("lazy-orders")), fifo=True)
    NotificationTopic(
        stack,
        "TokenTopic",
        topic_name=Fn.import_value("TopicName"),
        display_name=CfnParameter(stack, "DisplayName").value_as_string,
        publishing_services=(CfnParameter(stack, "Publisher").value_as_string,),
    )
    return Template.from_stack(stack)


def test_token_durations_counts_and_names_pass_through(token_template: Template) -> None:
    # GIVEN a queue configured from parameters and imports THEN they reach the template unchanged
    token_template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": {"Ref": "QueueName"},
            "VisibilityTimeout": {"Ref": "Visibility"},
            "MessageRetentionPeriod": {"Ref": "Retention"},
            "RedrivePolicy": Match.object_like({"maxReceiveCount": {"Fn::ImportValue": "MaxReceives"}}),
        },
    )
    # AND the DLQ is named after the queue and accepts redrive only from it
    token_template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": {"Fn::Join": ["", [{"Ref": "QueueName"}, "-dlq"]]},
            "MessageRetentionPeriod": {"Fn::ImportValue": "DlqRetention"},
            "RedriveAllowPolicy": {
                "redrivePermission": "byQueue",
                "sourceQueueArns": [
                    Match.object_like({"Fn::Join": ["", Match.array_with([{"Ref": "QueueName"}])]})
                ],
            },
        },
    )
    token_template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ApproximateAgeOfOldestMessage", "Threshold": {"Ref": "MaxAge"}},
    )


def test_a_lazy_fifo_queue_name_gets_the_suffix_once(token_template: Template) -> None:
    token_template.has_resource_properties(
        "AWS::SQS::Queue", {"QueueName": "lazy-orders.fifo", "FifoQueue": True}
    )
    token_template.has_resource_properties(
        "AWS::SQS::Queue", {"QueueName": "lazy-orders-dlq.fifo", "FifoQueue": True}
    )


def test_token_topic_name_display_name_and_publishing_service_pass_through(
    token_template: Template,
) -> None:
    # GIVEN a topic whose name, display name and publishing service are known only at deploy time
    token_template.has_resource_properties(
        "AWS::SNS::Topic",
        {"TopicName": {"Fn::ImportValue": "TopicName"}, "DisplayName": {"Ref": "DisplayName"}},
    )
    # THEN the service's statement is scoped to its own ARNs, the service name taken by CloudFormation
    service = {"Fn::Select": [0, {"Fn::Split": [".", {"Ref": "Publisher"}]}]}
    (statement,) = [
        s
        for s in _policy_statements(token_template, "AWS::SNS::TopicPolicy")
        if s["Principal"] == {"Service": {"Ref": "Publisher"}}
    ]
    assert statement["Sid"] == "AllowServicePublish0"
    assert service in statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1]
