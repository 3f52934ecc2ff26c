"""CloudWatch alarm actions in the sandbox, as CloudWatch runs them.

moto stores alarms and their state (``SetAlarmState``, ``DescribeAlarms``) but runs no action. Here an
alarm whose state *changes* - ``SetAlarmState`` to another state; setting the state it is in does nothing,
as in CloudWatch - publishes CloudWatch's notification to each SNS topic among the actions of the new
state (``AlarmActions`` for ``ALARM``, ``OKActions``, ``InsufficientDataActions``), unless
``ActionsEnabled`` is false. The message is the documented JSON
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html):
``AlarmName``, ``AlarmDescription``, ``AWSAccountId``, ``AlarmConfigurationUpdatedTimestamp``,
``NewStateValue``, ``NewStateReason``, ``StateChangeTime``, ``Region`` (the region's name), ``AlarmArn``,
``OldStateValue``, the three action lists and ``Trigger`` (the metric, or the metric-math ``Metrics``),
with the subject ``ALARM: "<name>" in <region name>``.

Also as in CloudWatch: a new alarm starts in ``INSUFFICIENT_DATA`` (moto starts it in ``OK``), and
``PutMetricAlarm`` on an existing alarm replaces its definition but keeps its state and history.
Alarms are never evaluated against metric data: only ``SetAlarmState`` changes a state. Actions that are
not SNS topics (Auto Scaling, EC2, Systems Manager, Lambda) are recorded in the activity log, not run.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from functools import cache
from typing import Any

from ._state import SandboxState

__all__ = ["alarm_notification", "install"]

COMPONENT = "cloudwatch"
INITIAL_REASON = "Unchecked: Initial alarm creation"
#: SNS ``Subject``: at most 100 characters.
MAX_SUBJECT_LENGTH = 100

_INSTALL_LOCK = threading.Lock()
_PATCHED = [False]
_STATE: list[SandboxState | None] = [None]


def install(state: SandboxState | None = None) -> None:
    """Patch moto's CloudWatch backend once (idempotent). ``state`` (optional) receives activity lines;
    the CloudFormation alarm model calls this without one before creating an alarm."""
    with _INSTALL_LOCK:
        if state is not None:
            _STATE[0] = state
        if _PATCHED[0]:
            return
        _PATCHED[0] = True
        from moto.cloudwatch.models import CloudWatchBackend

        original_put = CloudWatchBackend.put_metric_alarm

        def put_metric_alarm(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
            previous = self.alarms.get(name)
            alarm = original_put(self, name, *args, **kwargs)
            if previous is None:
                alarm.state_value = "INSUFFICIENT_DATA"
                alarm.state_reason = INITIAL_REASON
            else:  # a new definition, the same state
                alarm.state_value = previous.state_value
                alarm.state_reason = previous.state_reason
                alarm.state_reason_data = previous.state_reason_data
                alarm.state_updated_timestamp = previous.state_updated_timestamp
                alarm.history = previous.history
            return alarm

        CloudWatchBackend.put_metric_alarm = put_metric_alarm  # type: ignore[method-assign]

        original_set_state = CloudWatchBackend.set_alarm_state

        def set_alarm_state(
            self: Any, alarm_name: str, reason: str, reason_data: str, state_value: str
        ) -> None:
            alarm = self.alarms.get(alarm_name)
            old_state = alarm.state_value if alarm is not None else None
            original_set_state(self, alarm_name, reason, reason_data, state_value)  # validates, raises
            alarm = self.alarms[alarm_name]
            if old_state != alarm.state_value:
                _run_actions(self.account_id, alarm, old_state or "INSUFFICIENT_DATA")

        CloudWatchBackend.set_alarm_state = set_alarm_state  # type: ignore[method-assign]
    _log("installed")


def _log(message: str, **fields: Any) -> None:
    state = _STATE[0]
    if state is not None:
        state.log(COMPONENT, message, **fields)


def _run_actions(account_id: str, alarm: Any, old_state: str) -> None:
    actions = {
        "ALARM": alarm.alarm_actions,
        "OK": alarm.ok_actions,
        "INSUFFICIENT_DATA": alarm.insufficient_data_actions,
    }[alarm.state_value]
    if not alarm.actions_enabled or not actions:
        return
    from moto.sns.models import sns_backends

    message = json.dumps(alarm_notification(account_id, alarm, old_state))
    subject = f'{alarm.state_value}: "{alarm.name}" in {region_name(alarm.region_name)}'
    if len(subject) > MAX_SUBJECT_LENGTH:
        subject = subject[: MAX_SUBJECT_LENGTH - 3] + "..."
    for action in actions:
        parts = str(action).split(":")
        if len(parts) < 6 or parts[2] != "sns":
            _log("alarm action not run (only SNS topics are)", alarm=alarm.name, action=action)
            continue
        topic_account, topic_region = parts[4], parts[3]
        try:
            sns_backends[topic_account][topic_region].publish(message, arn=action, subject=subject)
        except Exception as exc:  # CloudWatch records a failed action; the state change stands
            _log("alarm action failed", alarm=alarm.name, action=action, error=type(exc).__name__)
        else:
            _log("alarm notification published", alarm=alarm.name, state=alarm.state_value, topic=action)


def alarm_notification(account_id: str, alarm: Any, old_state: str) -> dict[str, Any]:
    """CloudWatch's notification of ``alarm`` (a moto alarm) having changed from ``old_state``."""
    message: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description or None,
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": _timestamp(alarm.configuration_updated_timestamp),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": _timestamp(alarm.state_updated_timestamp),
        "Region": region_name(alarm.region_name),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
    }
    if getattr(alarm, "rule", None):  # a composite alarm
        message["AlarmRule"] = alarm.rule
    else:
        message["Trigger"] = _trigger(alarm)
    return message


