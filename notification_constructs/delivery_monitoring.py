"""DeliveryMonitoring: SES event counts per flow (a message tag) in CloudWatch, with alarms per flow."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct

from ._defaults import at_or_above_alarm
from ._validation import Problems, is_token
from .email_configuration_set import CONFIGURATION_SET_DIMENSION

__all__ = ["ALARMED_METRICS", "DEFAULT_FLOW", "MONITORED_EVENT_TYPES", "DeliveryMonitoring"]

#: Counted for every flow: the send outcomes (open / click / subscription need tracking or contact lists).
MONITORED_EVENT_TYPES: tuple[ses.EmailSendingEvent, ...] = (
    ses.EmailSendingEvent.SEND,
    ses.EmailSendingEvent.DELIVERY,
    ses.EmailSendingEvent.BOUNCE,
    ses.EmailSendingEvent.COMPLAINT,
    ses.EmailSendingEvent.REJECT,
    ses.EmailSendingEvent.RENDERING_FAILURE,
    ses.EmailSendingEvent.DELIVERY_DELAY,
)

#: The flow SES counts a message under when it has no ``tag_name`` tag.
DEFAULT_FLOW = "untagged"

#: Alarm (child id) -> the AWS/SES metric and the event type it needs.
ALARMED_METRICS: Mapping[str, tuple[str, ses.EmailSendingEvent]] = {
    "Reject": ("Reject", ses.EmailSendingEvent.REJECT),
    "RenderingFailure": ("RenderingFailure", ses.EmailSendingEvent.RENDERING_FAILURE),
    "DeliveryDelay": ("DeliveryDelay", ses.EmailSendingEvent.DELIVERY_DELAY),
}

# SES message tag names and values: ASCII letters, digits, _ and -, at most 256 characters:
# https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_MessageTag.html
_TAG = re.compile(r"[A-Za-z0-9_-]{1,256}")
_NAMESPACE = "AWS/SES"
_PERIOD = Duration.minutes(5)
_ALARM_TEXT = {
    "Reject": "SES rejected messages (it found a virus) - check what the flow attaches",
    "RenderingFailure": "templated messages were not sent: the template data misses a variable or the "
    "template is invalid (the Rendering Failure event names the template and the error)",
    "DeliveryDelay": "messages are delayed (recipient mailbox full, throttling or DNS problems at the "
    "receiver; SES retries until the message expires)",
}


class DeliveryMonitoring(Construct):
    """SES event counts per *flow* of a configuration set, with alarms on what breaks a flow.

    Adds a CloudWatch event destination to ``configuration_set`` with two message-tag dimensions: the
    ``tag_name`` tag (``flow`` by default: send each message with ``EmailTags=[{"Name": "flow", "Value":
    "registration-verification"}]``; untagged mail counts under ``default_flow``) and
    ``ses:configuration-set`` (the auto-tag SES sets), so two configuration sets with the same flow names
    stay apart. SES then publishes ``AWS/SES`` counts (``Send``, ``Delivery``, ``Bounce``, ``Complaint``,
    ``Reject``, ``RenderingFailure``, ``DeliveryDelay``) for each flow; ``metric_*(flow)`` read them.

    For each of ``flows``, three alarms (at or above the threshold in one ``period``, missing data = OK:
    no mail is no failure): ``Reject``, ``RenderingFailure``, ``DeliveryDelay``; they notify
    ``alarm_topic`` if given. :meth:`widgets` (or ``dashboard=``) shows the counts and alarms per flow.

    Construct ids (a public contract): ``CloudWatchDestination``, ``Alarms/<flow>/<Reject |
    RenderingFailure | DeliveryDelay>``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        configuration_set: ses.IConfigurationSet,
        flows: Sequence[str],
        tag_name: str = "flow",
        default_flow: str = DEFAULT_FLOW,
        event_types: Sequence[ses.EmailSendingEvent] = MONITORED_EVENT_TYPES,
        alarm_topic: sns.ITopic | None = None,
        reject_threshold: float = 1,
        rendering_failure_threshold: float = 1,
        delivery_delay_threshold: float = 5,
        period: Duration = _PERIOD,
        dashboard: cloudwatch.Dashboard | None = None,
    ) -> None:
        """
        :param configuration_set: Any ``ses.IConfigurationSet`` (an :class:`EmailConfigurationSet`, a
            plain or an imported one); its name is the ``ses:configuration-set`` dimension value.
        :param flows: The flows (tag values) to alarm on, e.g. ``["registration-verification",
            "order-confirmation"]``. Other tag values are counted too, without alarms.
        :param tag_name: The message tag naming the flow. Default: ``flow``.
        :param default_flow: The flow of messages without the tag. Default: ``untagged``.
        :param event_types: Events counted. Default: send, delivery, bounce, complaint, reject, rendering
            failure, delivery delay (must include reject, rendering failure and delivery delay, which the
            alarms read).
        :param alarm_topic: Where alarms notify. Default: - no action (the alarms still show).
        :param reject_threshold: Rejects per period that alarm. Default: 1.
        :param rendering_failure_threshold: Rendering failures per period that alarm. Default: 1.
        :param delivery_delay_threshold: Delayed deliveries per period that alarm. Default: 5.
        :param period: Of the metrics and alarms. Default: 5 minutes.
        :param dashboard: Add :meth:`widgets` to this dashboard. Default: - none (call :meth:`widgets`).
        """
        problems = Problems(scope, id)
        problems.check(len(flows) > 0, "flows: name at least one flow to alarm on")
        problems.check(len(set(flows)) == len(flows), f"flows: contains duplicates: {list(flows)}")
        auto_tag = not is_token(tag_name) and tag_name.startswith("ses:")
        problems.check(
            not auto_tag, f"tag_name: {tag_name!r} is an SES auto-tag; flows need a tag of your own"
        )
        names = [] if auto_tag else [("tag_name", tag_name)]
        for label, value in [*names, ("default_flow", default_flow)] + [("flows", flow) for flow in flows]:
            problems.check(
                is_token(value) or _TAG.fullmatch(value) is not None,
                f"{label}: {value!r} is not an SES tag name/value (ASCII letters, digits, _ and -, 1-256)",
            )
        problems.check(len(set(event_types)) == len(event_types), "event_types: contains duplicates")
        missing = [name for name, (_, event) in ALARMED_METRICS.items() if event not in event_types]
        problems.check(not missing, f"event_types: must include the alarmed events, missing {missing}")
        for label, threshold in (
            ("reject_threshold", reject_threshold),
            ("rendering_failure_threshold", rendering_failure_threshold),
            ("delivery_delay_threshold", delivery_delay_threshold),
        ):
            problems.check(threshold > 0, f"{label}: must be positive, got {threshold}")
        if not is_token(period):
            problems.check(
                period.to_seconds() >= 60 and period.to_seconds() % 60 == 0,
                f"period: a whole number of minutes (SES publishes per minute), got {period.to_human_string()}",
            )
        problems.raise_if_any()
        super().__init__(scope, id)

        self.configuration_set = configuration_set
        self.tag_name = tag_name
        self.default_flow = default_flow
        self.flows = tuple(flows)
        self.period = period
        self.cloudwatch_destination = ses.ConfigurationSetEventDestination(
            self,
            "CloudWatchDestination",
            configuration_set=configuration_set,
            destination=ses.EventDestination.cloud_watch_dimensions(
                [
                    ses.CloudWatchDimension(
                        name=tag_name,
                        source=ses.CloudWatchDimensionSource.MESSAGE_TAG,
                        default_value=default_flow,
                    ),
                    ses.CloudWatchDimension(
                        name=CONFIGURATION_SET_DIMENSION,
                        source=ses.CloudWatchDimensionSource.MESSAGE_TAG,
                        default_value="none",
                    ),
                ]
            ),
            events=list(event_types),
        )

        self.thresholds: dict[str, float] = {
            "Reject": reject_threshold,
            "RenderingFailure": rendering_failure_threshold,
            "DeliveryDelay": delivery_delay_threshold,
        }
        alarms = Construct(self, "Alarms")
        #: flow -> alarm name (``Reject`` / ``RenderingFailure`` / ``DeliveryDelay``) -> alarm
        self.flow_alarms: dict[str, dict[str, cloudwatch.Alarm]] = {}
        for flow in self.flows:
            scope_of_flow = Construct(alarms, flow)
            self.flow_alarms[flow] = {
                name: at_or_above_alarm(
                    scope_of_flow,
                    name,
                    metric=self.metric(flow, metric_name),
                    threshold=self.thresholds[name],
                    description=f"{self.node.path}: flow {flow}: {_ALARM_TEXT[name]}.",
                    alarm_topic=alarm_topic,
                )
                for name, (metric_name, _) in ALARMED_METRICS.items()
            }
        if dashboard is not None:
            dashboard.add_widgets(*self.widgets())

    @property
    def alarms(self) -> list[cloudwatch.Alarm]:
        """Every alarm, flow by flow (Reject, RenderingFailure, DeliveryDelay)."""
        return [alarm for by_name in self.flow_alarms.values() for alarm in by_name.values()]

    # -- metrics ----------------------------------------------------------------------------------------
    def metric(
        self,
        flow: str,
        metric_name: str,
        *,
        period: Duration | None = None,
        statistic: str = "Sum",
        label: str | None = None,
    ) -> cloudwatch.Metric:
        """An ``AWS/SES`` event count of one flow: dimensions ``<tag_name>`` = ``flow`` and
        ``ses:configuration-set`` = the configuration set's name (SES publishes each count with every
        dimension of the destination, so a metric names both).

        :param period: Default: ``period`` of the construct (5 minutes).
        :param statistic: Default: Sum (a count per period).
        """
        return cloudwatch.Metric(
            namespace=_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={
                self.tag_name: flow,
                CONFIGURATION_SET_DIMENSION: self.configuration_set.configuration_set_name,
            },
            period=period or self.period,
            statistic=statistic,
            label=label,
        )

    def metric_send(self, flow: str, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Messages of ``flow`` SES accepted (``Send``, Sum). See :meth:`metric`."""
        return self.metric(flow, "Send", period=period)

    def metric_delivery(self, flow: str, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Messages of ``flow`` the recipient's server accepted (``Delivery``, Sum)."""
        return self.metric(flow, "Delivery", period=period)

    def metric_bounce(self, flow: str, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Bounces of ``flow`` (``Bounce``, Sum)."""
        return self.metric(flow, "Bounce", period=period)

    def metric_complaint(self, flow: str, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Complaints about ``flow`` (``Complaint``, Sum)."""
        return self.metric(flow, "Complaint", period=period)

    def metric_reject(self, flow: str, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Messages of ``flow`` SES rejected (``Reject``, Sum)."""
        return self.metric(flow, "Reject", period=period)

    def metric_rendering_failure(self, flow: str, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Templated messages of ``flow`` not sent for a rendering problem (``RenderingFailure``, Sum)."""
        return self.metric(flow, "RenderingFailure", period=period)

    def metric_delivery_delay(self, flow: str, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Delayed deliveries of ``flow`` (``DeliveryDelay``, Sum)."""
        return self.metric(flow, "DeliveryDelay", period=period)

    # -- dashboard ----------------------------------------------------------------------------------------
    def widgets(self) -> list[cloudwatch.IWidget]:
        """Per flow: a graph of sends, deliveries, bounces and complaints, and one of rejects, rendering
        failures and delays with their alarm thresholds; then one alarm-status widget of every alarm."""
        widgets: list[cloudwatch.IWidget] = []
        for flow in self.flows:
            widgets.append(
                cloudwatch.GraphWidget(
                    title=f"{flow}: sent and delivered",
                    left=[self.metric_send(flow), self.metric_delivery(flow)],
                    right=[self.metric_bounce(flow), self.metric_complaint(flow)],
                    width=12,
                )
            )
            widgets.append(
                cloudwatch.GraphWidget(
                    title=f"{flow}: failures",
                    left=[
                        self.metric_reject(flow),
                        self.metric_rendering_failure(flow),
                        self.metric_delivery_delay(flow),
                    ],
                    left_annotations=[
                        cloudwatch.HorizontalAnnotation(value=threshold, label=f"{name} alarm")
                        for name, threshold in self.thresholds.items()
                    ],
                    width=12,
                )
            )
        widgets.append(cloudwatch.AlarmStatusWidget(alarms=list(self.alarms), title="Flow alarms", width=24))
        return widgets
