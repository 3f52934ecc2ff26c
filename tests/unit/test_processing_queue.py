"""ProcessingQueue: DLQ always, CMK encryption, TLS only, redrive-allow, alarms, filtered subscriptions."""

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from notification_constructs import NotificationConfigError, NotificationTopic, ProcessingQueue


@pytest.fixture(scope="module")
def template() -> Template:
    stack = Stack(App(), "QueueStack")
    topic = NotificationTopic(stack, "Orders", publishing_services=())
    queue = ProcessingQueue(stack, "Emails", queue_name="order-emails")
    queue.subscribe_to(
        topic, filter_policy={"event_type": sns.SubscriptionFilter.string_filter(allowlist=["order.placed"])}
    )
    return Template.from_stack(stack)


def test_queue_has_a_dlq_with_five_receives_and_14_day_retention(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": "order-emails",
            "VisibilityTimeout": 180,
            "RedrivePolicy": {
                "deadLetterTargetArn": {
                    "Fn::GetAtt": [Match.string_like_regexp("EmailsDeadLetterQueue"), "Arn"]
                },
                "maxReceiveCount": 5,
            },
        },
    )
    template.has_resource_properties(
        "AWS::SQS::Queue", {"QueueName": "order-emails-dlq", "MessageRetentionPeriod": 1209600}
    )


def test_both_queues_are_kms_encrypted(template: Template) -> None:
    queues = template.find_resources("AWS::SQS::Queue")
    assert len(queues) == 2
    for queue in queues.values():
        key_ref = queue["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"]
        assert key_ref[0].startswith("EmailsKey") and key_ref[1] == "Arn"
    template.has_resource_properties(
        "AWS::KMS::Key", {"EnableKeyRotation": True, "Description": Match.string_like_regexp("SQS")}
    )


def test_both_queues_deny_plaintext(template: Template) -> None:
    policies = template.find_resources("AWS::SQS::QueuePolicy")
    assert len(policies) == 2
    for policy in policies.values():
        deny = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_dlq_accepts_redrive_only_from_its_source_queue(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": "order-emails-dlq",
            "RedriveAllowPolicy": {
                "redrivePermission": "byQueue",
                "sourceQueueArns": [
                    {
                        "Fn::Join": [
                            "",
                            [
                                "arn:",
                                {"Ref": "AWS::Partition"},
                                ":sqs:",
                                {"Ref": "AWS::Region"},
                                ":",
                                {"Ref": "AWS::AccountId"},
                                ":order-emails",
                            ],
                        ]
                    }
                ],
            },
        },
    )


def test_alarms_on_dlq_depth_and_oldest_message_age(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Dimensions": [
                {
                    "Name": "QueueName",
                    "Value": {"Fn::GetAtt": [Match.string_like_regexp("EmailsDeadLetterQueue"), "QueueName"]},
                }
            ],
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "ApproximateAgeOfOldestMessage", "Threshold": 900}
    )


def test_subscription_is_raw_filtered_and_has_a_dlq(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "sqs",
            "RawMessageDelivery": True,
            "FilterPolicy": {"event_type": ["order.placed"]},
            "RedrivePolicy": {
                "deadLetterTargetArn": {
                    "Fn::GetAtt": [Match.string_like_regexp("EmailsDeadLetterQueue"), "Arn"]
                }
            },
        },
    )


