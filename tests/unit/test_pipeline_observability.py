"""The pipelines' observability API: metric_* methods that read what the handlers emit, and every alarm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ses as ses
from aws_cdk.assertions import Template

from lambda_handlers import contracts
from notification_constructs import (
    BounceHandlingPipeline,
    EmailConfigurationSet,
    OrderConfirmationPipeline,
    SenderIdentity,
)

#: pipeline, metric_* method, the contract metric name, the handler package that emits it
HANDLER_METRICS = [
    ("orders", "metric_orders_stored", contracts.METRIC_ORDER_STORED, "order_writer"),
    ("orders", "metric_confirmations_sent", contracts.METRIC_EMAIL_SENT, "order_email_sender"),
    ("orders", "metric_recipients_suppressed", contracts.METRIC_RECIPIENT_SUPPRESSED, "order_email_sender"),
    ("orders", "metric_duplicates_skipped", contracts.METRIC_DUPLICATE_SKIPPED, "order_email_sender"),
    ("bounces", "metric_suppressions", contracts.METRIC_ADDRESS_SUPPRESSED, "bounce_processor"),
    ("bounces", "metric_soft_bounces", contracts.METRIC_SOFT_BOUNCE_RECORDED, "bounce_processor"),
    ("bounces", "metric_alerts", contracts.METRIC_ALERT, "bounce_processor"),
    ("bounces", "metric_alert_publish_failures", contracts.METRIC_ALERT_PUBLISH_FAILED, "bounce_processor"),
    ("bounces", "metric_dead_lettered", contracts.METRIC_DEAD_LETTERED, "bounce_processor"),
]


@dataclass
class Built:
    orders: OrderConfirmationPipeline
    bounces: BounceHandlingPipeline
    template: Template
    stack: Stack

    def alarm(self, alarm_id: str) -> dict[str, Any]:
        """The properties of the alarm ``alarm_id`` the test stack created on a metric."""
        [props] = [
            v["Properties"]
            for k, v in self.template.find_resources("AWS::CloudWatch::Alarm").items()
            if k.startswith(alarm_id)
        ]
        return dict(props)

    def function(self, handler_package: str) -> dict[str, Any]:
        return next(
            dict(f["Properties"])
            for f in self.template.find_resources("AWS::Lambda::Function").values()
            if f["Properties"]["Handler"].startswith(f"lambda_handlers.{handler_package}.")
        )


@pytest.fixture(scope="module")
def built() -> Built:
    # GIVEN both pipelines, and an alarm of the user's own on each pipeline metric
    stack = Stack(App(), "Observability")
    config = EmailConfigurationSet(stack, "Config")
    bounces = BounceHandlingPipeline(
        stack, "Bounces", configuration_set=config, alert_email="ops@example.com"
    )
    orders = OrderConfirmationPipeline(
        stack,
        "Orders",
        sender=SenderIdentity(stack, "Sender", domain="example.com"),
        configuration_set=config,
        from_address="orders@example.com",
        suppression_table=bounces.suppression_table,
        alarm_topic=bounces.alert_topic,
    )
    pipelines = {"orders": orders, "bounces": bounces}
    for pipeline, method, _, _ in HANDLER_METRICS:
        metric = getattr(pipelines[pipeline], method)()
        metric.create_alarm(
            stack, f"User{method.title().replace('_', '')}", threshold=1, evaluation_periods=1
        )
    orders.metric_dead_lettered().create_alarm(
        stack, "UserOrderDeadLettered", threshold=1, evaluation_periods=1
    )
    bounces.metric_bounce_rate().create_alarm(stack, "UserBounceRate", threshold=0.03, evaluation_periods=1)
    return Built(orders, bounces, Template.from_stack(stack), stack)


@pytest.mark.parametrize(("pipeline", "method", "metric_name", "handler"), HANDLER_METRICS)
def test_handler_metrics_resolve_to_what_the_function_emits(
    built: Built, pipeline: str, method: str, metric_name: str, handler: str
) -> None:
    # WHEN the user's alarm on the metric synthesizes
    alarm = built.alarm(f"User{method.title().replace('_', '')}")
    env = built.function(handler)["Environment"]["Variables"]
    # THEN it reads the contract metric name in the function's EMF namespace, with the service dimension
    # Powertools adds (POWERTOOLS_SERVICE_NAME), as a count per 5 minutes
    assert alarm["MetricName"] == metric_name
    assert alarm["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}]
    assert (alarm["Statistic"], alarm["Period"]) == ("Sum", 300)


def test_order_dead_letters_sum_both_handlers(built: Built) -> None:
    alarm = built.alarm("UserOrderDeadLettered")
    [expression] = [m for m in alarm["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "FILL(writer, 0) + FILL(sender, 0)"
    stats = {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
    for metric_id, handler in (("writer", "order_writer"), ("sender", "order_email_sender")):
        env = built.function(handler)["Environment"]["Variables"]
        assert stats[metric_id]["Metric"] == {
            "MetricName": contracts.METRIC_DEAD_LETTERED,
            "Namespace": env["POWERTOOLS_METRICS_NAMESPACE"],
            "Dimensions": [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}],
        }


def test_reputation_metrics_are_the_account_rates_the_pipeline_alarms_watch(built: Built) -> None:
    alarm = built.alarm("UserBounceRate")
    assert (alarm["Namespace"], alarm["MetricName"], alarm.get("Dimensions")) == (
        "AWS/SES",
        "Reputation.BounceRate",
        None,
    )
    own = built.alarm("BouncesBounceRateAlarm")
    assert (own["MetricName"], own["Statistic"], own["Period"]) == (
        alarm["MetricName"],
        alarm["Statistic"],
        alarm["Period"],
    )


def test_reputation_metrics_of_an_imported_configuration_set_are_the_same_account_rates() -> None:
    # GIVEN a pipeline on an imported configuration set   WHEN its rate metrics are read
    stack = Stack(App(), "ImportedRates")
    imported = ses.ConfigurationSet.from_configuration_set_name(stack, "Shared", "shared")
    bounces = BounceHandlingPipeline(stack, "Bounces", configuration_set=imported)
    ours = EmailConfigurationSet(stack, "Config")
    # THEN they are the account-level AWS/SES rates, the same as an EmailConfigurationSet's
    for mine, reference in (
        (bounces.metric_bounce_rate(), ours.metric_reputation_bounce_rate()),
        (bounces.metric_complaint_rate(), ours.metric_reputation_complaint_rate()),
    ):
        assert (mine.namespace, mine.metric_name, mine.dimensions, mine.statistic) == (
            reference.namespace,
            reference.metric_name,
            reference.dimensions,
            reference.statistic,
        )
        assert mine.period.to_seconds() == reference.period.to_seconds() == Duration.hours(1).to_seconds()


def _logical_ids(stack: Stack, alarms: list[cloudwatch.Alarm]) -> list[str]:
    return [stack.resolve(stack.get_logical_id(a.node.default_child)) for a in alarms]  # type: ignore[arg-type]


def test_all_alarms_lists_every_alarm_each_pipeline_creates(built: Built) -> None:
    # GIVEN every alarm of the stack except the user's own
    created = {k for k in built.template.find_resources("AWS::CloudWatch::Alarm") if not k.startswith("User")}
    orders = _logical_ids(built.stack, built.orders.all_alarms)
    bounces = _logical_ids(built.stack, built.bounces.all_alarms)
    # THEN the two pipelines' all_alarms partition them, each alarm once, under the pipeline's path
    assert len(orders) == len(set(orders)) and len(bounces) == len(set(bounces))
    assert set(orders) | set(bounces) == created and not set(orders) & set(bounces)
    assert all(i.startswith("Orders") for i in orders) and all(i.startswith("Bounces") for i in bounces)
    # AND the stages' and the named alarms are among them
    assert built.orders.email_sender.errors_alarm in built.orders.all_alarms
    assert built.bounces.queue.dlq_depth_alarm in built.bounces.all_alarms
    assert built.bounces.alert_delivery_dlq_alarm in built.bounces.all_alarms


def test_named_reputation_alarms_have_the_warning_and_review_thresholds(built: Built) -> None:
    b = built.bounces
    named = {
        "BouncesBounceRateWarningAlarm": b.bounce_rate_warning_alarm,
        "BouncesBounceRateAlarm": b.bounce_rate_alarm,
        "BouncesComplaintRateWarningAlarm": b.complaint_rate_warning_alarm,
        "BouncesComplaintRateAlarm": b.complaint_rate_alarm,
    }
    for prefix, alarm in named.items():
        [logical_id] = _logical_ids(built.stack, [alarm])
        assert logical_id.startswith(prefix) and logical_id[len(prefix) :].isalnum()
    thresholds = [built.alarm(p)["Threshold"] for p in named]
    assert thresholds == [0.02, 0.05, 0.0005, 0.001]
    assert b.reputation_alarms == list(named.values())
