"""QueueConsumerFunction as a first-class CDK citizen: it is a lambda_.Function, takes any sqs.IQueue,
derives reserved concurrency, encrypts its logs with a CMK and takes the Powertools layer from an
SSM-typed template parameter; every check is token-aware."""

import json
from typing import Any, cast

import pytest
from aws_cdk import App, CfnParameter, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from notification_constructs import NotificationConfigError, ProcessingQueue, QueueConsumerFunction
from notification_constructs._assets import POWERTOOLS_LAYER_PARAMETER
from notification_constructs.queue_consumer_function import DEFAULT_MAX_CONCURRENCY

HANDLER = "lambda_handlers.order_writer.handler.handler"
IMPORTED_QUEUE_ARN = "arn:aws:sqs:eu-west-1:111111111111:orders"
IMPORTED_DLQ_ARN = "arn:aws:sqs:eu-west-1:111111111111:orders-dlq"
IMPORTED_DLQ_KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/11111111-2222-3333-4444-555555555555"


def _number(stack: Stack, id: str) -> int:
    """A Number CfnParameter's value: a token, typed as the int the prop is."""
    return cast(int, CfnParameter(stack, id, type="Number").value_as_number)


def _cfn(fn: QueueConsumerFunction) -> lambda_.CfnFunction:
    child = fn.node.default_child
    assert isinstance(child, lambda_.CfnFunction)
    return child


def _logical_id(template: Template, type_: str, prefix: str) -> str:
    (logical_id,) = [k for k in template.find_resources(type_) if k.startswith(prefix)]
    return logical_id


def _statements(template: Template, role_prefix: str) -> list[dict[str, Any]]:
    policies = template.find_resources("AWS::IAM::Policy")
    return [
        statement
        for policy in policies.values()
        if any(r["Ref"].startswith(role_prefix) for r in policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _layer_parameters(template: Template) -> dict[str, Any]:
    return {k: v for k, v in template.to_json()["Parameters"].items() if k.startswith("SsmParameterValue")}


@pytest.fixture(scope="module")
def citizens() -> tuple[Stack, Template]:
    # GIVEN one stack with a consumer of a plain sqs.Queue (KMS-encrypted, with a DLQ), a consumer of an
    # imported queue naming its imported DLQ, and the plain one handed to aws-cdk-lib APIs
    stack = Stack(App(), "Citizens")
    key = kms.Key(stack, "PlainKey", enable_key_rotation=True)
    plain_dlq = sqs.Queue(stack, "PlainDlq", encryption_master_key=key)
    plain = sqs.Queue(
        stack,
        "Plain",
        encryption_master_key=key,
        visibility_timeout=Duration.seconds(180),
        dead_letter_queue=sqs.DeadLetterQueue(queue=plain_dlq, max_receive_count=5),
    )
    plain_consumer = QueueConsumerFunction(stack, "PlainConsumer", queue=plain, handler=HANDLER)
    imported_dlq = sqs.Queue.from_queue_attributes(
        stack, "ImportedDlq", queue_arn=IMPORTED_DLQ_ARN, key_arn=IMPORTED_DLQ_KEY_ARN
    )
    QueueConsumerFunction(
        stack,
        "ImportedConsumer",
        queue=sqs.Queue.from_queue_arn(stack, "Imported", IMPORTED_QUEUE_ARN),
        dead_letter_queue=imported_dlq,
        handler=HANDLER,
        timeout=Duration.minutes(15),  # no visibility check: the imported queue's timeout is unknown
    )
    # WHEN the consumer is used wherever aws-cdk-lib takes a function
    cloudwatch.Dashboard(
        stack, "Dashboard", widgets=[[cloudwatch.GraphWidget(left=[plain_consumer.metric_errors()])]]
    )
    sns.Topic(stack, "Topic").add_subscription(subscriptions.LambdaSubscription(plain_consumer))
    plain_consumer.grant_invoke(iam.Role(stack, "Invoker", assumed_by=iam.AccountRootPrincipal()))
    return stack, Template.from_stack(stack)


def test_the_consumer_is_a_lambda_function_and_function_is_itself(citizens: tuple[Stack, Template]) -> None:
    stack, _ = citizens
    consumer = stack.node.find_child("PlainConsumer")
    # THEN the construct is the function (the CfnFunction is its default child), .function is kept for callers
    assert isinstance(consumer, lambda_.Function)
    assert isinstance(consumer, QueueConsumerFunction)
    assert consumer.function is consumer
    assert isinstance(consumer.node.default_child, lambda_.CfnFunction)


def test_a_plain_queue_with_a_dead_letter_queue_feeds_the_consumer(citizens: tuple[Stack, Template]) -> None:
    _, template = citizens
    # THEN the mapping reads the plain queue and the handler parks bad input in its DLQ
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("^Plain[0-9A-F]{8}$"), "Arn"]},
            "FunctionName": {"Ref": Match.string_like_regexp("^PlainConsumer[0-9A-F]{8}$")},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like(
                    {"DEAD_LETTER_QUEUE_URL": {"Ref": Match.string_like_regexp("^PlainDlq")}}
                )
            }
        },
    )
    dlq = _logical_id(template, "AWS::SQS::Queue", "PlainDlq")
    key = _logical_id(template, "AWS::KMS::Key", "PlainKey")
    statements = _statements(template, "PlainConsumerRole")
    assert {
        "Action": "sqs:SendMessage",
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [dlq, "Arn"]},
    } in statements
    # and an SSE-KMS send gets exactly the two KMS actions it needs on the DLQ's key
    assert {
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [key, "Arn"]},
    } in statements


