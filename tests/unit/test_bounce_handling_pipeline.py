"""BounceHandlingPipeline wiring: SES -> encrypted topic -> queue -> processor; alarms; scoped grants."""

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ses as ses
from aws_cdk.assertions import Match, Template

from notification_constructs import BounceHandlingPipeline, EmailConfigurationSet, NotificationConfigError
from tests.unit.pipeline_stack import actions_on, build, statements_of
from tests.unit.test_order_confirmation_pipeline import render, sns_key_statements


@pytest.fixture(scope="module")
def template() -> Template:
    return build()[2]


def test_configuration_set_publishes_to_the_pipeline_topic(template: Template) -> None:
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
                "SnsDestination": {
                    "TopicARN": {"Ref": Match.string_like_regexp(r"^BouncesSesEvents[0-9A-F]{8}$")}
                },
            }
        },
    )


def test_ses_may_use_the_events_topic_key(template: Template) -> None:
    key = next(
        v for k, v in template.find_resources("AWS::KMS::Key").items() if k.startswith("BouncesDataKey")
    )
    ses_statements = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s["Principal"] == {"Service": "ses.amazonaws.com"}
    ]
    assert len(ses_statements) == 1
    assert set(ses_statements[0]["Condition"]) == {"StringEquals", "ArnLike"}


def test_processor_configuration_and_grants(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "lambda_handlers.bounce_processor.handler.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "SUPPRESSION_TABLE_NAME": {
                            "Ref": Match.string_like_regexp("BouncesSuppressionTable")
                        },
                        "SOFT_BOUNCE_TABLE_NAME": {"Ref": Match.string_like_regexp("BouncesSoftBounceTable")},
                        "SOFT_BOUNCE_THRESHOLD": "3",
                        "SOFT_BOUNCE_WINDOW_HOURS": "72",
                        "ALERT_TOPIC_ARN": {
                            "Ref": Match.string_like_regexp(r"^BouncesSupportAlerts[0-9A-F]{8}$")
                        },
                        "USE_ACCOUNT_SUPPRESSION_LIST": "false",
                    }
                )
            },
        },
    )
    statements = statements_of(template, "BouncesProcessorRole")
    assert actions_on(statements, "BouncesSuppressionTable") == {"dynamodb:PutItem"}
    assert actions_on(statements, "BouncesSoftBounceTable") == {"dynamodb:UpdateItem"}
    assert actions_on(statements, "{'Ref': 'BouncesSupportAlerts") == {"sns:Publish"}
    assert not [s for s in statements if "ses:PutSuppressedDestination" in s["Action"]]


@pytest.mark.parametrize(
    ("metric", "threshold"),
    [
        ("Reputation.BounceRate", 0.05),
        ("Reputation.BounceRate", 0.02),
        ("Reputation.ComplaintRate", 0.001),
        ("Reputation.ComplaintRate", 0.0005),
    ],
)
def test_reputation_alarms_notify_support(template: Template, metric: str, threshold: float) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SES",
            "MetricName": metric,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [{"Ref": Match.string_like_regexp(r"^BouncesSupportAlerts[0-9A-F]{8}$")}],
        },
    )


def test_queue_and_handler_alarms_notify_support(template: Template) -> None:
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    for prefix in ("BouncesQueueDlqDepthAlarm", "BouncesProcessorErrorsAlarm"):
        alarm = next(v for k, v in alarms.items() if k.startswith(prefix))
        assert "{'Ref': 'BouncesSupportAlerts" in str(alarm["Properties"]["AlarmActions"])


def test_alert_topic_lets_cloudwatch_publish_and_mails_support(template: Template) -> None:
    key = next(
        v for k, v in template.find_resources("AWS::KMS::Key").items() if k.startswith("BouncesDataKey")
    )
    principals = [s["Principal"] for s in key["Properties"]["KeyPolicy"]["Statement"]]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": "oncall@example.com", "RedrivePolicy": Match.any_value()},
    )


def test_account_suppression_list_option_grants_put_suppressed_destination() -> None:
    stack = Stack(App(), "Account")
    config = EmailConfigurationSet(stack, "Config")
    BounceHandlingPipeline(stack, "Bounces", configuration_set=config, use_account_suppression_list=True)
    template = Template.from_stack(stack)
    statements = statements_of(template, "BouncesProcessorRole")
    assert any(s["Action"] == "ses:PutSuppressedDestination" for s in statements)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"USE_ACCOUNT_SUPPRESSION_LIST": "true"})}},
    )


def test_fails_listing_every_problem() -> None:
    stack = Stack(App(), "Bad")
    config = EmailConfigurationSet(stack, "Config")
    with pytest.raises(NotificationConfigError) as error:
        BounceHandlingPipeline(
            stack,
            "Bounces",
            configuration_set=config,
            event_types=[ses.EmailSendingEvent.DELIVERY],
            soft_bounce_threshold=0,
            bounce_rate_warning=0.06,
            alert_email="nobody",
        )
    text = "\n".join(error.value.problems)
    for expected in (
        "must include BOUNCE",
        "must include COMPLAINT",
        "soft_bounce_threshold 0",
        "bounce_rate_warning 0.06",
        "alert_email 'nobody'",
    ):
        assert expected in text


