"""Secure defaults shared by the constructs, in one place (pure functions and constants)."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambda_handlers import contracts

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

#: The dimension Powertools ``Metrics`` adds to every EMF metric: ``POWERTOOLS_SERVICE_NAME`` of the function.
SERVICE_DIMENSION = "service"
HANDLER_METRIC_PERIOD = Duration.minutes(5)


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


def topic_source_arn(topic: sns.ITopic, key: kms.IKey) -> str:
    """The ``aws:SourceArn`` that scopes SNS's use of ``key`` (the key of a queue subscribed to ``topic``).

    ``topic.topic_arn`` itself, unless the topic is encrypted with that same key: a statement naming the
    topic in the policy of the key the topic depends on is a dependency cycle (key -> topic -> key). Then the
    ARN is spelled without referencing the topic resource: formatted from its name when the name is given,
    and, when CloudFormation generates the name, the pattern
    ``arn:<partition>:sns:<region>:<account>:<stack name>-*``: a generated name is the stack name, the
    logical id and a random suffix joined by ``-`` ("Name type",
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html). The stack
    name is ``AWS::StackName`` when key and topic share a stack (right under any deployed name, nested
    stacks included), else the topic stack's name. Callers keep ``aws:SourceAccount`` beside it.
    """
    topic_key = topic.master_key
    if topic_key is None or (topic_key is not key and topic_key.node.path != key.node.path):
        return topic.topic_arn
    stack = Stack.of(topic)
    cfn = topic.node.default_child
    # sns.Topic's name is a lazy value that resolves to nothing when CloudFormation is to generate it.
    name = cfn.topic_name if isinstance(cfn, sns.CfnTopic) else None
    if name is not None and stack.resolve(name) is not None:
        return stack.format_arn(service="sns", resource=name)
    stack_name = Aws.STACK_NAME if Stack.of(key) is stack else stack.stack_name
    return stack.format_arn(service="sns", resource=f"{stack_name}-*")


def handler_metric(
    metric_name: str,
    *,
    service: str,
    namespace: str = contracts.DEFAULT_METRICS_NAMESPACE,
    period: Duration | None = None,
    statistic: str = "Sum",
    label: str | None = None,
) -> cloudwatch.Metric:
    """An EMF metric a handler emits through the shell: ``namespace`` (``POWERTOOLS_METRICS_NAMESPACE``),
    dimension ``service`` = the function's ``POWERTOOLS_SERVICE_NAME``, as Powertools ``Metrics`` adds it.
    Default period 5 minutes, statistic Sum (a count per period)."""
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=metric_name,
        dimensions_map={SERVICE_DIMENSION: service},
        period=period or HANDLER_METRIC_PERIOD,
        statistic=statistic,
        label=label,
    )


def allow_sns_to_use_key(scope: Construct, key: kms.IKey, topic_arn: str) -> None:
    """Let SNS encrypt messages it delivers from ``topic_arn`` into a queue encrypted with ``key``
    (``topic_arn`` may be an ``ArnLike`` pattern, see :func:`topic_source_arn`)."""
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