def test_an_imported_queue_with_an_imported_dead_letter_queue_feeds_the_consumer(
    citizens: tuple[Stack, Template],
) -> None:
    _, template = citizens
    # THEN the mapping reads the imported ARN, the DLQ URL is the imported DLQ's, and the grants name both
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": IMPORTED_QUEUE_ARN,
            "FunctionName": {"Ref": Match.string_like_regexp("^ImportedConsumer[0-9A-F]{8}$")},
        },
    )
    function = next(
        v
        for k, v in template.find_resources("AWS::Lambda::Function").items()
        if k.startswith("ImportedConsumer")
    )
    dlq_url = json.dumps(function["Properties"]["Environment"]["Variables"]["DEAD_LETTER_QUEUE_URL"])
    assert "orders-dlq" in dlq_url and "111111111111" in dlq_url
    statements = _statements(template, "ImportedConsumerRole")
    assert {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": IMPORTED_DLQ_ARN} in statements
    assert {
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Effect": "Allow",
        "Resource": IMPORTED_DLQ_KEY_ARN,
    } in statements


def test_aws_cdk_lib_apis_take_the_consumer(citizens: tuple[Stack, Template]) -> None:
    _, template = citizens
    function = _logical_id(template, "AWS::Lambda::Function", "PlainConsumer")
    # THEN the dashboard graphs its Errors metric
    body = json.dumps(template.find_resources("AWS::CloudWatch::Dashboard"))
    assert '\\"Errors\\"' in body and f'{{"Ref": "{function}"}}' in body
    # and the topic invokes it, with the permission LambdaSubscription adds
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "lambda", "Endpoint": {"Fn::GetAtt": [function, "Arn"]}},
    )
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "Principal": "sns.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [function, "Arn"]},
        },
    )
    # and grant_invoke gives the other role lambda:InvokeFunction on it (and its versions)
    assert _statements(template, "Invoker") == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": [
                {"Fn::GetAtt": [function, "Arn"]},
                {"Fn::Join": ["", [{"Fn::GetAtt": [function, "Arn"]}, ":*"]]},
            ],
        }
    ]


def test_reserved_concurrency_defaults_to_the_maximum_concurrency(citizens: tuple[Stack, Template]) -> None:
    _, template = citizens
    # THEN both consumers reserve what their event source may use at most
    for function in template.find_resources("AWS::Lambda::Function").values():
        assert function["Properties"]["ReservedConcurrentExecutions"] == DEFAULT_MAX_CONCURRENCY
    for mapping in template.find_resources("AWS::Lambda::EventSourceMapping").values():
        assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": DEFAULT_MAX_CONCURRENCY}


def test_log_groups_are_encrypted_with_a_key_cloudwatch_logs_may_use(
    citizens: tuple[Stack, Template],
) -> None:
    _, template = citizens
    # THEN each log group names its own rotated key
    keys = {k: v for k, v in template.find_resources("AWS::KMS::Key").items() if "LogKey" in k}
    assert len(keys) == 2
    for log_group_id, log_group in template.find_resources("AWS::Logs::LogGroup").items():
        key_id = log_group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]
        assert key_id.startswith(log_group_id.split("LogGroup")[0] + "LogKey")
        assert keys[key_id]["Properties"]["EnableKeyRotation"] is True
    # and each key policy lets CloudWatch Logs of the region use it for this account's log groups only
    for key in keys.values():
        logs_statements = [
            s for s in key["Properties"]["KeyPolicy"]["Statement"] if "Service" in s.get("Principal", {})
        ]
        assert len(logs_statements) == 1
        statement = logs_statements[0]
        assert statement["Principal"] == {
            "Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
        }
        assert statement["Condition"] == {
            "ArnLike": {
                "kms:EncryptionContext:aws:logs:arn": {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":logs:",
                            {"Ref": "AWS::Region"},
                            ":",
                            {"Ref": "AWS::AccountId"},
                            ":log-group:*",
                        ],
                    ]
                }
            }
        }
        assert statement["Action"] == [
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:Describe*",
        ]