def test_ses_destination_and_subscriptions_wait_for_their_policies(template: Template) -> None:
    # SES checks it may publish when the destination is created; SNS likewise for the queue policy.
    destination = next(iter(template.find_resources("AWS::SES::ConfigurationSetEventDestination").values()))
    assert any(d.startswith("BouncesSesEventsPolicy") for d in destination["DependsOn"])
    for subscription in template.find_resources(
        "AWS::SNS::Subscription", {"Properties": {"Protocol": "sqs"}}
    ).values():
        assert any("QueuePolicy" in d for d in subscription["DependsOn"])


def test_reputation_alarms_ignore_missing_data_and_the_others_do_not(template: Template) -> None:
    # GIVEN the pipeline's alarms   THEN hours without sends keep the reputation alarms in their state,
    # while queue and function alarms (whose metrics are missing when all is well) treat it as OK
    for logical_id, alarm in template.find_resources("AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        expected = "ignore" if props.get("Namespace") == "AWS/SES" else "notBreaching"
        assert props["TreatMissingData"] == expected, logical_id


def test_undeliverable_support_alerts_raise_an_alarm() -> None:
    # GIVEN a pipeline mailing support
    stack = Stack(App(), "AlertDlq")
    config = EmailConfigurationSet(stack, "Config")
    bounces = BounceHandlingPipeline(
        stack, "Bounces", configuration_set=config, alert_email="oncall@example.com"
    )
    template = Template.from_stack(stack)
    # THEN the e-mail subscription's DLQ has a depth alarm, exposed and listed in alarms
    assert bounces.alert_delivery_dlq is not None
    assert bounces.alert_delivery_dlq_alarm is not None
    assert bounces.alert_delivery_dlq_alarm in bounces.alarms
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [
                {
                    "Name": "QueueName",
                    "Value": {
                        "Fn::GetAtt": [Match.string_like_regexp("BouncesAlertDeliveryDlq"), "QueueName"]
                    },
                }
            ],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [{"Ref": Match.string_like_regexp(r"^BouncesSupportAlerts[0-9A-F]{8}$")}],
        },
    )


def test_without_alert_email_there_is_no_alert_delivery_dlq() -> None:
    stack = Stack(App(), "NoAlertMail")
    bounces = BounceHandlingPipeline(stack, "Bounces", configuration_set=EmailConfigurationSet(stack, "C"))
    assert bounces.alert_delivery_dlq is None and bounces.alert_delivery_dlq_alarm is None
    assert bounces.alarms == bounces.reputation_alarms


def test_ses_may_publish_only_for_the_configuration_set(template: Template) -> None:
    # GIVEN the events topic   THEN its key and topic policies name the configuration set, not ses:*
    documents = [
        v["Properties"]["KeyPolicy"]
        for k, v in template.find_resources("AWS::KMS::Key").items()
        if k.startswith("BouncesDataKey")
    ] + [
        v["Properties"]["PolicyDocument"]
        for k, v in template.find_resources("AWS::SNS::TopicPolicy").items()
        if k.startswith("BouncesSesEventsPolicy")
    ]
    ses_statements = [
        s
        for document in documents
        for s in document["Statement"]
        if s.get("Principal") == {"Service": "ses.amazonaws.com"}
    ]
    assert len(ses_statements) == 3  # key, topic (ours) + aws-cdk-lib's event-destination statement
    for statement in ses_statements:
        assert ":configuration-set/" in str(statement["Condition"])
        assert "':*'" not in str(statement["Condition"])


def test_one_key_encrypts_topics_queues_tables_and_logs_and_sns_is_scoped_to_this_stack(
    template: Template,
) -> None:
    # GIVEN the pipeline with its own key (and an alert e-mail, so an alert-delivery DLQ)
    used = [
        render(resource["Properties"][prop])
        for type_, prop in (
            ("AWS::SNS::Topic", "KmsMasterKeyId"),
            ("AWS::SQS::Queue", "KmsMasterKeyId"),
            ("AWS::Logs::LogGroup", "KmsKeyId"),
        )
        for logical_id, resource in template.find_resources(type_).items()
        if logical_id.startswith("Bounces")
    ]
    # THEN both topics, the queue, its DLQ, the alert-delivery DLQ and the log group use DataKey, the only key
    assert len(used) == 2 + 3 + 1
    assert all(u.startswith("${BouncesDataKey") for u in used), used
    assert [k for k in template.find_resources("AWS::KMS::Key") if k.startswith("Bounces")] == [
        next(k for k in template.find_resources("AWS::KMS::Key") if k.startswith("BouncesDataKey"))
    ]
    # AND SNS may use it only for topics of this stack in this account (a pattern, no reference to a topic:
    # the topics depend on the key)
    statements = sns_key_statements(template, "BouncesDataKey")
    assert statements
    for statement in statements:
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        assert render(statement["Condition"]["ArnLike"]["aws:SourceArn"]) == (
            "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-*"
        )
