"""PipelinesDashboard: queue, function and SES reputation widgets per stage, and the pipelines' alarms."""

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from notification_constructs import (
    BounceHandlingPipeline,
    EmailConfigurationSet,
    OrderConfirmationPipeline,
    PipelinesDashboard,
    SenderIdentity,
)

STAGES = ("Order writer", "Order e-mails", "SES events")


def _widgets(template: Template) -> list[dict[str, Any]]:
    """The widgets of the (only) dashboard, with every deploy-time reference replaced by ``<ref>``."""
    [dashboard] = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    text = "".join(p if isinstance(p, str) else "<ref>" for p in parts)
    widgets: list[dict[str, Any]] = json.loads(text)["widgets"]
    return widgets


def _by_title(widgets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {w["properties"]["title"]: w for w in widgets}


@pytest.fixture(scope="module")
def both() -> tuple[OrderConfirmationPipeline, BounceHandlingPipeline, list[dict[str, Any]]]:
    stack = Stack(App(), "Dashboards")
    config = EmailConfigurationSet(stack, "Config")
    sender = SenderIdentity(stack, "Sender", domain="example.com")
    bounces = BounceHandlingPipeline(
        stack, "Bounces", configuration_set=config, alert_email="ops@example.com"
    )
    orders = OrderConfirmationPipeline(
        stack,
        "Orders",
        sender=sender,
        configuration_set=config,
        from_address="orders@example.com",
        suppression_table=bounces.suppression_table,
    )
    PipelinesDashboard(stack, "Dashboard", order_pipeline=orders, bounce_pipeline=bounces)
    return orders, bounces, _widgets(Template.from_stack(stack))


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_has_a_queue_and_a_function_widget(
    both: tuple[OrderConfirmationPipeline, BounceHandlingPipeline, list[dict[str, Any]]], stage: str
) -> None:
    _, _, widgets = both
    titles = _by_title(widgets)
    queue = [m[1] for m in titles[f"{stage}: queue"]["properties"]["metrics"]]
    assert queue == [
        "ApproximateNumberOfMessagesVisible",  # queue depth
        "ApproximateNumberOfMessagesVisible",  # DLQ depth
        "ApproximateAgeOfOldestMessage",
    ]
    function = titles[f"{stage}: function"]["properties"]["metrics"]
    assert [m[1] for m in function] == ["Invocations", "Errors", "Throttles", "Duration"]
    assert function[-1][-1]["stat"] == "p95"


@pytest.mark.parametrize(("metric", "review"), [("BounceRate", 0.05), ("ComplaintRate", 0.001)])
def test_reputation_widgets_show_the_ses_review_threshold(
    both: tuple[OrderConfirmationPipeline, BounceHandlingPipeline, list[dict[str, Any]]],
    metric: str,
    review: float,
) -> None:
    _, _, widgets = both
    properties = _by_title(widgets)[f"SES Reputation.{metric}"]["properties"]
    assert properties["metrics"][0][:2] == ["AWS/SES", f"Reputation.{metric}"]
    assert properties["annotations"]["horizontal"] == [
        {"value": review, "label": "SES review threshold", "yAxis": "left"}
    ]


def test_alarm_widget_lists_every_alarm_of_both_pipelines(
    both: tuple[OrderConfirmationPipeline, BounceHandlingPipeline, list[dict[str, Any]]],
) -> None:
    orders, bounces, widgets = both
    expected = [
        *orders.writer_queue.alarms,
        *orders.writer.alarms,
        *orders.email_queue.alarms,
        *orders.email_sender.alarms,
        *bounces.alarms,
        *bounces.queue.alarms,
        *bounces.processor.alarms,
    ]
    [alarm_widget] = [w for w in widgets if w["type"] == "alarm"]
    assert alarm_widget["properties"]["title"] == "Alarms"
    assert len(alarm_widget["properties"]["alarms"]) == len(expected)
    assert bounces.alert_delivery_dlq_alarm in expected


def test_bounce_pipeline_alone_gets_only_its_own_widgets() -> None:
    # GIVEN only the bounce pipeline   WHEN a dashboard is built   THEN no order stage appears
    stack = Stack(App(), "BouncesOnly")
    bounces = BounceHandlingPipeline(stack, "Bounces", configuration_set=EmailConfigurationSet(stack, "C"))
    PipelinesDashboard(stack, "Dashboard", bounce_pipeline=bounces, dashboard_name="mail")
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardName": "mail"})
    titles = set(_by_title(_widgets(template)))
    assert titles == {
        "SES events: queue",
        "SES events: function",
        "SES Reputation.BounceRate",
        "SES Reputation.ComplaintRate",
        "Alarms",
    }