def test_the_powertools_layer_is_an_ssm_typed_parameter_shared_by_the_consumers(
    citizens: tuple[Stack, Template],
) -> None:
    _, template = citizens
    # THEN the stack has exactly one SSM-typed parameter for the layer, both functions reference it
    parameters = _layer_parameters(template)
    assert list(parameters.values()) == [
        {"Type": "AWS::SSM::Parameter::Value<String>", "Default": POWERTOOLS_LAYER_PARAMETER}
    ]
    (parameter_id,) = parameters
    for function in template.find_resources("AWS::Lambda::Function").values():
        assert function["Properties"]["Layers"] == [{"Ref": parameter_id}]
    # and no dynamic reference is left (CloudFormation does not resolve public parameters that way)
    assert "{{resolve:ssm" not in json.dumps(template.to_json())


def test_fails_if_visibility_timeout_does_not_cover_the_batching_window() -> None:
    # GIVEN a plain queue with 180 s visibility: exactly 6 x the 30 s timeout, nothing for a batching window
    stack = Stack(App(), "WindowCheck")
    queue = sqs.Queue(stack, "Q", visibility_timeout=Duration.seconds(180))
    # WHEN a consumer waits up to 20 s to fill a batch THEN the error gives the value to set
    with pytest.raises(
        NotificationConfigError,
        match=r"\[WindowCheck/Fn\] queue visibility_timeout \(180s\) < 6 x function timeout \(30s\) \+ "
        r"max_batching_window \(20s\): set visibility_timeout=Duration.seconds\(200\) or more on WindowCheck/Q",
    ):
        QueueConsumerFunction(
            stack,
            "Fn",
            queue=queue,
            handler=HANDLER,
            batch_size=100,
            max_batching_window=Duration.seconds(20),
            park_permanent_failures=False,
        )


def test_the_visibility_timeout_of_a_plain_queue_defaults_to_the_sqs_default() -> None:
    # GIVEN a plain queue that sets no visibility timeout (SQS: 30 s)
    stack = Stack(App(), "DefaultVisibility")
    queue = sqs.Queue(stack, "Q")
    # WHEN a consumer with the 30 s default timeout is attached THEN 180 s is asked for
    with pytest.raises(NotificationConfigError, match=r"\(30s\) < 6 x .*Duration.seconds\(180\)"):
        QueueConsumerFunction(stack, "Fn", queue=queue, handler=HANDLER, park_permanent_failures=False)


def test_fails_if_the_dead_letter_queue_of_an_imported_queue_is_not_given() -> None:
    stack = Stack(App(), "NoDlq")
    queue = sqs.Queue.from_queue_arn(stack, "Imported", IMPORTED_QUEUE_ARN)
    with pytest.raises(
        NotificationConfigError,
        match=r"\[NoDlq/Fn\] park_permanent_failures=True but the DLQ of NoDlq/Imported is not known.*"
        r"pass dead_letter_queue=",
    ):
        QueueConsumerFunction(stack, "Fn", queue=queue, handler=HANDLER)


def test_an_imported_queue_needs_no_dead_letter_queue_without_parking() -> None:
    # GIVEN an imported queue and no parking
    stack = Stack(App(), "NoParking")
    fn = QueueConsumerFunction(
        stack,
        "Fn",
        queue=sqs.Queue.from_queue_arn(stack, "Imported", IMPORTED_QUEUE_ARN),
        handler=HANDLER,
        park_permanent_failures=False,
    )
    # THEN the function has no DLQ URL and nothing to park in
    assert fn.parking_queue is None
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"DEAD_LETTER_QUEUE_URL": Match.absent()})}},
    )


@pytest.mark.parametrize(
    ("kwargs", "reserved"),
    [
        ({}, DEFAULT_MAX_CONCURRENCY),
        ({"max_concurrency": 4}, 4),
        ({"max_concurrency": 5, "reserved_concurrent_executions": 20}, 20),
        ({"reserve_concurrency": False}, None),
        ({"max_concurrency": None}, None),
        ({"max_concurrency": None, "reserved_concurrent_executions": 3}, 3),
    ],
)
def test_reserved_concurrency_is_derived_from_the_maximum_concurrency(
    kwargs: dict[str, Any], reserved: int | None
) -> None:
    # GIVEN a consumer with the given concurrency settings
    stack = Stack(App(), "Reserved")
    fn = QueueConsumerFunction(stack, "Fn", queue=ProcessingQueue(stack, "Q"), handler=HANDLER, **kwargs)
    # THEN its reservation is as derived
    assert _cfn(fn).reserved_concurrent_executions == reserved