def _trigger(alarm: Any) -> dict[str, Any]:
    trigger: dict[str, Any] = {}
    if alarm.metric_data_queries:
        trigger["Period"] = alarm.period
        trigger["EvaluationPeriods"] = alarm.evaluation_periods
        trigger["Metrics"] = [_query(q) for q in alarm.metric_data_queries]
    else:
        trigger.update(
            {
                "MetricName": alarm.metric_name,
                "Namespace": alarm.namespace,
                "StatisticType": "ExtendedStatistic" if alarm.extended_statistic else "Statistic",
            }
        )
        if alarm.extended_statistic:
            trigger["ExtendedStatistic"] = alarm.extended_statistic
        else:
            trigger["Statistic"] = str(alarm.statistic or "").upper()
        trigger.update(
            {
                "Unit": alarm.unit,
                "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
                "Period": alarm.period,
                "EvaluationPeriods": alarm.evaluation_periods,
            }
        )
    if alarm.datapoints_to_alarm:
        trigger["DatapointsToAlarm"] = alarm.datapoints_to_alarm
    trigger.update(
        {
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": alarm.threshold,
            "TreatMissingData": alarm.treat_missing_data or "missing",
            "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
        }
    )
    if alarm.threshold_metric_id:
        trigger["ThresholdMetricId"] = alarm.threshold_metric_id
    return trigger


def _query(query: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": query.id}
    if query.label:
        entry["Label"] = query.label
    if query.expression:
        entry["Expression"] = query.expression
    stat = query.metric_stat
    if stat is not None:
        metric = stat.metric
        entry["MetricStat"] = {
            "Metric": {
                "Dimensions": [{"value": d.value, "name": d.name} for d in metric.dimensions],
                "MetricName": metric.metric_name,
                "Namespace": metric.namespace,
            },
            "Period": _number(stat.period),
            "Stat": stat.stat,
        }
        if stat.unit:
            entry["MetricStat"]["Unit"] = stat.unit
    entry["ReturnData"] = str(query.return_data).lower() != "false"
    return entry


def _number(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _timestamp(moment: datetime | None) -> str | None:
    """CloudWatch's notification time format: ``2024-05-01T12:00:00.000+0000``."""
    if moment is None:
        return None
    if moment.tzinfo is None:  # moto keeps naive UTC times
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


@cache
def region_name(region: str) -> str:
    """The name CloudWatch gives a region in notifications (``US East (N. Virginia)``), from botocore's
    endpoint data; the code itself for a region it does not name."""
    import botocore.session

    data = botocore.session.get_session().get_data("endpoints")
    for partition in data.get("partitions", []):
        described = partition.get("regions", {}).get(region)
        if described and described.get("description"):
            return str(described["description"])
    return region
