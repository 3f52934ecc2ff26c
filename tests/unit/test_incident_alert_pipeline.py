"""IncidentAlertPipeline wiring: intake topic for alarms, on-call fan-out by severity, two event sources,
scoped grants, alarms and DLQs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from notification_constructs import EmailConfigurationSet, NotificationConfigError, SenderIdentity
from notification_constructs.pipelines.incident_alert_pipeline import IncidentAlertPipeline
from tests.unit.pipeline_stack import actions_on, statements_of

PHONES = ("+447700900001", "+447700900002")
ON_CALL = ("oncall@example.com",)


@pytest.fixture(scope="module")
def built() -> tuple[IncidentAlertPipeline, Template]:
    stack = Stack(App(), "Incidents")
    config = EmailConfigurationSet(stack, "Config", configuration_set_name="incidents")
    sender = SenderIdentity(stack, "Sender", domain="example.com")
    pipeline = IncidentAlertPipeline(
        stack,
        "Alerts",
        sender=sender,
        configuration_set=config,
        from_address="Ops <incidents@example.com>",
        stakeholder_emails=["cto@example.com", "support@example.com"],
        on_call_phone_numbers=PHONES,
        on_call_emails=ON_CALL,
        alarm_severities={"checkout-5xx": "critical"},
        acknowledgement_deadline=Duration.minutes(30),
    )
    # A user's alarm tracked by the pipeline
    alarm = cloudwatch.Alarm(
        stack,
        "CheckoutErrors",
        alarm_name="checkout-5xx",
        metric=cloudwatch.Metric(namespace="Shop", metric_name="Errors"),
        threshold=1,
        evaluation_periods=1,
    )
    alarm.add_alarm_action(pipeline.alarm_action)
    alarm.add_ok_action(pipeline.alarm_action)
    pipeline.grant_publish(iam.Role(stack, "App", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com")))
    return pipeline, Template.from_stack(stack)


def _subscriptions(template: Template, protocol: str) -> list[dict[str, Any]]:
    return [
        s["Properties"]
        for s in template.find_resources("AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == protocol
    ]


def test_on_call_sms_only_for_critical_and_email_for_every_severity(
    built: tuple[IncidentAlertPipeline, Template],
) -> None:
    # GIVEN the pipeline with phones and e-mails   THEN SMS filter on critical, e-mail on all, each with a DLQ
    _, template = built
    sms = _subscriptions(template, "sms")
    assert sorted(s["Endpoint"] for s in sms) == sorted(PHONES)
    for subscription in sms:
        assert subscription["FilterPolicy"] == {"severity": ["critical"]}
        assert "deadLetterTargetArn" in subscription["RedrivePolicy"]
    [email] = _subscriptions(template, "email")
    assert email["Endpoint"] == ON_CALL[0]
    assert email["FilterPolicy"] == {"severity": ["critical", "high", "medium", "low"]}
    assert "deadLetterTargetArn" in email["RedrivePolicy"]


def test_cloudwatch_may_publish_to_the_intake_topic_and_alarms_use_it(
    built: tuple[IncidentAlertPipeline, Template],
) -> None:
    # GIVEN a user's alarm with alarm_action   THEN CloudWatch may publish and the alarm notifies the topic
    _, template = built
    [policy] = [
        p["Properties"]
        for p in template.find_resources("AWS::SNS::TopicPolicy").values()
        if "AlertsIncidents" in json.dumps(p["Properties"]["Topics"])
    ]
    principals = [s.get("Principal") for s in policy["PolicyDocument"]["Statement"]]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals
    alarm = next(
        a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("AlarmName") == "checkout-5xx"
    )
    for actions in (alarm["AlarmActions"], alarm["OKActions"]):
        [action] = actions
        assert action["Ref"].startswith("AlertsIncidents")
    # AND the incident queue takes every message of the topic (alarms carry no attributes)
    [intake] = [
        s["Properties"]
        for s in template.find_resources("AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "sqs"
        and "AlertsIncidents" in json.dumps(s["Properties"]["TopicArn"])
    ]
    assert "FilterPolicy" not in intake and "deadLetterTargetArn" in intake["RedrivePolicy"]


def test_one_function_consumes_both_queues_with_partial_batch_responses(
    built: tuple[IncidentAlertPipeline, Template],
) -> None:
    # GIVEN the pipeline   THEN the tracker has two SQS sources with partial batch responses
    _, template = built
    mappings = [m["Properties"] for m in template.find_resources("AWS::Lambda::EventSourceMapping").values()]
    assert len(mappings) == 2
    assert {json.dumps(m["FunctionName"]) for m in mappings} == {json.dumps(mappings[0]["FunctionName"])}
    assert all(m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings)
    assert sorted(m["ScalingConfig"]["MaximumConcurrency"] for m in mappings) == [2, 5]
    sources = sorted(json.dumps(m["EventSourceArn"]) for m in mappings)
    assert "AlertsAcknowledgementDeadlineQueue" in sources[0] and "AlertsQueue" in sources[1]


def test_handler_configuration(built: tuple[IncidentAlertPipeline, Template]) -> None:
    # GIVEN the pipeline   THEN the tracker's environment matches the handler's config
    _, template = built
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "lambda_handlers.incident_tracker.handler.handler",
            "ReservedConcurrentExecutions": 7,
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "INCIDENTS_TABLE_NAME": {"Ref": Match.string_like_regexp("AlertsIncidentsTable")},
                        "ON_CALL_TOPIC_ARN": {"Ref": Match.string_like_regexp("AlertsOnCall")},
                        "ACKNOWLEDGEMENT_DEADLINE_QUEUE_URL": {
                            "Ref": Match.string_like_regexp("AlertsAcknowledgementDeadlineQueue")
                        },
                        "ACKNOWLEDGEMENT_DEADLINE_SECONDS": "1800",
                        "INCIDENT_REPORT_RECIPIENTS": "cto@example.com,support@example.com",
                        "SENDER_ADDRESS": "Ops <incidents@example.com>",
                        "ALARM_SEVERITIES": '{"checkout-5xx":"critical"}',
                        "DEFAULT_ALARM_SEVERITY": "high",
                        "DEAD_LETTER_QUEUE_URL": {
                            "Ref": Match.string_like_regexp("AlertsQueueDeadLetterQueue")
                        },
                        "POWERTOOLS_SERVICE_NAME": "incident_tracker",
                    }
                )
            },
        },
    )


def test_grants_are_scoped(built: tuple[IncidentAlertPipeline, Template]) -> None:
    # GIVEN the tracker's role   THEN each grant names its resource (no '*')
    _, template = built
    statements = statements_of(template, "AlertsTrackerRole")
    assert actions_on(statements, "AlertsIncidentsTable") == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
    }
    assert "sns:Publish" in actions_on(statements, "AlertsOnCall")
    assert "sns:Publish" not in actions_on(statements, "AlertsIncidents")
    assert "sqs:SendMessage" in actions_on(statements, "AlertsAcknowledgementDeadlineQueue")
    [send] = [s for s in statements if s["Action"] == "ses:SendEmail"]
    assert send["Condition"] == {"StringEquals": {"ses:FromAddress": "incidents@example.com"}}
    assert "configuration-set/" in json.dumps(send["Resource"])
    assert not [s for s in statements if s["Resource"] == "*"]


def test_alarms_on_unacknowledged_incidents_dlqs_and_deliveries(
    built: tuple[IncidentAlertPipeline, Template],
) -> None:
    # GIVEN the pipeline   THEN it alarms on UnacknowledgedIncident >= 1, DLQs and failed deliveries
    pipeline, template = built
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "UnacknowledgedIncident",
            "Namespace": "NotificationConstructs",
            "Dimensions": [{"Name": "service", "Value": "incident_tracker"}],
            "Statistic": "Sum",
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )
    assert pipeline.alarms[0] is pipeline.unacknowledged_alarm
    # one DLQ-depth alarm per queue and per on-call subscription, plus failed notifications
    assert len(pipeline.queue.alarms) == len(pipeline.deadline_queue.alarms) == 2
    assert len(pipeline.on_call_topic.alarms) == 1 + len(PHONES) + len(ON_CALL)
    assert set(pipeline.on_call_topic.alarms) <= set(pipeline.alarms)


def test_tables_and_queues_are_encrypted(built: tuple[IncidentAlertPipeline, Template]) -> None:
    # GIVEN the pipeline   THEN the table and every queue use KMS
    _, template = built
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "incident_id", "KeyType": "HASH"}],
            "SSESpecification": Match.object_like({"SSEEnabled": True, "SSEType": "KMS"}),
        },
    )
    for queue in template.find_resources("AWS::SQS::Queue").values():
        assert "KmsMasterKeyId" in queue["Properties"]


def test_fails_listing_every_problem() -> None:
    # GIVEN every prop wrong at once   WHEN the pipeline is created   THEN one error lists them all
    stack = Stack(App(), "Bad")
    config = EmailConfigurationSet(stack, "Config", configuration_set_name="incidents")
    sender = SenderIdentity(stack, "Sender", domain="example.com")
    with pytest.raises(NotificationConfigError) as raised:
        IncidentAlertPipeline(
            stack,
            "Alerts",
            sender=sender,
            configuration_set=config,
            from_address="ops@other.example.net",
            stakeholder_emails=[],
            on_call_phone_numbers=["07700 900001"],
            on_call_emails=["nobody"],
            alarm_severities={"a": "urgent", **{f"alarm-{n:04d}": "low" for n in range(200)}},
            default_alarm_severity="sev1",
            acknowledgement_deadline=Duration.seconds(30),
        )
    message = str(raised.value)
    for fragment in (
        "from_address 'ops@other.example.net' is not covered by the SES identity 'example.com'",
        "stakeholder_emails: give 1 to 50",
        "on_call_phone_numbers: '07700 900001'",
        "on_call_emails: 'nobody'",
        "alarm_severities['a']",
        "fit the function's environment",
        "default_alarm_severity 'sev1'",
        "acknowledgement_deadline: whole seconds from 60 to 86400 (got 30)",
    ):
        assert fragment in message