def test_fails_if_reserved_concurrency_is_below_the_maximum_concurrency() -> None:
    stack = Stack(App(), "Throttled")
    with pytest.raises(NotificationConfigError) as error:
        QueueConsumerFunction(
            stack,
            "Fn",
            queue=ProcessingQueue(stack, "Q"),
            handler=HANDLER,
            max_concurrency=5,
            reserved_concurrent_executions=3,
        )
    assert error.value.problems == [
        "[Throttled/Fn] reserved_concurrent_executions (3) < max_concurrency (5): Lambda would throttle the "
        "event source; reserve 5 or more, lower max_concurrency, or leave reserved_concurrent_executions "
        "unset to derive it"
    ]


def test_fails_if_a_reservation_is_given_with_reserve_concurrency_off() -> None:
    stack = Stack(App(), "Conflict")
    with pytest.raises(NotificationConfigError, match=r"reserved_concurrent_executions is given but reserve"):
        QueueConsumerFunction(
            stack,
            "Fn",
            queue=ProcessingQueue(stack, "Q"),
            handler=HANDLER,
            reserved_concurrent_executions=10,
            reserve_concurrency=False,
        )


def test_a_given_log_key_is_used_and_none_is_created() -> None:
    # GIVEN an imported key (its policy is the user's business)
    stack = Stack(App(), "GivenKey")
    key = kms.Key.from_key_arn(stack, "Key", IMPORTED_DLQ_KEY_ARN)
    fn = QueueConsumerFunction(
        stack, "Fn", queue=ProcessingQueue(stack, "Q"), handler=HANDLER, encryption_key=key
    )
    # THEN the log group uses it and no log key is created next to the function
    assert fn.log_encryption_key is key
    assert stack.node.try_find_child("FnLogKey") is None
    log_group = stack.node.find_child("FnLogGroup").node.default_child
    assert stack.resolve(log_group.kms_key_id) == IMPORTED_DLQ_KEY_ARN  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def tokens() -> Template:
    # GIVEN every numeric setting from a CfnParameter (known only at deploy time), on a plain queue whose
    # visibility timeout is a parameter too
    stack = Stack(App(), "Tokens")
    queue = sqs.Queue(
        stack,
        "Q",
        visibility_timeout=Duration.seconds(_number(stack, "Visibility")),
        dead_letter_queue=sqs.DeadLetterQueue(queue=sqs.Queue(stack, "Dlq"), max_receive_count=5),
    )
    QueueConsumerFunction(
        stack,
        "Fn",
        queue=queue,
        handler=HANDLER,
        timeout=Duration.seconds(_number(stack, "Timeout")),
        batch_size=_number(stack, "BatchSize"),
        max_concurrency=_number(stack, "MaxConcurrency"),
        memory_size=_number(stack, "Memory"),
    )
    # WHEN it synthesizes (no check may compare a token)
    return Template.from_stack(stack)


def test_token_settings_pass_through_unchecked(tokens: Template) -> None:
    # THEN every value is the parameter, and the reservation follows the maximum concurrency parameter
    tokens.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Timeout": {"Ref": "Timeout"},
            "MemorySize": {"Ref": "Memory"},
            "ReservedConcurrentExecutions": {"Ref": "MaxConcurrency"},
        },
    )
    tokens.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": {"Ref": "BatchSize"},
            "ScalingConfig": {"MaximumConcurrency": {"Ref": "MaxConcurrency"}},
        },
    )
    tokens.has_resource_properties("AWS::SQS::Queue", {"VisibilityTimeout": {"Ref": "Visibility"}})


def test_a_known_timeout_is_still_checked_against_a_token_free_queue() -> None:
    # GIVEN a token max_concurrency but a too-short known visibility timeout
    stack = Stack(App(), "Mixed")
    max_concurrency = _number(stack, "MaxConcurrency")
    queue = sqs.Queue(stack, "Q", visibility_timeout=Duration.seconds(60))
    # THEN only the known values are checked
    with pytest.raises(NotificationConfigError) as error:
        QueueConsumerFunction(
            stack,
            "Fn",
            queue=queue,
            handler=HANDLER,
            max_concurrency=max_concurrency,
            reserved_concurrent_executions=1,
            park_permanent_failures=False,
        )
    assert len(error.value.problems) == 1
    assert "visibility_timeout (60s)" in error.value.problems[0]
