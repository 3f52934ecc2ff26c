"""EmailConfigurationSet: TLS required, reputation metrics on, suppression, SNS + CloudWatch destinations,
SES key grants for any encrypted topic, and its CloudWatch metrics."""

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnElement, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match, Template
from constructs import Construct

from notification_constructs import EmailConfigurationSet, NotificationConfigError, NotificationTopic
from notification_constructs.email_configuration_set import CONFIGURATION_SET_DIMENSION

IMPORTED_KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/11111111-2222-3333-4444-555555555555"


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
                name=CONFIGURATION_SET_DIMENSION,
                source=ses.CloudWatchDimensionSource.MESSAGE_TAG,
                default_value="none",
            )
        ],
    )
    return Template.from_stack(stack)


def _ref(construct: Construct) -> dict[str, str]:
    """``{"Ref": <logical id>}`` of a construct's CloudFormation resource."""
    child = construct.node.default_child
    assert isinstance(child, CfnElement)
    return {"Ref": Stack.of(construct).get_logical_id(child)}


def _ses_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in document["Statement"] if s.get("Principal") == {"Service": "ses.amazonaws.com"}]


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
            "ConfigurationSetName": {"Ref": Match.string_like_regexp("^Config")},
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
                "SnsDestination": {"TopicARN": {"Ref": Match.string_like_regexp("^SesEvents")}},
            },
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


def test_construct_ids_are_the_configuration_set_and_its_destinations() -> None:
    # GIVEN a configuration set with both destinations
    stack = Stack(App(), "Ids")
    config = EmailConfigurationSet(
        stack,
        "Config",
        topic=NotificationTopic(stack, "Events"),
        cloudwatch_dimensions=[
            ses.CloudWatchDimension(
                name=CONFIGURATION_SET_DIMENSION,
                source=ses.CloudWatchDimensionSource.MESSAGE_TAG,
                default_value="none",
            )
        ],
    )
    # THEN the construct is the ses.ConfigurationSet (child Resource), the destinations its children
    assert isinstance(config.node.default_child, ses.CfnConfigurationSet)
    assert config.node.default_child.node.path == "Ids/Config/Resource"
    assert config.topic_destination is not None and config.cloudwatch_destination is not None
    assert config.topic_destination.node.path == "Ids/Config/TopicDestination"
    assert config.cloudwatch_destination.node.path == "Ids/Config/CloudWatchDestination"
    # AND the old attribute names still work
    assert config.configuration_set is config
    assert stack.resolve(config.configuration_set_name) == _ref(config)


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
    (ses_statement,) = _ses_statements(key["Properties"]["KeyPolicy"])
    assert ":configuration-set/" in ses_statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1]


