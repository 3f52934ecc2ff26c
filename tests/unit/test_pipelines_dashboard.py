"""PipelinesDashboard: queue, function and SES reputation widgets per stage, handler counts, the pipelines'
alarms, and each alarm's threshold on the graph it watches."""

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk.assertions import Template

from notification_constructs import (
    BounceHandlingPipeline,
    EmailConfigurationSet,
    OrderConfirmationPipeline,
    PipelinesDashboard,
    SenderIdentity,
)

STAGES = ("Order writer", "Order e-mails", "SES events")

Built = tuple[OrderConfirmationPipeline, BounceHandlingPipeline, Template, list[dict[str, Any]]]


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


def _threshold(template: Template, alarm: cloudwatch.Alarm) -> float:
    """The threshold of ``alarm`` as synthesized (its AWS::CloudWatch::Alarm resource)."""
    logical_id = Stack.of(alarm).get_logical_id(alarm.node.default_child)  # type: ignore[arg-type]
    resource = template.find_resources("AWS::CloudWatch::Alarm")[Stack.of(alarm).resolve(logical_id)]
    return float(resource["Properties"]["Threshold"])


def _annotations(widget: dict[str, Any]) -> list[tuple[float, str]]:
    return [(a["value"], a["yAxis"]) for a in widget["properties"]["annotations"]["horizontal"]]