def test_sns_may_send_and_use_the_key_only_for_the_subscribed_topic(template: Template) -> None:
    topic_ref = {"Ref": Match.string_like_regexp(r"^Orders[0-9A-F]{8}$")}
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
                                "Condition": {"ArnEquals": {"aws:SourceArn": topic_ref}},
                            }
                        )
                    ]
                )
            }
        },
    )
    key = next(
        k
        for k in template.find_resources("AWS::KMS::Key").values()
        if "SQS" in k["Properties"]["Description"]
    )
    sns_statements = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s["Principal"] == {"Service": "sns.amazonaws.com"}
    ]
    assert len(sns_statements) == 1, "no unconditioned SNS grant on the queue key"
    assert sns_statements[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "Ref" in sns_statements[0]["Condition"]["ArnLike"]["aws:SourceArn"]


def test_fails_if_filter_policy_has_more_than_five_keys() -> None:
    stack = Stack(App(), "Keys")
    topic = NotificationTopic(stack, "T", publishing_services=())
    queue = ProcessingQueue(stack, "Q")
    policy = {f"k{i}": sns.SubscriptionFilter.string_filter(allowlist=["a"]) for i in range(6)}
    with pytest.raises(
        NotificationConfigError,
        match=r"\[Keys/Q\] subscribe_to: filter_policy has 6 keys; SNS allows at most 5",
    ):
        queue.subscribe_to(topic, filter_policy=policy)


def test_fails_if_filter_policy_has_more_than_150_combinations() -> None:
    stack = Stack(App(), "Combos")
    topic = NotificationTopic(stack, "T", publishing_services=())
    queue = ProcessingQueue(stack, "Q")
    policy = {
        "a": sns.SubscriptionFilter.string_filter(allowlist=[str(i) for i in range(10)]),
        "b": sns.SubscriptionFilter.string_filter(allowlist=[str(i) for i in range(16)]),
    }
    with pytest.raises(NotificationConfigError, match="160 value combinations; SNS allows at most 150"):
        queue.subscribe_to(topic, filter_policy=policy)


def test_fails_if_message_body_filter_breaks_the_limits() -> None:
    stack = Stack(App(), "Body")
    topic = NotificationTopic(stack, "T", publishing_services=())
    queue = ProcessingQueue(stack, "Q")
    body = {
        "order": sns.FilterOrPolicy.policy(
            {
                f"k{i}": sns.FilterOrPolicy.filter(sns.SubscriptionFilter.string_filter(allowlist=["x"]))
                for i in range(6)
            }
        )
    }
    with pytest.raises(NotificationConfigError, match="message_body_filter has 6 keys"):
        queue.subscribe_to(topic, message_body_filter=body)


def test_message_body_filter_within_limits_is_applied() -> None:
    stack = Stack(App(), "BodyOk")
    topic = NotificationTopic(stack, "T", publishing_services=())
    queue = ProcessingQueue(stack, "Q")
    body = {
        "event_type": sns.FilterOrPolicy.filter(
            sns.SubscriptionFilter.string_filter(allowlist=["order.placed"])
        )
    }
    queue.subscribe_to(topic, message_body_filter=body)
    Template.from_stack(stack).has_resource_properties(
        "AWS::SNS::Subscription",
        {"FilterPolicyScope": "MessageBody", "FilterPolicy": {"event_type": ["order.placed"]}},
    )


def test_fails_listing_every_invalid_queue_setting() -> None:
    stack = Stack(App(), "BadQueue")
    with pytest.raises(NotificationConfigError) as error:
        ProcessingQueue(
            stack,
            "Q",
            visibility_timeout=Duration.hours(13),
            max_receive_count=0,
            retention_period=Duration.days(14),
            dead_letter_retention_period=Duration.days(4),
        )
    text = str(error.value)
    assert "visibility_timeout 46800.0s" in text or "visibility_timeout 46800s" in text
    assert "max_receive_count 0" in text
    assert "dead_letter_retention_period (345600" in text
    assert len(error.value.problems) == 3


def test_names_are_generated_unless_given_and_only_a_named_dlq_has_a_redrive_allow_policy() -> None:
    # GIVEN a standard and a FIFO queue without queue_name
    stack = Stack(App(), "Generated")
    ProcessingQueue(stack, "Standard")
    ProcessingQueue(stack, "Fifo", fifo=True)
    # WHEN synthesized
    queues = Template.from_stack(stack).find_resources("AWS::SQS::Queue")
    # THEN CloudFormation names all four queues (a replacement on update stays possible), and no DLQ carries
    # a redrive-allow policy naming a queue whose name is not known yet
    assert len(queues) == 4
    for queue in queues.values():
        assert "QueueName" not in queue["Properties"]
        assert "RedriveAllowPolicy" not in queue["Properties"]
    assert sum(q["Properties"].get("FifoQueue") is True for q in queues.values()) == 2


def test_fails_if_a_standard_queue_is_named_like_a_fifo_queue() -> None:
    stack = Stack(App(), "NotFifo")
    with pytest.raises(
        NotificationConfigError,
        match=r"\[NotFifo/Q\] queue_name 'orders.fifo' ends with '.fifo': pass fifo=True",
    ):
        ProcessingQueue(stack, "Q", queue_name="orders.fifo")


def test_fails_if_max_message_age_is_zero() -> None:
    stack = Stack(App(), "Age")
    with pytest.raises(NotificationConfigError, match=r"\[Age/Q\] max_message_age 0(\.0)?s: must be more"):
        ProcessingQueue(stack, "Q", max_message_age=Duration.seconds(0))