def test_a_plain_encrypted_topic_gets_a_key_grant_with_confused_deputy_conditions() -> None:
    # GIVEN a plain sns.Topic encrypted with a key of this app
    stack = Stack(App(), "PlainTopic")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    topic = sns.Topic(stack, "Events", master_key=key)
    # WHEN a configuration set publishes to it
    config = EmailConfigurationSet(stack, "Config")
    config.add_topic_destination("Events", topic, event_types=[ses.EmailSendingEvent.BOUNCE])
    # THEN SES may use the key only for this account and this configuration set
    template = Template.from_stack(stack)
    (key_resource,) = template.find_resources("AWS::KMS::Key").values()
    (statement,) = _ses_statements(key_resource["Properties"]["KeyPolicy"])
    assert statement["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arn = statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1]
    assert source_arn[-2:] == [
        ":configuration-set/",
        _ref(config),
    ]
    # AND aws-cdk-lib's event destination lets SES publish to the topic for it
    (policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    (publish,) = _ses_statements(policy["Properties"]["PolicyDocument"])
    assert publish["Action"] == "sns:Publish"
    assert ":configuration-set/" in json.dumps(publish["Condition"]["StringEquals"]["AWS:SourceArn"])


def test_a_topic_with_an_imported_key_gets_a_warning_instead_of_a_key_grant() -> None:
    # GIVEN a topic encrypted with an imported key (whose policy CDK cannot change)
    stack = Stack(App(), "ImportedKey")
    key = kms.Key.from_key_arn(stack, "Key", IMPORTED_KEY_ARN)
    topic = sns.Topic(stack, "Events", master_key=key)
    # WHEN a configuration set publishes to it
    EmailConfigurationSet(stack, "Config", topic=topic)
    # THEN synth warns that SES must be allowed in the key policy by hand
    Annotations.from_stack(stack).has_warning(
        "/ImportedKey/Config",
        Match.string_like_regexp("KMS key is imported.*kms:GenerateDataKey\\* and kms:Decrypt"),
    )


def test_fails_listing_every_problem() -> None:
    stack = Stack(App(), "Bad")
    fifo = NotificationTopic(stack, "Fifo", fifo=True, publishing_services=())
    with pytest.raises(NotificationConfigError) as error:
        EmailConfigurationSet(
            stack,
            "Config",
            topic=fifo,
            event_types=[ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.BOUNCE],
            cloudwatch_event_types=[],
            cloudwatch_dimensions=[],
        )
    text = "\n".join(error.value.problems)
    assert "event_types: contains duplicates" in text
    assert "cloudwatch_event_types: choose at least one event type" in text
    assert "cloudwatch_dimensions: pass at least one dimension or None" in text
    assert "SES cannot publish to a FIFO topic" in text
    assert all(p.startswith("[Bad/Config]") for p in error.value.problems)
    # AND nothing was added to the tree
    assert stack.node.try_find_child("Config") is None


def test_an_invalid_name_is_left_to_aws_cdk_lib_template_validation() -> None:
    # GIVEN an app that turns aws-cdk-lib's template validation findings into errors
    app = App(context={"@aws-cdk/core:validateAgainstDefaultRules": True})
    stack = Stack(app, "BadName")
    # WHEN a name CloudFormation rejects is given THEN the construct itself accepts it...
    EmailConfigurationSet(stack, "Config", configuration_set_name="no spaces allowed")
    # ...and aws-cdk-lib's validation (the same as for a plain ses.ConfigurationSet) fails the synth
    with pytest.raises(RuntimeError, match="ValidationFailed") as error:
        app.synth()
    # (the finding is in the message or, depending on how the CLI reports, only in the report file)
    report = Path(re.search(r"found in: (\S+)", str(error.value)).group(1))  # type: ignore[union-attr]
    finding = "Name: 'no spaces allowed' does not match pattern '^[a-zA-Z0-9_-]{1,64}$'"
    assert finding in str(error.value) + report.read_text()


# --- metrics ------------------------------------------------------------------------------------------

EVENT_METRICS: dict[str, Callable[[EmailConfigurationSet], cloudwatch.Metric]] = {
    "Send": EmailConfigurationSet.metric_send,
    "Delivery": EmailConfigurationSet.metric_delivery,
    "Bounce": EmailConfigurationSet.metric_bounce,
    "Complaint": EmailConfigurationSet.metric_complaint,
    "Reject": EmailConfigurationSet.metric_reject,
    "RenderingFailure": EmailConfigurationSet.metric_rendering_failure,
}
REPUTATION_METRICS: dict[str, Callable[[EmailConfigurationSet], cloudwatch.Metric]] = {
    "Reputation.BounceRate": EmailConfigurationSet.metric_reputation_bounce_rate,
    "Reputation.ComplaintRate": EmailConfigurationSet.metric_reputation_complaint_rate,
}


@pytest.fixture(scope="module")
def metrics() -> tuple[str, Template]:
    # GIVEN a configuration set publishing every event type to CloudWatch by its auto-tag dimension,
    # and an alarm on each of its metrics
    stack = Stack(App(), "Metrics")
    config = EmailConfigurationSet(
        stack,
        "Config",
        cloudwatch_dimensions=[
            ses.CloudWatchDimension(
                name=CONFIGURATION_SET_DIMENSION,
                source=ses.CloudWatchDimensionSource.MESSAGE_TAG,
                default_value="none",
            )
        ],
        cloudwatch_event_types=list(ses.EmailSendingEvent),
    )
    for name, metric in {**EVENT_METRICS, **REPUTATION_METRICS}.items():
        cloudwatch.Alarm(
            stack,
            name.replace(".", ""),
            metric=metric(config),
            threshold=1,
            evaluation_periods=1,
            alarm_name=name,
        )
    return _ref(config)["Ref"], Template.from_stack(stack)


@pytest.mark.parametrize("metric_name", EVENT_METRICS)
def test_event_metrics_count_this_configuration_set_by_its_auto_tag_dimension(
    metrics: tuple[str, Template], metric_name: str
) -> None:
    logical_id, template = metrics
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": metric_name,
            "Namespace": "AWS/SES",
            "MetricName": metric_name,
            "Dimensions": [{"Name": "ses:configuration-set", "Value": {"Ref": logical_id}}],
            "Statistic": "Sum",
            "Period": 300,
        },
    )


@pytest.mark.parametrize("metric_name", REPUTATION_METRICS)
def test_reputation_metrics_are_the_account_level_rates_without_dimensions(
    metrics: tuple[str, Template], metric_name: str
) -> None:
    _, template = metrics
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": metric_name,
            "Namespace": "AWS/SES",
            "MetricName": metric_name,
            "Dimensions": Match.absent(),
            "Statistic": "Maximum",
            "Period": 3600,
        },
    )


def test_metric_options_override_the_defaults() -> None:
    # GIVEN a configuration set   WHEN a metric is asked for with other options   THEN they apply
    config = EmailConfigurationSet(Stack(App(), "Options"), "Config")
    metric = config.metric_bounce(period=Duration.hours(1), statistic="Average", label="bounces")
    assert (metric.period.to_seconds(), metric.statistic, metric.label) == (3600, "Average", "bounces")
    assert metric.dimensions == {"ses:configuration-set": config.configuration_set_name}
    other = config.metric("DeliveryDelay")
    assert (other.namespace, other.metric_name) == ("AWS/SES", "DeliveryDelay")
