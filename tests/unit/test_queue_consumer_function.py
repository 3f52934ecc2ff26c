"""QueueConsumerFunction: runtime, ARM64, Powertools layer, tracing, logs, partial batches, least privilege."""

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Match, Template

from notification_constructs import NotificationConfigError, ProcessingQueue, QueueConsumerFunction
from notification_constructs._assets import POWERTOOLS_LAYER_PARAMETER, POWERTOOLS_VERSION

HANDLER = "lambda_handlers.order_writer.handler.handler"


@pytest.fixture(scope="module")
def template() -> Template:
    stack = Stack(App(), "FnStack")
    queue = ProcessingQueue(stack, "Orders")
    QueueConsumerFunction(
        stack, "Writer", queue=queue, handler=HANDLER, max_concurrency=5, environment={"X": "1"}
    )
    return Template.from_stack(stack)


def test_function_runs_current_python_on_arm64_without_tracing_by_default(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "Handler": HANDLER,
            "Timeout": 30,
            "TracingConfig": Match.absent(),
            "Layers": [{"Ref": Match.string_like_regexp("^SsmParameterValue")}],
            "ReservedConcurrentExecutions": 5,  # = max_concurrency
            "Environment": {
                "Variables": {
                    "POWERTOOLS_SERVICE_NAME": "Writer",
                    "POWERTOOLS_METRICS_NAMESPACE": "NotificationConstructs",
                    "POWERTOOLS_LOG_LEVEL": "INFO",
                    "POWERTOOLS_TRACE_DISABLED": "true",
                    "DEAD_LETTER_QUEUE_URL": {"Ref": Match.string_like_regexp("OrdersDeadLetterQueue")},
                    "X": "1",
                }
            },
            "LoggingConfig": {"LogGroup": {"Ref": Match.string_like_regexp("WriterLogGroup")}},
        },
    )


def test_powertools_layer_arn_comes_from_the_public_ssm_parameter(template: Template) -> None:
    # THEN the layer ARN is a template parameter resolved from the public Powertools parameter
    parameters = template.to_json()["Parameters"]
    layer = [v["Default"] for k, v in parameters.items() if k.startswith("SsmParameterValue")]
    assert layer == [POWERTOOLS_LAYER_PARAMETER]


def test_powertools_layer_matches_the_tested_release() -> None:
    from importlib.metadata import version

    assert version("aws-lambda-powertools") == POWERTOOLS_VERSION


def test_log_group_has_retention_and_a_customer_managed_key(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "RetentionInDays": 30,
            "KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^WriterLogKey"), "Arn"]},
        },
    )


def test_event_source_reports_batch_item_failures_and_caps_concurrency(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 5},
            "EventSourceArn": {
                "Fn::GetAtt": [Match.string_like_regexp(r"^Orders(Queue)?[0-9A-F]{8}$"), "Arn"]
            },
        },
    )


def test_role_has_no_managed_policies_and_scoped_statements(template: Template) -> None:
    roles = template.find_resources("AWS::IAM::Role")
    assert len(roles) == 1
    assert "ManagedPolicyArns" not in next(iter(roles.values()))["Properties"]
    statements = next(iter(template.find_resources("AWS::IAM::Policy").values()))["Properties"][
        "PolicyDocument"
    ]["Statement"]
    assert [s for s in statements if s["Resource"] == "*"] == []  # no X-Ray grant without tracing
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not any(a.endswith("*") for a in actions), actions
    assert "sqs:SendMessage" in actions  # park permanently invalid input in the DLQ


def test_tracing_is_active_tracing_with_the_powertools_tracer_when_asked_for() -> None:
    # GIVEN a consumer with tracing=True
    stack = Stack(App(), "TracedStack")
    QueueConsumerFunction(
        stack, "Writer", queue=ProcessingQueue(stack, "Orders"), handler=HANDLER, tracing=True
    )
    traced = Template.from_stack(stack)
    # THEN the function traces actively, the handlers' Tracer is on, and only X-Ray gets a wildcard
    traced.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "TracingConfig": {"Mode": "Active"},
            "Environment": {"Variables": Match.object_like({"POWERTOOLS_TRACE_DISABLED": "false"})},
        },
    )
    statements = next(iter(traced.find_resources("AWS::IAM::Policy").values()))["Properties"][
        "PolicyDocument"
    ]["Statement"]
    wildcard = [s for s in statements if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcard] == [["xray:PutTraceSegments", "xray:PutTelemetryRecords"]]


def test_alarms_on_errors_and_throttles(template: Template) -> None:
    for metric in ("Errors", "Throttles"):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {"MetricName": metric, "Namespace": "AWS/Lambda", "Threshold": 1, "Statistic": "Sum"},
        )


def test_fails_if_visibility_timeout_is_shorter_than_six_function_timeouts() -> None:
    stack = Stack(App(), "Vis")
    queue = ProcessingQueue(stack, "Q", visibility_timeout=Duration.seconds(60))
    with pytest.raises(
        NotificationConfigError,
        match=r"\[Vis/Fn\] queue visibility_timeout \(60s\) < 6 x function timeout \(30s\)"
        r" \+ max_batching_window \(0s\): set visibility_timeout=Duration.seconds\(180\) or more on Vis/Q",
    ):
        QueueConsumerFunction(stack, "Fn", queue=queue, handler=HANDLER)


def test_fails_listing_every_invalid_setting() -> None:
    stack = Stack(App(), "Bad")
    queue = ProcessingQueue(stack, "Q")
    with pytest.raises(NotificationConfigError) as error:
        QueueConsumerFunction(
            stack,
            "Fn",
            queue=queue,
            handler="not-a-handler",
            batch_size=50,
            max_concurrency=1,
            memory_size=64,
            log_level="LOUD",
        )
    text = "\n".join(error.value.problems)
    for expected in (
        "handler 'not-a-handler'",
        "batch_size 50: must be 1-10",
        "max_concurrency 1",
        "memory_size 64",
        "log_level 'LOUD'",
    ):
        assert expected in text
    assert len(error.value.problems) == 5


def test_large_batches_are_allowed_with_a_batching_window() -> None:
    # GIVEN a queue whose visibility timeout covers 6 x 30 s + the 5 s batching window
    stack = Stack(App(), "Window")
    queue = ProcessingQueue(stack, "Q", visibility_timeout=Duration.seconds(185))
    # WHEN a consumer takes batches of 100
    QueueConsumerFunction(
        stack, "Fn", queue=queue, handler=HANDLER, batch_size=100, max_batching_window=Duration.seconds(5)
    )
    # THEN the event source mapping batches them
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"BatchSize": 100, "MaximumBatchingWindowInSeconds": 5}
    )
