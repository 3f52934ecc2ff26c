"""PipelinesDashboard: one CloudWatch dashboard for the order-confirmation and bounce-handling pipelines."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from notification_constructs.processing_queue import ProcessingQueue
from notification_constructs.queue_consumer_function import QueueConsumerFunction

from .bounce_handling_pipeline import BOUNCE_RATE_REVIEW, COMPLAINT_RATE_REVIEW, BounceHandlingPipeline
from .order_confirmation_pipeline import OrderConfirmationPipeline

__all__ = ["PipelinesDashboard"]

_PERIOD = Duration.minutes(5)


def _stage_widgets(
    title: str, queue: ProcessingQueue, consumer: QueueConsumerFunction
) -> list[cloudwatch.IWidget]:
    fn = consumer.function
    return [
        cloudwatch.GraphWidget(
            title=f"{title}: queue",
            left=[
                queue.queue.metric_approximate_number_of_messages_visible(
                    period=_PERIOD, statistic="Maximum"
                ),
                queue.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=_PERIOD, statistic="Maximum", label="DLQ depth"
                ),
            ],
            right=[queue.queue.metric_approximate_age_of_oldest_message(period=_PERIOD, statistic="Maximum")],
            width=12,
        ),
        cloudwatch.GraphWidget(
            title=f"{title}: function",
            left=[
                fn.metric_invocations(period=_PERIOD),
                fn.metric_errors(period=_PERIOD),
                fn.metric_throttles(period=_PERIOD),
            ],
            right=[fn.metric_duration(period=_PERIOD, statistic="p95")],
            width=12,
        ),
    ]


class PipelinesDashboard(Construct):
    """A CloudWatch dashboard: queue depth, DLQ depth, message age, invocations/errors/throttles/p95 duration
    of every stage, SES reputation rates against their review thresholds, and the pipelines' alarms.

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
        super().__init__(scope, id)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name)
        alarms: list[cloudwatch.IAlarm] = []
        if order_pipeline is not None:
            for title, queue, consumer in (
                ("Order writer", order_pipeline.writer_queue, order_pipeline.writer),
                ("Order e-mails", order_pipeline.email_queue, order_pipeline.email_sender),
            ):
                self.dashboard.add_widgets(*_stage_widgets(title, queue, consumer))
                alarms += [*queue.alarms, *consumer.alarms]
        if bounce_pipeline is not None:
            self.dashboard.add_widgets(
                *_stage_widgets("SES events", bounce_pipeline.queue, bounce_pipeline.processor)
            )
            reputation = [
                cloudwatch.GraphWidget(
                    title=f"SES {name}",
                    left=[
                        cloudwatch.Metric(
                            namespace="AWS/SES",
                            metric_name=name,
                            statistic="Maximum",
                            period=Duration.hours(1),
                        )
                    ],
                    left_annotations=[
                        cloudwatch.HorizontalAnnotation(value=review, label="SES review threshold")
                    ],
                    width=12,
                )
                for name, review in (
                    ("Reputation.BounceRate", BOUNCE_RATE_REVIEW),
                    ("Reputation.ComplaintRate", COMPLAINT_RATE_REVIEW),
                )
            ]
            self.dashboard.add_widgets(*reputation)
            alarms += [
                *bounce_pipeline.alarms,
                *bounce_pipeline.queue.alarms,
                *bounce_pipeline.processor.alarms,
            ]
        if alarms:
            self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(alarms=alarms, title="Alarms", width=24))
