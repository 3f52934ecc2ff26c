"""NotificationTopic: CMK with rotation, key + topic policy for SES with confused-deputy conditions, TLS only."""

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from notification_constructs import NotificationConfigError, NotificationTopic


@pytest.fixture(scope="module")
def built() -> tuple[NotificationTopic, Template]:
    stack = Stack(App(), "TopicStack")
    topic = NotificationTopic(stack, "Events", topic_name="ses-events")
    topic.grant_publish(iam.Role(stack, "Producer", assumed_by=iam.AccountRootPrincipal()))
    return topic, Template.from_stack(stack)


def test_topic_is_encrypted_with_a_rotating_customer_managed_key(
    built: tuple[NotificationTopic, Template],
) -> None:
    _, template = built
    template.resource_count_is("AWS::KMS::Key", 1)
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties(
        "AWS::SNS::Topic",
        {
            "TopicName": "ses-events",
            "KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("EventsKey"), "Arn"]},
        },
    )


def test_key_policy_lets_ses_use_the_key_only_for_this_account(
    built: tuple[NotificationTopic, Template],
) -> None:
    _, template = built
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ses.amazonaws.com"},
                            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                            "Resource": "*",
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                                "ArnLike": {"aws:SourceArn": Match.any_value()},
                            },
                        }
                    ]
                )
            }
        },
    )


def test_topic_policy_allows_ses_with_conditions_and_denies_plaintext(
    built: tuple[NotificationTopic, Template],
) -> None:
    _, template = built
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sns:Publish",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ),
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "ses.amazonaws.com"},
                                "Action": "sns:Publish",
                                "Condition": {
                                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                                    "ArnLike": {"aws:SourceArn": Match.any_value()},
                                },
                            }
                        ),
                    ]
                )
            }
        },
    )


def test_grant_publish_includes_the_kms_permissions(built: tuple[NotificationTopic, Template]) -> None:
    _, template = built
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "sns:Publish",
                                "Resource": {"Ref": Match.string_like_regexp("EventsTopic")},
                            }
                        ),
                        Match.object_like(
                            {
                                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                                "Resource": {"Fn::GetAtt": [Match.string_like_regexp("EventsKey"), "Arn"]},
                            }
                        ),
                    ]
                )
            }
        },
    )


def test_application_only_topic_has_no_service_statements() -> None:
    stack = Stack(App(), "AppTopic")
    NotificationTopic(stack, "Orders", publishing_services=())
    statements = Template.from_stack(stack).to_json()["Resources"]
    key = next(r for r in statements.values() if r["Type"] == "AWS::KMS::Key")
    assert [s["Principal"] for s in key["Properties"]["KeyPolicy"]["Statement"]] == [
        {
            "AWS": {
                "Fn::Join": [
                    "",
                    ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"],
                ]
            }
        }
    ]


def test_fails_if_ses_is_asked_to_publish_to_a_fifo_topic() -> None:
    stack = Stack(App(), "Fifo")
    with pytest.raises(
        NotificationConfigError, match=r"\[Fifo/Events\] fifo=True: ses.amazonaws.com cannot publish"
    ):
        NotificationTopic(stack, "Events", fifo=True)


def test_fails_listing_every_problem_at_once() -> None:
    stack = Stack(App(), "Bad")
    with pytest.raises(NotificationConfigError) as error:
        NotificationTopic(
            stack,
            "Events",
            topic_name="has spaces",
            publishing_services=("not a principal",),
            content_based_deduplication=True,
        )
    assert len(error.value.problems) == 3
    assert all(p.startswith("[Bad/Events]") for p in error.value.problems)


def test_fifo_topic_for_applications_gets_the_fifo_suffix() -> None:
    stack = Stack(App(), "FifoOk")
    NotificationTopic(stack, "Orders", topic_name="orders", fifo=True, publishing_services=())
    Template.from_stack(stack).has_resource_properties(
        "AWS::SNS::Topic", {"TopicName": "orders.fifo", "FifoTopic": True}
    )
