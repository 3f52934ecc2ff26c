"""NotificationTopic: CMK with rotation, key + topic policy for SES with confused-deputy conditions, TLS only."""

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from notification_constructs import EmailConfigurationSet, NotificationConfigError, NotificationTopic


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
                                "Resource": {"Ref": Match.string_like_regexp(r"^Events[0-9A-F]{8}$")},
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


def _ses_statements(template: Template) -> list[dict]:  # type: ignore[type-arg]
    """The ses.amazonaws.com statements of the key policy and of the topic policy (ours, not aws-cdk-lib's
    event-destination statement, which carries ``AWS:SourceArn`` under ``StringEquals``)."""
    key = next(iter(template.find_resources("AWS::KMS::Key").values()))
    statements = list(key["Properties"]["KeyPolicy"]["Statement"])
    for policy in template.find_resources("AWS::SNS::TopicPolicy").values():
        statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return [
        s
        for s in statements
        if s.get("Principal") == {"Service": "ses.amazonaws.com"} and "ArnLike" in s.get("Condition", {})
    ]


def test_until_the_publisher_is_known_ses_is_scoped_to_this_account_and_region(
    built: tuple[NotificationTopic, Template],
) -> None:
    # GIVEN a topic with the default publishing_services and no configuration set
    _, template = built
    # THEN both statements name every SES resource of this account and region
    statements = _ses_statements(template)
    assert len(statements) == 2
    for statement in statements:
        assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":ses:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    ":*",
                ],
            ]
        }


def test_a_configuration_set_narrows_ses_to_its_own_arn() -> None:
    # GIVEN a topic with the default publishing_services
    stack = Stack(App(), "Narrowed")
    topic = NotificationTopic(stack, "Events")
    # WHEN a configuration set publishes to it
    EmailConfigurationSet(stack, "Config", configuration_set_name="orders", topic=topic)
    # THEN the key and topic policy statements name only that configuration set
    template = Template.from_stack(stack)
    (configuration_set_id,) = template.find_resources("AWS::SES::ConfigurationSet")
    statements = _ses_statements(template)
    assert len(statements) == 2
    for statement in statements:
        parts = statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1]
        assert parts[-2:] == [":configuration-set/", {"Ref": configuration_set_id}]
    assert len(topic.source_arns_of("ses.amazonaws.com")) == 1


def test_two_configuration_sets_may_both_publish() -> None:
    # GIVEN one topic WHEN two configuration sets publish to it THEN SES may publish for both, nothing else
    stack = Stack(App(), "TwoSets")
    topic = NotificationTopic(stack, "Events")
    EmailConfigurationSet(stack, "A", topic=topic)
    EmailConfigurationSet(stack, "B", topic=topic)
    for statement in _ses_statements(Template.from_stack(stack)):
        sources = statement["Condition"]["ArnLike"]["aws:SourceArn"]
        assert isinstance(sources, list) and len(sources) == 2
        assert all(":configuration-set/" in str(s) for s in sources)


def test_fails_if_display_name_is_longer_than_sns_allows() -> None:
    stack = Stack(App(), "Display")
    with pytest.raises(
        NotificationConfigError,
        match=r"\[Display/Events\] display_name: 101 characters; SNS allows at most 100",
    ):
        NotificationTopic(stack, "Events", display_name="x" * 101)
