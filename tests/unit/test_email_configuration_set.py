"""EmailConfigurationSet: TLS required, reputation metrics on, suppression, SNS + CloudWatch destinations."""

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ses as ses
from aws_cdk.assertions import Match, Template

from notification_constructs import EmailConfigurationSet, NotificationConfigError, NotificationTopic


@pytest.fixture(scope="module")
def template() -> Template:
    stack = Stack(App(), "ConfigStack")
    topic = NotificationTopic(stack, "SesEvents")
    EmailConfigurationSet(
        stack,
        "Config",
        configuration_set_name="transactional",
        topic=topic,
        cloudwatch_dimensions=[
            ses.CloudWatchDimension(
                name="ses:configuration-set",
                source=ses.CloudWatchDimensionSource.MESSAGE_TAG,
                default_value="none",
            )
        ],
    )
    return Template.from_stack(stack)


def test_secure_defaults_are_explicit(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SES::ConfigurationSet",
        {
            "Name": "transactional",
            "DeliveryOptions": {"TlsPolicy": "REQUIRE"},
            "ReputationOptions": {"ReputationMetricsEnabled": True},
            "SuppressionOptions": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
            "SendingOptions": {"SendingEnabled": True},
        },
    )


def test_default_events_go_to_the_topic(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SES::ConfigurationSetEventDestination",
        {
            "EventDestination": {
                "Enabled": True,
                "MatchingEventTypes": [
                    "bounce",
                    "complaint",
                    "delivery",
                    "reject",
                    "renderingFailure",
                    "deliveryDelay",
                ],
                "SnsDestination": {"TopicARN": {"Ref": Match.string_like_regexp("SesEventsTopic")}},
            }
        },
    )


def test_cloudwatch_destination(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SES::ConfigurationSetEventDestination",
        {
            "EventDestination": Match.object_like(
                {
                    "CloudWatchDestination": {
                        "DimensionConfigurations": [
                            {
                                "DefaultDimensionValue": "none",
                                "DimensionName": "ses:configuration-set",
                                "DimensionValueSource": "messageTag",
                            }
                        ]
                    }
                }
            )
        },
    )


def test_topic_policy_names_this_configuration_set(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "ses.amazonaws.com"},
                                "Condition": Match.object_like(
                                    {
                                        "StringEquals": Match.object_like(
                                            {
                                                "AWS:SourceArn": {
                                                    "Fn::Join": [
                                                        "",
                                                        Match.array_with([":configuration-set/"]),
                                                    ]
                                                }
                                            }
                                        )
                                    }
                                ),
                            }
                        )
                    ]
                )
            }
        },
    )


def test_topic_without_ses_gets_a_key_grant_scoped_to_the_configuration_set() -> None:
    stack = Stack(App(), "Scoped")
    topic = NotificationTopic(stack, "T", publishing_services=())
    EmailConfigurationSet(stack, "Config", topic=topic, event_types=[ses.EmailSendingEvent.BOUNCE])
    key = next(iter(Template.from_stack(stack).find_resources("AWS::KMS::Key").values()))
    ses_statement = next(
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s["Principal"] == {"Service": "ses.amazonaws.com"}
    )
    assert ":configuration-set/" in ses_statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1]


def test_fails_listing_every_problem() -> None:
    stack = Stack(App(), "Bad")
    fifo = NotificationTopic(stack, "Fifo", fifo=True, publishing_services=())
    with pytest.raises(NotificationConfigError) as error:
        EmailConfigurationSet(
            stack,
            "Config",
            configuration_set_name="no spaces allowed",
            topic=fifo,
            event_types=[ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.BOUNCE],
        )
    text = "\n".join(error.value.problems)
    assert "configuration_set_name 'no spaces allowed'" in text
    assert "event_types: contains duplicates" in text
    assert "SES cannot publish to a FIFO topic" in text
