"""QueueConsumerFunction: a Python Lambda fed by an SQS queue, with partial batch responses."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from lambda_handlers import contracts

from ._assets import POWERTOOLS_LAYER_PARAMETER, RUNTIME, handlers_code
from ._defaults import DEFAULT_FUNCTION_TIMEOUT, VISIBILITY_TIMEOUT_FACTOR, at_or_above_alarm
from ._functions import encrypted_log_group_and_role
from ._validation import NotificationConfigError, acknowledge, is_token
from .processing_queue import ProcessingQueue

__all__ = ["DEFAULT_MAX_CONCURRENCY", "QueueConsumerFunction"]

#: Default cap on concurrent invocations by the SQS event source, and so the default reserved concurrency:
#: above the 5 batches Lambda starts polling with, low enough to protect the tables and SES quotas behind a
#: consumer, and 10 of the 1,000 a default account quota has.
DEFAULT_MAX_CONCURRENCY = 10
#: CloudFormation's default ``VisibilityTimeout`` of an ``AWS::SQS::Queue`` that does not set one.
_SQS_DEFAULT_VISIBILITY_TIMEOUT = 30.0

_HANDLER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


@dataclass(frozen=True)
class _Source:
    """What is known at synth time about the queue feeding the function."""

    queue: sqs.IQueue
    path: str
    dead_letter_queue: sqs.IQueue | None
    visibility_timeout: float | None  # seconds; None when only known at deploy time (token, imported)
    #: ProcessingQueue.grant_send_to_dead_letter_queue, when the queue offers it
    grant_park: Callable[[iam.IGrantable], iam.Grant] | None


def _dead_letter_queue_of(candidate: object) -> sqs.IQueue | None:
    """A ProcessingQueue's ``dead_letter_queue`` (a queue) or an ``sqs.Queue``'s (a DeadLetterQueue struct)."""
    value = getattr(candidate, "dead_letter_queue", None)
    if isinstance(value, sqs.DeadLetterQueue):
        return value.queue
    return cast(sqs.IQueue, value) if hasattr(value, "queue_arn") else None


def _visibility_timeout_of(queue: object, resolved: sqs.IQueue) -> float | None:
    declared = getattr(queue, "visibility_timeout", None)  # ProcessingQueue
    if isinstance(declared, Duration):
        seconds = declared.to_seconds()
        return None if is_token(seconds) else seconds
    # aws-cdk-lib exposes no visibility timeout on sqs.Queue: read it from the CfnQueue of a queue in this app
    cfn = resolved.node.default_child
    if isinstance(cfn, sqs.CfnQueue):
        value = cfn.visibility_timeout
        if value is None:
            return _SQS_DEFAULT_VISIBILITY_TIMEOUT
        return None if is_token(value) else float(value)
    return None  # imported: unknown


def _source_of(queue: sqs.IQueue | ProcessingQueue) -> _Source:
    """Duck-typed on purpose: our ProcessingQueue (a construct holding ``.queue`` today, an ``sqs.IQueue``
    itself tomorrow), a plain ``sqs.Queue`` or an imported ``sqs.IQueue`` all work the same way."""
    resolved = cast(sqs.IQueue, getattr(queue, "queue", queue))
    return _Source(
        queue=resolved,
        path=queue.node.path,
        dead_letter_queue=_dead_letter_queue_of(queue) or _dead_letter_queue_of(resolved),
        visibility_timeout=_visibility_timeout_of(queue, resolved),
        grant_park=getattr(queue, "grant_send_to_dead_letter_queue", None),
    )


def _seconds(duration: Duration | None) -> float | None:
    if duration is None or is_token(duration.to_seconds()):
        return None
    return duration.to_seconds()


class QueueConsumerFunction(lambda_.Function):
    """A Python Lambda function consuming an SQS queue: it *is* a ``lambda_.Function`` (a
    ``lambda_.IFunction``), so every aws-cdk-lib API that takes a function takes it.

    Defaults: the current Python runtime (3.14) on ARM64, Powertools for AWS Lambda from its public layer
    (the exact release the handlers are tested with; its ARN comes from the SSM parameter the Powertools
    team publishes, through an ``AWS::SSM::Parameter::Value<String>`` template parameter shared by every
    consumer of the stack), X-Ray tracing with the Powertools Tracer when ``tracing=True``, a dedicated log
    group with retention encrypted with a customer-managed KMS key, an execution role with only what the
    function needs (no managed policies), an SQS event source with ``ReportBatchItemFailures`` and a maximum
    concurrency, the same reserved concurrency, and alarms on errors and throttles.

    The queue can be a :class:`ProcessingQueue`, an ``sqs.Queue`` or an imported ``sqs.IQueue``. Input a
    handler cannot ever process is parked in the queue's DLQ by the handler itself (env
    ``DEAD_LETTER_QUEUE_URL``, granted here) instead of being retried ``max_receive_count`` times; the DLQ
    of a ProcessingQueue or of an ``sqs.Queue`` created with ``dead_letter_queue`` is found, an imported
    queue's must be passed as ``dead_letter_queue``.

    The queue's visibility timeout is checked against 6 x ``timeout`` + ``max_batching_window`` when it is
    known at synth time: a ProcessingQueue's, or an ``sqs.Queue``'s in this app (its CfnQueue). The check is
    skipped only when the value is unknown: a token (e.g. a CfnParameter) or an imported queue.

    Construct ids (a public contract): the function itself is ``id`` (its CfnFunction ``Resource``), next to
    it in ``scope`` are ``{id}Role``, ``{id}LogGroup`` and, unless ``encryption_key`` is given,
    ``{id}LogKey``; the function's children are ``PowertoolsLayer`` (with ``powertools_layer``),
    ``ErrorsAlarm`` and ``ThrottlesAlarm`` (plus aws-cdk-lib's ``SqsEventSource:...`` mapping). The layer's
    template parameter is aws-cdk-lib's ``SsmParameterValue:...`` in the stack.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        queue: sqs.IQueue | ProcessingQueue,
        handler: str,
        code: lambda_.Code | None = None,
        environment: Mapping[str, str] | None = None,
        description: str | None = None,
        timeout: Duration = DEFAULT_FUNCTION_TIMEOUT,
        memory_size: int = 256,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        max_concurrency: int | None = DEFAULT_MAX_CONCURRENCY,
        reserved_concurrent_executions: int | None = None,
        reserve_concurrency: bool = True,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        log_level: str = "INFO",
        service_name: str | None = None,
        metrics_namespace: str = contracts.DEFAULT_METRICS_NAMESPACE,
        powertools_layer: bool = True,
        tracing: bool = False,
        park_permanent_failures: bool = True,
        dead_letter_queue: sqs.IQueue | None = None,
        encryption_key: kms.IKey | None = None,
        alarm_topic: sns.ITopic | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        """
        :param queue: The queue that feeds the function: a :class:`ProcessingQueue`, an ``sqs.Queue`` or an
            imported ``sqs.IQueue``.
        :param handler: Dotted entry point, e.g. ``lambda_handlers.order_writer.handler.handler``.
        :param code: Default: - this library's packaged ``lambda_handlers``.
        :param environment: Extra environment variables. Default: - only the Powertools settings and
            ``DEAD_LETTER_QUEUE_URL``.
        :param timeout: Default: 30 s. The queue's visibility timeout must be >= 6 x this + the batching
            window.
        :param memory_size: MiB. Default: 256.
        :param batch_size: Records per invocation. Default: 10 (1-10, or up to 10,000 with a batching window).
        :param max_batching_window: Default: - none (invoke as soon as records are available).
        :param max_concurrency: Maximum concurrent invocations by this event source (2-1000), the way to
            stay under the SES maximum send rate. Default: 10. ``None``: no limit (and no reserved
            concurrency derived from it).
        :param reserved_concurrent_executions: Default: - ``max_concurrency`` (with ``reserve_concurrency``):
            AWS asks for a reserved concurrency >= the maximum concurrency of the function's SQS event
            sources, otherwise Lambda may throttle the messages; the reservation also keeps other functions
            from starving this one. Must be >= ``max_concurrency``.
        :param reserve_concurrency: Reserve concurrency for the function at all. Default: True. Set False in
            accounts whose concurrency quota is too small to reserve any (new accounts start at 10):
            CloudFormation then fails with "... decreases account's UnreservedConcurrentExecution below its
            minimum value ...".
        :param log_retention: Default: one month.
        :param log_level: Powertools log level. Default: INFO.
        :param service_name: ``POWERTOOLS_SERVICE_NAME``. Default: - the construct id.
        :param metrics_namespace: CloudWatch namespace of the EMF metrics. Default: NotificationConstructs.
        :param tracing: Active X-Ray tracing, with the handlers tracing through the Powertools Tracer.
            Default: False - the Tracer (aws-xray-sdk) adds about 0.5-0.75 s to every cold start (measured
            with bench/cold_start.py), so tracing is a decision, not a default; without it the function gets
            no X-Ray permission.
        :param powertools_layer: Attach the public Powertools layer. Default: True (set False if ``code``
            bundles Powertools itself).
        :param park_permanent_failures: Let the handler move permanently invalid input straight to the
            DLQ (``sqs:SendMessage`` on it, plus the KMS actions a send needs when its key is known).
            Default: True.
        :param dead_letter_queue: The DLQ the handler parks bad input in. Default: - the DLQ of ``queue``
            (a ProcessingQueue's, or the ``dead_letter_queue`` an ``sqs.Queue`` was created with); required
            for an imported queue when ``park_permanent_failures`` is True.
        :param encryption_key: KMS key of the log group. Default: - a new customer-managed key (rotation on,
            ``removal_policy``) whose key policy lets CloudWatch Logs of this region use it for this
            account's log groups only. The policy of an imported key cannot be changed by CDK: it must allow
            ``logs.<region>.amazonaws.com`` itself.
        :param alarm_topic: SNS topic notified when an alarm fires. Default: - alarms without actions.
        :param vpc: Place the function in this VPC (regulated accounts: HIPAA / NIST 800-53 / PCI DSS
            ask for it). Its subnets then need a route to the AWS APIs the handler calls - a NAT gateway or
            VPC endpoints for SQS, SNS, DynamoDB (gateway), KMS, CloudWatch Logs and SES (``email``) - and the
            role gets the network-interface permissions Lambda needs. Default: - no VPC (the function calls
            only AWS service APIs, over TLS, with IAM authentication).
        :param vpc_subnets: With ``vpc``. Default: - the VPC's private subnets.
        :param security_groups: With ``vpc``. Default: - a new security group allowing all outbound traffic.
        :param removal_policy: For the log group and the key created for it. Default: DESTROY.
        :raises NotificationConfigError: listing every problem, before any resource is created.
        """
        path = "/".join(p for p in (scope.node.path, id) if p)
        source = _source_of(queue)
        if not reserve_concurrency:
            reserved = None
        elif reserved_concurrent_executions is not None:
            reserved = reserved_concurrent_executions
        else:
            reserved = max_concurrency
        park_in = (dead_letter_queue or source.dead_letter_queue) if park_permanent_failures else None
        problems = _problems(
            source=source,
            handler=handler,
            timeout=timeout,
            memory_size=memory_size,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            reserved=reserved,
            log_level=log_level,
        )
        if not reserve_concurrency and reserved_concurrent_executions is not None:
            problems.append("reserved_concurrent_executions is given but reserve_concurrency=False")
        if park_permanent_failures and park_in is None:
            problems.append(
                f"park_permanent_failures=True but the DLQ of {source.path} is not known (an imported "
                "queue, or a queue without a dead-letter queue): pass dead_letter_queue=<the sqs.IQueue its "
                "redrive policy names>, or park_permanent_failures=False"
            )
        if not park_permanent_failures and dead_letter_queue is not None:
            problems.append("dead_letter_queue is given but park_permanent_failures=False")
        if problems:
            raise NotificationConfigError(f"[{path}] {p}" for p in problems)

        log_group, role, log_key = encrypted_log_group_and_role(
            scope,
            id,
            path=path,
            encryption_key=encryption_key,
            retention=log_retention,
            removal_policy=removal_policy,
        )

        env = {
            contracts.SERVICE_NAME_ENV: service_name or id,
            contracts.METRICS_NAMESPACE_ENV: metrics_namespace,
            contracts.LOG_LEVEL_ENV: log_level,
            contracts.TRACE_DISABLED_ENV: "false" if tracing else "true",
        }
        if park_in is not None:
            env[contracts.DEAD_LETTER_QUEUE_URL_ENV] = park_in.queue_url
        env.update(environment or {})

        super().__init__(
            scope,
            id,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=code or handlers_code(),
            role=role,
            description=description,
            timeout=timeout,
            memory_size=memory_size,
            environment=env,
            tracing=lambda_.Tracing.ACTIVE if tracing else lambda_.Tracing.DISABLED,
            log_group=log_group,
            reserved_concurrent_executions=reserved,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=list(security_groups) if security_groups else None,
        )
        if vpc is not None:
            # What AWSLambdaVPCAccessExecutionRole grants (aws-cdk-lib adds it only to roles it creates):
            # https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=[
                        "ec2:CreateNetworkInterface",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSubnets",
                        "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    resources=["*"],
                )
            )
            acknowledge(
                role,
                "AwsSolutions-IAM5[Resource::*]",
                "Lambda's VPC network-interface actions (ec2:CreateNetworkInterface, ...) support no "
                "resource-level permissions for the Describe calls; granted only with vpc=.",
            )
        self.queue = queue
        #: The KMS key of the log group.
        self.log_encryption_key = log_key
        #: The DLQ the handler parks permanently invalid input in (None without park_permanent_failures).
        self.parking_queue = park_in

        if powertools_layer:
            # A template parameter of type AWS::SSM::Parameter::Value<String> (one per stack, shared by every
            # consumer): CloudFormation resolves public /aws/service/... parameters that way, not through
            # {{resolve:ssm:...}} dynamic references.
            layer_arn = ssm.StringParameter.value_for_string_parameter(self, POWERTOOLS_LAYER_PARAMETER)
            self.add_layers(lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", layer_arn))

        self.event_source = sources.SqsEventSource(
            source.queue,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            report_batch_item_failures=True,
        )
        self.add_event_source(self.event_source)
        acknowledge(
            self,
            "Serverless-LambdaEventSourceMappingDestination",
            "SQS event source mappings support no on-failure destination; failed records return to the "
            "queue and move to its DLQ after max_receive_count receives (plus the handler parks bad input).",
        )
        if park_in is not None:
            self._grant_park(park_in, source.grant_park if dead_letter_queue is None else None)

        self.errors_alarm = at_or_above_alarm(
            self,
            "ErrorsAlarm",
            description=f"{path} failed invocations (whole batches retried).",
            metric=self.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            alarm_topic=alarm_topic,
        )
        self.throttles_alarm = at_or_above_alarm(
            self,
            "ThrottlesAlarm",
            description=f"{path} is throttled: raise reserved concurrency or lower max_concurrency.",
            metric=self.metric_throttles(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            alarm_topic=alarm_topic,
        )
        self.alarms: list[cloudwatch.Alarm] = [self.errors_alarm, self.throttles_alarm]

        if tracing:
            acknowledge(
                role,
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions "
                "(added by Tracing.ACTIVE); every other statement names its resources.",
            )
        else:
            acknowledge(
                self,
                "Serverless-LambdaTracing",
                "Tracing is opt-in (tracing=True): the Powertools Tracer adds about 0.5-0.75 s to every cold "
                "start of these SQS consumers; their metrics, logs and DLQ reasons cover each record.",
            )
        for pack in ("Serverless", "HIPAA.Security", "NIST.800.53.R5"):
            acknowledge(
                self,
                f"{pack}-LambdaDLQ",
                "Invoked synchronously by an SQS event source mapping: failed records are retried and "
                "then moved to the queue's DLQ by its redrive policy; there are no async invocations.",
            )
        for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
            if vpc is None:
                acknowledge(
                    self,
                    f"{pack}-LambdaInsideVPC",
                    "No vpc given: the function reaches only AWS service APIs (SQS, SNS, DynamoDB, KMS, "
                    "SES) over TLS with IAM authentication and accepts no inbound connections; pass vpc= "
                    "(with VPC endpoints or NAT) where policy requires it.",
                )

    @property
    def function(self) -> QueueConsumerFunction:
        """This construct (it is the function); kept for callers written before it was one."""
        return self

    def _grant_park(
        self, dlq: sqs.IQueue, grant_via_queue: Callable[[iam.IGrantable], iam.Grant] | None
    ) -> iam.Grant:
        """``sqs:SendMessage`` on the DLQ plus ``kms:GenerateDataKey``/``kms:Decrypt`` on its key when known
        (the two actions an SSE-KMS send needs, no wildcards); a ProcessingQueue grants it itself."""
        if grant_via_queue is not None:
            return grant_via_queue(self)
        grant = iam.Grant.add_to_principal(
            grantee=self, actions=["sqs:SendMessage"], resource_arns=[dlq.queue_arn]
        )
        key = dlq.encryption_master_key
        return grant if key is None else grant.combine(key.grant(self, "kms:GenerateDataKey", "kms:Decrypt"))


def _problems(
    *,
    source: _Source,
    handler: str,
    timeout: Duration,
    memory_size: int,
    batch_size: int,
    max_batching_window: Duration | None,
    max_concurrency: int | None,
    reserved: int | None,
    log_level: str,
) -> list[str]:
    """Every problem of the settings (without the construct path); values that are tokens are not checked."""
    problems: list[str] = []

    def check(ok: bool, message: str) -> None:
        if not ok:
            problems.append(message)

    fifo = bool(source.queue.fifo)
    check(
        bool(_HANDLER_RE.match(handler)),
        f"handler {handler!r}: expected a dotted entry point such as 'package.module.function'",
    )
    timeout_s = _seconds(timeout)
    check(timeout_s is None or 1 <= timeout_s <= 900, f"timeout {timeout_s}s: must be 1-900 s")
    window = _seconds(max_batching_window)
    window_known = max_batching_window is None or window is not None
    vis = source.visibility_timeout
    if timeout_s is not None and window_known and vis is not None:
        # AWS: "set the source queue's visibility timeout to at least six times the timeout that you
        # configure on your function, plus the value of MaximumBatchingWindowInSeconds"
        # (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html, formerly with-sqs.html
        # "Configuring a queue to use with Lambda"); the extra time lets Lambda retry throttled batches.
        needed = VISIBILITY_TIMEOUT_FACTOR * timeout_s + (window or 0)
        check(
            vis >= needed,
            f"queue visibility_timeout ({vis:g}s) < {VISIBILITY_TIMEOUT_FACTOR} x function timeout "
            f"({timeout_s:g}s) + max_batching_window ({window or 0:g}s): set "
            f"visibility_timeout=Duration.seconds({needed:g}) or more on {source.path}, or lower the timeout",
        )
    check(
        is_token(memory_size) or 128 <= memory_size <= 10240,
        f"memory_size {memory_size}: must be 128-10240 MiB",
    )
    if not is_token(batch_size):
        limit = 10 if (fifo or not window) else 10000
        check(
            1 <= batch_size <= limit,
            f"batch_size {batch_size}: must be 1-{limit}"
            + ("" if limit == 10000 or fifo else " (set max_batching_window to go above 10)"),
        )
    if window is not None:
        check(0 <= window <= 300, f"max_batching_window {window:g}s: must be 0-300 s")
    if max_batching_window is not None:
        check(not fifo, "max_batching_window is not supported for FIFO queues")
    concurrency_known = max_concurrency is not None and not is_token(max_concurrency)
    if max_concurrency is not None and concurrency_known:
        check(2 <= max_concurrency <= 1000, f"max_concurrency {max_concurrency}: must be 2-1000 (SQS limit)")
    if reserved is not None and not is_token(reserved):
        check(reserved >= 0, f"reserved_concurrent_executions {reserved}: must be >= 0")
        if max_concurrency is not None and concurrency_known:
            # AWS: the function's reserved concurrency must be >= the maximum concurrency of all its SQS event
            # sources, otherwise Lambda may throttle the messages
            # (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
            check(
                reserved >= max_concurrency,
                f"reserved_concurrent_executions ({reserved}) < max_concurrency ({max_concurrency}): Lambda "
                f"would throttle the event source; reserve {max_concurrency} or more, lower max_concurrency, "
                "or leave reserved_concurrent_executions unset to derive it",
            )
    check(log_level in _LOG_LEVELS, f"log_level {log_level!r}: one of {sorted(_LOG_LEVELS)}")
    return problems
