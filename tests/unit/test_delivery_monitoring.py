"""DeliveryMonitoring: a CloudWatch event destination with the flow message-tag dimension, per-flow alarms on
rejects, rendering failures and delivery delays, per-flow metrics and the dashboard widgets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ses as ses
from aws_cdk.assertions import Match, Template

from notification_constructs import EmailConfigurationSet, NotificationConfigError, NotificationTopic
from notification_constructs.delivery_monitoring import DeliveryMonitoring
from tests.support.validators import add_nag_packs, cfn_lint, synth_with_nag

FLOWS = ["registration-verification", "order-confirmation"]


@pytest.fixture(scope="module")
def built() -> tuple[Template, DeliveryMonitoring, Stack]:
    stack = Stack(App(), "Monitored")
    config = EmailConfigurationSet(stack, "Config", configuration_set_name="transactional")
    alerts = NotificationTopic(stack, "Alerts")
    dashboard = cloudwatch.Dashboard(stack, "Dashboard")
    monitoring = DeliveryMonitoring(
        stack, "Delivery", configuration_set=config, flows=FLOWS, alarm_topic=alerts, dashboard=dashboard
    )
    return Template.from_stack(stack), monitoring, stack


@pytest.fixture(scope="module")
def template(built: tuple[Template, DeliveryMonitoring, Stack]) -> Template:
    return built[0]


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    """The per-flow alarms (the topic has alarms of its own)."""
    found = template.find_resources("AWS::CloudWatch::Alarm", {"Properties": {"Namespace": "AWS/SES"}})
    return {k: v["Properties"] for k, v in found.items()}


def _logical_id(template: Template, resource_type: str, prefix: str) -> str:
    [logical_id] = [k for k in template.find_resources(resource_type) if k.startswith(prefix)]
    return logical_id


def test_the_destination_counts_events_by_flow_and_configuration_set(template: Template) -> None:
    # GIVEN the monitored configuration set THEN its CloudWatch destination has both message-tag dimensions
    template.has_resource_properties(
        "AWS::SES::ConfigurationSetEventDestination",
        {
            "ConfigurationSetName": {"Ref": Match.string_like_regexp("^Config")},
            "EventDestination": {
                "Enabled": True,
                "MatchingEventTypes": [
                    "send",
                    "delivery",
                    "bounce",
                    "complaint",
                    "reject",
                    "renderingFailure",
                    "deliveryDelay",
                ],
                "CloudWatchDestination": {
                    "DimensionConfigurations": [
                        {
                            "DimensionName": "flow",
                            "DimensionValueSource": "messageTag",
                            "DefaultDimensionValue": "untagged",
                        },
                        {
                            "DimensionName": "ses:configuration-set",
                            "DimensionValueSource": "messageTag",
                            "DefaultDimensionValue": "none",
                        },
                    ]
                },
            },
        },
    )


def test_each_flow_has_three_alarms_on_its_own_dimensions(template: Template) -> None:
    # GIVEN the alarms WHEN grouped by flow and metric
    alarms = _alarms(template)
    config = _logical_id(template, "AWS::SES::ConfigurationSet", "Config")
    topic = _logical_id(template, "AWS::SNS::Topic", "Alerts")
    seen = {}
    for alarm in alarms.values():
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        seen[(dimensions["flow"], alarm["MetricName"])] = (alarm, dimensions)
    # THEN every flow alarms on Reject, RenderingFailure and DeliveryDelay, per 5 minutes, to the topic
    assert sorted(seen) == sorted(
        (flow, metric) for flow in FLOWS for metric in ("Reject", "RenderingFailure", "DeliveryDelay")
    )
    for (flow, metric), (alarm, dimensions) in seen.items():
        assert alarm["Namespace"] == "AWS/SES"
        assert alarm["Statistic"] == "Sum"
        assert alarm["Period"] == 300
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["Threshold"] == (5 if metric == "DeliveryDelay" else 1)
        assert dimensions["ses:configuration-set"] == {"Ref": config}
        assert alarm["AlarmActions"] == [{"Ref": topic}]
        assert flow in alarm["AlarmDescription"]


def test_the_alarms_are_exposed_by_flow(built: tuple[Template, DeliveryMonitoring, Stack]) -> None:
    # GIVEN the construct THEN flow_alarms and alarms hold the same six alarms, ids per flow
    _, monitoring, _ = built
    assert sorted(monitoring.flow_alarms) == sorted(FLOWS)
    assert all(
        sorted(a) == ["DeliveryDelay", "Reject", "RenderingFailure"] for a in monitoring.flow_alarms.values()
    )
    assert len(monitoring.alarms) == 6
    assert monitoring.flow_alarms["order-confirmation"]["Reject"].node.path == (
        "Monitored/Delivery/Alarms/order-confirmation/Reject"
    )


def test_metrics_name_the_flow_and_configuration_set(
    built: tuple[Template, DeliveryMonitoring, Stack],
) -> None:
    # GIVEN a flow's metrics WHEN resolved
    _, monitoring, stack = built
    metric = monitoring.metric_delivery("order-confirmation", period=Duration.hours(1))
    dimensions = stack.resolve(metric.dimensions)
    # THEN they read AWS/SES with the destination's two dimensions
    assert (metric.namespace, metric.metric_name, metric.statistic) == ("AWS/SES", "Delivery", "Sum")
    assert metric.period.to_seconds() == 3600
    assert dimensions["flow"] == "order-confirmation"
    assert dimensions["ses:configuration-set"] == {
        "Ref": _logical_id(built[0], "AWS::SES::ConfigurationSet", "Config")
    }
    names = [
        m(FLOWS[0]).metric_name
        for m in (
            monitoring.metric_send,
            monitoring.metric_bounce,
            monitoring.metric_complaint,
            monitoring.metric_reject,
            monitoring.metric_rendering_failure,
            monitoring.metric_delivery_delay,
        )
    ]
    assert names == ["Send", "Bounce", "Complaint", "Reject", "RenderingFailure", "DeliveryDelay"]


def test_the_dashboard_shows_each_flow_and_its_alarms(template: Template) -> None:
    # GIVEN the dashboard the construct added its widgets to
    [dashboard] = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    # THEN each flow has its two graphs and the alarm-status widget lists the alarms
    for flow in FLOWS:
        assert f"{flow}: sent and delivered" in body
        assert f"{flow}: failures" in body
    assert "Flow alarms" in body
    assert body.count("RenderingFailure") >= len(FLOWS)


def test_an_imported_configuration_set_and_another_tag_work() -> None:
    # GIVEN an imported configuration set and a tag of one's own WHEN monitored
    stack = Stack(App(), "Imported")
    config = ses.ConfigurationSet.from_configuration_set_name(stack, "Config", "marketing")
    monitoring = DeliveryMonitoring(
        stack,
        "Delivery",
        configuration_set=config,
        flows=["newsletter"],
        tag_name="campaign",
        default_flow="none",
    )
    template = Template.from_stack(stack)
    # THEN the destination uses that tag and the metrics the set's name
    template.has_resource_properties(
        "AWS::SES::ConfigurationSetEventDestination",
        {
            "ConfigurationSetName": "marketing",
            "EventDestination": {
                "CloudWatchDestination": {
                    "DimensionConfigurations": Match.array_with(
                        [
                            {
                                "DimensionName": "campaign",
                                "DimensionValueSource": "messageTag",
                                "DefaultDimensionValue": "none",
                            }
                        ]
                    )
                }
            },
        },
    )
    assert stack.resolve(monitoring.metric_reject("newsletter").dimensions) == {
        "campaign": "newsletter",
        "ses:configuration-set": "marketing",
    }
    template.resource_count_is("AWS::CloudWatch::Alarm", 3)


def test_fails_listing_every_misconfiguration() -> None:
    # GIVEN duplicate and invalid flows, an SES auto-tag, events without the alarmed ones, a zero
    # threshold and a period SES does not publish in
    stack = Stack(App(), "Bad")
    config = EmailConfigurationSet(stack, "Config")
    with pytest.raises(NotificationConfigError) as caught:
        DeliveryMonitoring(
            stack,
            "Delivery",
            configuration_set=config,
            flows=["ok", "ok", "not a tag"],
            tag_name="ses:configuration-set",
            event_types=[ses.EmailSendingEvent.SEND, ses.EmailSendingEvent.REJECT],
            delivery_delay_threshold=0,
            period=Duration.seconds(90),
        )
    # THEN one error lists every problem, with the construct path
    problems = caught.value.problems
    assert all(p.startswith("[Bad/Delivery]") for p in problems)
    for expected in (
        "flows: contains duplicates",
        "flows: 'not a tag' is not an SES tag",
        "tag_name: 'ses:configuration-set' is an SES auto-tag",
        "missing ['RenderingFailure', 'DeliveryDelay']",
        "delivery_delay_threshold: must be positive",
        "period: a whole number of minutes",
    ):
        assert any(expected in p for p in problems), (expected, problems)
    assert len(problems) == 6


def test_fails_without_flows() -> None:
    # GIVEN no flow WHEN monitored THEN the error asks for one
    stack = Stack(App(), "NoFlows")
    with pytest.raises(NotificationConfigError, match=r"flows: name at least one flow"):
        DeliveryMonitoring(
            stack, "Delivery", configuration_set=EmailConfigurationSet(stack, "Config"), flows=[]
        )


def test_cdk_nag_and_cfn_lint_are_clean() -> None:
    # GIVEN monitoring in a stack under both nag packs WHEN synthesized THEN no findings, cfn-lint quiet
    app = App()
    stack = Stack(app, "Nag")
    config = EmailConfigurationSet(stack, "Config")
    DeliveryMonitoring(
        stack,
        "Delivery",
        configuration_set=config,
        flows=FLOWS,
        alarm_topic=NotificationTopic(stack, "Alerts"),
    )
    add_nag_packs(app)
    assembly, _ = synth_with_nag(app)
    assert cfn_lint(dict(assembly.get_stack_by_name("Nag").template)) == []
