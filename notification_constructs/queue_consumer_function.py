"""QueueConsumerFunction: a Python Lambda fed by a ProcessingQueue, with partial batch responses."""

from __future__ import annotations

import re
from collections.abc import Mapping

from aws_cdk import CfnDynamicReference, CfnDynamicReferenceService, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambda_handlers import contracts

from ._assets import POWERTOOLS_LAYER_PARAMETER, RUNTIME, handlers_code
from ._defaults import DEFAULT_FUNCTION_TIMEOUT, VISIBILITY_TIMEOUT_FACTOR, at_or_above_alarm
from ._validation import Problems, acknowledge, is_token
from .processing_queue import ProcessingQueue

__all__ = ["QueueConsumerFunction"]

_HANDLER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


class QueueConsumerFunction(Construct):
    """A Python Lambda function consuming a :class:`ProcessingQueue`.

    Defaults: the current Python runtime (3.14) on ARM64, Powertools for AWS Lambda from its public layer
    (the exact release the handlers are tested with, resolved from the SSM parameter the Powertools team
    publishes), X-Ray tracing with the Powertools Tracer when ``tracing=True``, a dedicated log group with retention, an execution role with only
    what the function needs (no managed policies), an SQS event source with ``ReportBatchItemFailures``,
    and alarms on errors and throttles.

    Input a handler cannot ever process is parked in the queue's DLQ by the handler itself (env
    ``DEAD_LETTER_QUEUE_URL``, granted here) instead of being retried ``max_receive_count`` times.

    Child ids (a public contract): ``Role``, ``LogGroup``, ``Function``, ``ErrorsAlarm``, ``ThrottlesAlarm``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        queue: ProcessingQueue,
        handler: str,
        code: lambda_.Code | None = None,
        environment: Mapping[str, str] | None = None,
        description: str | None = None,
        timeout: Duration = DEFAULT_FUNCTION_TIMEOUT,
        memory_size: int = 256,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        max_concurrency: int | None = None,
        reserved_concurrent_executions: int | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        log_level: str = "INFO",
        service_name: str | None = None,
        metrics_namespace: str = contracts.DEFAULT_METRICS_NAMESPACE,
        powertools_layer: bool = True,
        tracing: bool = False,
        park_permanent_failures: bool = True,
        alarm_topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        """
        :param queue: The queue that feeds the function.
        :param handler: Dotted entry point, e.g. ``lambda_handlers.order_writer.handler.handler``.
        :param code: Default: - this library's packaged ``lambda_handlers``.
        :param environment: Extra environment variables. Default: - only the Powertools settings and
            ``DEAD_LETTER_QUEUE_URL``.
        :param timeout: Default: 30 s. The queue's visibility timeout must be >= 6 x this.
        :param memory_size: MiB. Default: 256.
        :param batch_size: Records per invocation. Default: 10 (1-10, or up to 10,000 with a batching window).
        :param max_batching_window: Default: - none (invoke as soon as records are available).
        :param max_concurrency: Maximum concurrent invocations by this event source (2-1000), the way to
            stay under the SES maximum send rate. Default: - no limit.
        :param reserved_concurrent_executions: Default: - unreserved.
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
            queue's DLQ (``sqs:SendMessage`` on the DLQ). Default: True.
        :param alarm_topic: SNS topic notified when an alarm fires. Default: - alarms without actions.
        :param removal_policy: For the log group. Default: DESTROY.
        """
        super().__init__(scope, id)
        self._validate(
            queue=queue,
            handler=handler,
            timeout=timeout,
            memory_size=memory_size,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            log_level=log_level,
        )
        self.queue = queue
        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=log_retention, removal_policy=removal_policy
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {self.node.path}",
        )
        self.log_group.grant_write(self.role)

        env = {
            contracts.SERVICE_NAME_ENV: service_name or id,
            contracts.METRICS_NAMESPACE_ENV: metrics_namespace,
            contracts.LOG_LEVEL_ENV: log_level,
            contracts.TRACE_DISABLED_ENV: "false" if tracing else "true",
        }
        if park_permanent_failures:
            env[contracts.DEAD_LETTER_QUEUE_URL_ENV] = queue.dead_letter_queue.queue_url
        env.update(environment or {})

        layers: list[lambda_.ILayerVersion] = []
        if powertools_layer:
            layer_arn = CfnDynamicReference(CfnDynamicReferenceService.SSM, POWERTOOLS_LAYER_PARAMETER)
            layers.append(
                lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", layer_arn.to_string())
            )

        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=code or handlers_code(),
            role=self.role,
            description=description,
            timeout=timeout,
            memory_size=memory_size,
            environment=env,
            layers=layers,
            tracing=lambda_.Tracing.ACTIVE if tracing else lambda_.Tracing.DISABLED,
            log_group=self.log_group,
            reserved_concurrent_executions=reserved_concurrent_executions,
        )
        self.event_source = sources.SqsEventSource(
            queue.queue,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            report_batch_item_failures=True,
        )
        self.function.add_event_source(self.event_source)
        acknowledge(
            self.function,
            "Serverless-LambdaEventSourceMappingDestination",
            "SQS event source mappings support no on-failure destination; failed records return to the "
            "queue and move to its DLQ after max_receive_count receives (plus the handler parks bad input).",
        )
        if park_permanent_failures:
            queue.grant_send_to_dead_letter_queue(self.function)

        self.errors_alarm = at_or_above_alarm(
            self,
            "ErrorsAlarm",
            description=f"{self.node.path} failed invocations (whole batches retried).",
            metric=self.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            alarm_topic=alarm_topic,
        )
        self.throttles_alarm = at_or_above_alarm(
            self,
            "ThrottlesAlarm",
            description=f"{self.node.path} is throttled: raise reserved concurrency or lower max_concurrency.",
            metric=self.function.metric_throttles(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            alarm_topic=alarm_topic,
        )
        self.alarms: list[cloudwatch.Alarm] = [self.errors_alarm, self.throttles_alarm]

        if tracing:
            acknowledge(
                self.role,
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions "
                "(added by Tracing.ACTIVE); every other statement names its resources.",
            )
        else:
            acknowledge(
                self.function,
                "Serverless-LambdaTracing",
                "Tracing is opt-in (tracing=True): the Powertools Tracer adds about 0.5-0.75 s to every cold "
                "start of these SQS consumers; their metrics, logs and DLQ reasons cover each record.",
            )
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Invoked synchronously by an SQS event source mapping: failed records are retried and "
            "then moved to the ProcessingQueue's DLQ by its redrive policy; there are no async invocations.",
        )

    def _validate(
        self,
        *,
        queue: ProcessingQueue,
        handler: str,
        timeout: Duration,
        memory_size: int,
        batch_size: int,
        max_batching_window: Duration | None,
        max_concurrency: int | None,
        log_level: str,
    ) -> None:
        problems = Problems(self)
        problems.check(
            bool(_HANDLER_RE.match(handler)),
            f"handler {handler!r}: expected a dotted entry point such as 'package.module.function'",
        )
        timeout_s = None if is_token(timeout.to_seconds()) else timeout.to_seconds()
        problems.check(timeout_s is None or 1 <= timeout_s <= 900, f"timeout {timeout_s}s: must be 1-900 s")
        vis = queue.visibility_timeout.to_seconds()
        if timeout_s is not None and not is_token(vis):
            problems.check(
                vis >= VISIBILITY_TIMEOUT_FACTOR * timeout_s,
                f"queue visibility_timeout ({vis}s) < {VISIBILITY_TIMEOUT_FACTOR} x function timeout "
                f"({timeout_s}s): set visibility_timeout=Duration.seconds({VISIBILITY_TIMEOUT_FACTOR * timeout_s})"
                f" or more on {queue.node.path}, or lower the timeout",
            )
        problems.check(
            is_token(memory_size) or 128 <= memory_size <= 10240,
            f"memory_size {memory_size}: must be 128-10240 MiB",
        )
        window = None if max_batching_window is None else max_batching_window.to_seconds()
        if not is_token(batch_size):
            limit = 10 if (queue.fifo or not window) else 10000
            problems.check(
                1 <= batch_size <= limit,
                f"batch_size {batch_size}: must be 1-{limit}"
                + ("" if limit == 10000 or queue.fifo else " (set max_batching_window to go above 10)"),
            )
        if window is not None and not is_token(window):
            problems.check(0 <= window <= 300, f"max_batching_window {window}s: must be 0-300 s")
            problems.check(not queue.fifo, "max_batching_window is not supported for FIFO queues")
        if max_concurrency is not None and not is_token(max_concurrency):
            problems.check(
                2 <= max_concurrency <= 1000, f"max_concurrency {max_concurrency}: must be 2-1000 (SQS limit)"
            )
        problems.check(log_level in _LOG_LEVELS, f"log_level {log_level!r}: one of {sorted(_LOG_LEVELS)}")
        problems.raise_if_any()