def _function_env(template: Template, handler_prefix: str) -> dict[str, Any]:
    return next(
        f["Properties"]["Environment"]["Variables"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"].startswith(handler_prefix)
    )


@pytest.fixture(scope="module")
def both() -> Built:
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
    template = Template.from_stack(stack)
    return orders, bounces, template, _widgets(template)


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_has_a_queue_and_a_function_widget(both: Built, stage: str) -> None:
    _, _, _, widgets = both
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


def test_stage_graphs_show_the_thresholds_of_their_alarms_on_the_axis_of_the_metric(both: Built) -> None:
    # GIVEN both pipelines on a dashboard
    orders, bounces, template, widgets = both
    titles = _by_title(widgets)
    for title, queue, consumer in (
        ("Order writer", orders.writer_queue, orders.writer),
        ("Order e-mails", orders.email_queue, orders.email_sender),
        ("SES events", bounces.queue, bounces.processor),
    ):
        # WHEN the queue and function graphs are read   THEN each alarm's synthesized threshold is drawn:
        # DLQ depth on the left (depth axis), message age on the right (age axis)
        assert _annotations(titles[f"{title}: queue"]) == [
            (_threshold(template, queue.dlq_depth_alarm), "left"),
            (_threshold(template, queue.oldest_message_age_alarm), "right"),
        ]
        assert _annotations(titles[f"{title}: function"]) == [
            (_threshold(template, consumer.errors_alarm), "left"),
            (_threshold(template, consumer.throttles_alarm), "left"),
        ]


@pytest.mark.parametrize("metric", ["BounceRate", "ComplaintRate"])
def test_reputation_widgets_show_the_warning_and_review_alarm_thresholds(both: Built, metric: str) -> None:
    _, bounces, template, widgets = both
    properties = _by_title(widgets)[f"SES Reputation.{metric}"]["properties"]
    assert properties["metrics"][0][:2] == ["AWS/SES", f"Reputation.{metric}"]
    warning, review = (
        (bounces.bounce_rate_warning_alarm, bounces.bounce_rate_alarm)
        if metric == "BounceRate"
        else (bounces.complaint_rate_warning_alarm, bounces.complaint_rate_alarm)
    )
    assert _annotations(_by_title(widgets)[f"SES Reputation.{metric}"]) == [
        (_threshold(template, warning), "left"),
        (_threshold(template, review), "left"),
    ]
    # the review thresholds are the SES ones (5% bounces, 0.1% complaints)
    assert _threshold(template, review) == {"BounceRate": 0.05, "ComplaintRate": 0.001}[metric]


#: The handler package that emits each count (lambda_handlers/<package>).
EMITTED_BY = {
    "OrderStored": "order_writer",
    "ConfirmationSent": "order_email_sender",
    "RecipientSuppressed": "order_email_sender",
    "DuplicateSkipped": "order_email_sender",
    "AddressSuppressed": "bounce_processor",
    "SoftBounceRecorded": "bounce_processor",
    "AlertRaised": "bounce_processor",
    "AlertPublishFailed": "bounce_processor",
}


@pytest.mark.parametrize(
    ("title", "names"),
    [
        (
            "Order confirmations",
            # the dead-lettered sum reads DeadLettered of the writer and of the sender
            [
                "OrderStored",
                "ConfirmationSent",
                "RecipientSuppressed",
                "DuplicateSkipped",
                "DeadLettered",
                "DeadLettered",
            ],
        ),
        (
            "Bounce handling",
            ["AddressSuppressed", "SoftBounceRecorded", "AlertRaised", "AlertPublishFailed", "DeadLettered"],
        ),
    ],
)
def test_handler_count_widgets_read_the_namespace_and_service_the_functions_emit_with(
    both: Built, title: str, names: list[str]
) -> None:
    # GIVEN the handler-count graph of a pipeline, and the Powertools settings of every function
    _, _, template, widgets = both
    functions = {
        f["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]: (
            f["Properties"]["Handler"],
            f["Properties"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"],
        )
        for f in template.find_resources("AWS::Lambda::Function").values()
        if "POWERTOOLS_SERVICE_NAME" in f["Properties"].get("Environment", {}).get("Variables", {})
    }
    metrics = [m for m in _by_title(widgets)[title]["properties"]["metrics"] if len(m) >= 4]
    # THEN it shows the EMF metrics by name (the dead-lettered sum reads one metric per handler) ...
    assert sorted(m[1] for m in metrics) == sorted(names)
    for namespace, name, dimension, service, *_ in metrics:
        # ... each in the namespace and with the service dimension its emitting function's Powertools
        # settings give it
        assert dimension == "service", name
        handler, function_namespace = functions[service]
        assert namespace == function_namespace, name
        if name in EMITTED_BY:
            assert handler.startswith(f"lambda_handlers.{EMITTED_BY[name]}."), name


def test_order_dead_letters_are_the_sum_of_both_handlers(both: Built) -> None:
    _, _, _, widgets = both
    metrics = _by_title(widgets)["Order confirmations"]["properties"]["metrics"]
    [expression] = [m for m in metrics if "expression" in m[0]]
    assert expression[0]["expression"] == "FILL(writer, 0) + FILL(sender, 0)"
    services = sorted(m[3] for m in metrics if len(m) >= 4 and m[1] == "DeadLettered")
    assert services == ["order_email_sender", "order_writer"]


def test_alarm_widget_lists_every_alarm_of_both_pipelines(both: Built) -> None:
    orders, bounces, template, widgets = both
    expected = [*orders.all_alarms, *bounces.all_alarms]
    [alarm_widget] = [w for w in widgets if w["type"] == "alarm"]
    assert alarm_widget["properties"]["title"] == "Alarms"
    # every alarm of the stack, each once
    assert len(alarm_widget["properties"]["alarms"]) == len(expected)
    assert len(expected) == len(template.find_resources("AWS::CloudWatch::Alarm"))
    assert bounces.alert_delivery_dlq_alarm in expected
    # AND the alert-delivery DLQ alarm has its own alarm widget (metric and threshold)
    [undelivered] = [w for w in widgets if w["properties"].get("title") == "Support alerts not delivered"]
    assert undelivered["properties"]["annotations"]["alarms"] == ["<ref>"]


def test_bounce_pipeline_alone_gets_only_its_own_widgets() -> None:
    # GIVEN only the bounce pipeline (no alert e-mail)   WHEN a dashboard is built   THEN no order stage
    stack = Stack(App(), "BouncesOnly")
    bounces = BounceHandlingPipeline(stack, "Bounces", configuration_set=EmailConfigurationSet(stack, "C"))
    PipelinesDashboard(stack, "Dashboard", bounce_pipeline=bounces, dashboard_name="mail")
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardName": "mail"})
    titles = set(_by_title(_widgets(template)))
    assert titles == {
        "SES events: queue",
        "SES events: function",
        "Bounce handling",
        "SES Reputation.BounceRate",
        "SES Reputation.ComplaintRate",
        "Alarms",
    }
