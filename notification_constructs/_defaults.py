"""Secure defaults shared by the constructs, in one place (pure functions and constants)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

#: SQS: AWS recommends a visibility timeout of at least six times the consuming function's timeout.
VISIBILITY_TIMEOUT_FACTOR = 6
DEFAULT_FUNCTION_TIMEOUT = Duration.seconds(30)
DEFAULT_VISIBILITY_TIMEOUT = Duration.seconds(
    DEFAULT_FUNCTION_TIMEOUT.to_seconds() * VISIBILITY_TIMEOUT_FACTOR
)
DEFAULT_MAX_RECEIVE_COUNT = 5
DEFAULT_DLQ_RETENTION = Duration.days(14)
DEFAULT_MAX_MESSAGE_AGE = Duration.minutes(15)
DEFAULT_RETENTION = Duration.days(4)
DEFAULT_RECORD_TTL = Duration.hours(1)

SES_SERVICE_PRINCIPAL = "ses.amazonaws.com"


def new_cmk(scope: Construct, id: str, *, description: str, removal_policy: RemovalPolicy) -> kms.Key:
    """A customer-managed KMS key with yearly rotation on; the account root keeps administration."""
    return kms.Key(
        scope,
        id,
        description=description,
        enable_key_rotation=True,
        removal_policy=removal_policy,
        pending_window=Duration.days(30),
    )


def source_conditions(scope: Construct, source_arns: list[str]) -> dict[str, object]:
    """Confused-deputy conditions for a service principal acting on behalf of this account.

    KMS key policies and SNS/SQS resource policies all accept the global ``aws:SourceAccount`` and
    ``aws:SourceArn`` keys. ``ArnLike`` lets callers pass patterns such as ``arn:aws:ses:eu-west-1:111:*``.
    """
    return {
        "StringEquals": {"aws:SourceAccount": Stack.of(scope).account},
        "ArnLike": {"aws:SourceArn": source_arns if len(source_arns) > 1 else source_arns[0]},
    }


def allow_sns_to_use_key(scope: Construct, key: kms.IKey, topic_arn: str) -> None:
    """Let SNS encrypt messages it delivers from ``topic_arn`` into a queue encrypted with ``key``."""
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("sns.amazonaws.com")],
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=["*"],
            conditions=source_conditions(scope, [topic_arn]),
        )
    )


def at_or_above_alarm(
    scope: Construct,
    id: str,
    *,
    metric: cloudwatch.IMetric,
    threshold: float,
    description: str,
    alarm_topic: sns.ITopic | None,
    evaluation_periods: int = 1,
    treat_missing_data: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
) -> cloudwatch.Alarm:
    """An alarm when ``metric`` >= ``threshold``, notifying ``alarm_topic`` if given.

    :param treat_missing_data: Default: NOT_BREACHING - right for queue and function metrics, which are
        missing exactly when nothing is wrong (no messages, no errors). Metrics that are missing while the
        underlying state persists (SES reputation rates between sends) pass IGNORE.
    """
    alarm = cloudwatch.Alarm(
        scope,
        id,
        alarm_description=description,
        metric=metric,
        threshold=threshold,
        evaluation_periods=evaluation_periods,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=treat_missing_data,
    )
    if alarm_topic is not None:
        alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
    return alarm
