"""PipelinesDashboard: one CloudWatch dashboard for the order-confirmation and bounce-handling pipelines."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from notification_constructs.processing_queue import ProcessingQueue
from notification_constructs.queue_consumer_function import QueueConsumerFunction

from .bounce_handling_pipeline import BounceHandlingPipeline
from .order_confirmation_pipeline import OrderConfirmationPipeline

__all__ = ["PipelinesDashboard"]

_PERIOD = Duration.minutes(5)


def _stage_widgets(
    title: str, queue: ProcessingQueue, consumer: QueueConsumerFunction
) -> list[cloudwatch.IWidget]:
    """Queue and function graphs of one stage, each alarm's threshold drawn on the axis of its metric."""
    return [
        cloudwatch.GraphWidget(
            title=f"{title}: queue",
            left=[
                queue.metric_approximate_number_of_messages_visible(
                    period=_PERIOD, statistic="Maximum", label="Queue depth"
                ),
                queue.metric_dead_letter_queue_depth(period=_PERIOD).with_(label="DLQ depth"),
            ],
            left_annotations=[queue.dlq_depth_alarm.to_annotation()],
            right=[queue.metric_oldest_message_age(period=_PERIOD)],
            right_annotations=[queue.oldest_message_age_alarm.to_annotation()],
            width=12,
        ),
        cloudwatch.GraphWidget(
            title=f"{title}: function",
            left=[
                consumer.metric_invocations(period=_PERIOD),
                consumer.metric_errors(period=_PERIOD),
                consumer.metric_throttles(period=_PERIOD),
            ],
            left_annotations=[
                consumer.errors_alarm.to_annotation(),
                consumer.throttles_alarm.to_annotation(),
            ],
            right=[consumer.metric_duration(period=_PERIOD, statistic="p95")],
            width=12,
        ),
    ]


class PipelinesDashboard(Construct):
    """A CloudWatch dashboard of the pipelines, built from their public ``metric_*`` methods and alarms.

    Per stage: queue depth, DLQ depth and oldest-message age (the queue's ``metric_*``), invocations,
    errors, throttles and p95 duration (the function's); per pipeline its handlers' counts (the pipeline's
    ``metric_*``: confirmations sent, recipients suppressed, orders stored, suppressions, alerts,
    dead-lettered records); the SES reputation rates (``metric_bounce_rate`` / ``metric_complaint_rate``);
    the alert-delivery DLQ alarm (with ``alert_email``); and the status of every alarm of both pipelines
    (their ``all_alarms``). Each graph watched by an alarm shows the alarm's threshold
    (``Alarm.to_annotation()``).

    Child ids (a public contract): ``Dashboard``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        order_pipeline: OrderConfirmationPipeline | None = None,
        bounce_pipeline: BounceHandlingPipeline | None = None,
        dashboard_name: str | None = None,
    ) -> None:
        """
        :param order_pipeline: Default: - no order-confirmation widgets.
        :param bounce_pipeline: Default: - no bounce-handling and reputation widgets.
        :param dashboard_name: Default: - a generated name.
        """
        super().__init__(scope, id)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name)
        alarms: list[cloudwatch.IAlarm] = []
        if order_pipeline is not None:
            orders = order_pipeline
            for title, queue, consumer in (
                ("Order writer", orders.writer_queue, orders.writer),
                ("Order e-mails", orders.email_queue, orders.email_sender),
            ):
                self.dashboard.add_widgets(*_stage_widgets(title, queue, consumer))
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Order confirmations",
                    left=[
                        orders.metric_orders_stored(label="Orders stored"),
                        orders.metric_confirmations_sent(label="Confirmations sent"),
                        orders.metric_recipients_suppressed(label="Recipients suppressed"),
                        orders.metric_duplicates_skipped(label="Duplicates skipped"),
                    ],
                    right=[orders.metric_dead_lettered()],
                    width=24,
                )
            )
            alarms += orders.all_alarms
        if bounce_pipeline is not None:
            bounces = bounce_pipeline
            self.dashboard.add_widgets(*_stage_widgets("SES events", bounces.queue, bounces.processor))
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Bounce handling",
                    left=[
                        bounces.metric_suppressions(label="Addresses suppressed"),
                        bounces.metric_soft_bounces(label="Soft bounces"),
                        bounces.metric_alerts(label="Alerts raised"),
                    ],
                    right=[
                        bounces.metric_alert_publish_failures(label="Alert publish failures"),
                        bounces.metric_dead_lettered(label="Dead-lettered by the processor"),
                    ],
                    width=24,
                )
            )
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="SES Reputation.BounceRate",
                    left=[bounces.metric_bounce_rate()],
                    left_annotations=[
                        bounces.bounce_rate_warning_alarm.to_annotation(),
                        bounces.bounce_rate_alarm.to_annotation(),
                    ],
                    width=12,
                ),
                cloudwatch.GraphWidget(
                    title="SES Reputation.ComplaintRate",
                    left=[bounces.metric_complaint_rate()],
                    left_annotations=[
                        bounces.complaint_rate_warning_alarm.to_annotation(),
                        bounces.complaint_rate_alarm.to_annotation(),
                    ],
                    width=12,
                ),
            )
            if bounces.alert_delivery_dlq_alarm is not None:
                # An alarm widget: the alarm's own metric with its threshold.
                self.dashboard.add_widgets(
                    cloudwatch.AlarmWidget(
                        alarm=bounces.alert_delivery_dlq_alarm, title="Support alerts not delivered", width=24
                    )
                )
            alarms += bounces.all_alarms
        if alarms:
            self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(alarms=alarms, title="Alarms", width=24))
