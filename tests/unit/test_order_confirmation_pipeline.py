"""OrderConfirmationPipeline wiring: fan-out by filter policy, redrive, partial batches, scoped grants."""

import fnmatch
import re
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from notification_constructs import (
    EmailConfigurationSet,
    NotificationConfigError,
    NotificationTopic,
    OrderConfirmationPipeline,
    OrderConfirmationTemplate,
    ProcessingQueue,
    SenderIdentity,
)
from notification_constructs import (
    OrderConfirmationPipeline as Pipeline,
)
from tests.unit.pipeline_stack import actions_on, build, statements_of


@pytest.fixture(scope="module")
def built() -> tuple[Pipeline, Template]:
    orders, _, template = build()
    return orders, template


def test_both_queues_subscribe_with_the_order_placed_filter(built: tuple[Pipeline, Template]) -> None:
    _, template = built
    subscriptions = [
        s["Properties"]
        for s in template.find_resources("AWS::SNS::Subscription").values()
        if "OrdersOrderEvents" in str(s["Properties"]["TopicArn"])
    ]
    assert len(subscriptions) == 2
    for subscription in subscriptions:
        assert subscription["FilterPolicy"] == {"event_type": ["order.placed"]}
        assert subscription["RawMessageDelivery"] is True
        assert "deadLetterTargetArn" in subscription["RedrivePolicy"]


def test_queues_redrive_to_dlqs(built: tuple[Pipeline, Template]) -> None:
    _, template = built
    queues = template.find_resources("AWS::SQS::Queue")
    for prefix in ("OrdersWriterQueue", "OrdersEmailQueue"):
        queue = next(v for k, v in queues.items() if re.fullmatch(prefix + "[0-9A-F]{8}", k))
        assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5


def test_consumers_report_batch_item_failures_and_sender_concurrency_is_capped(
    built: tuple[Pipeline, Template],
) -> None:
    _, template = built
    mappings = template.find_resources("AWS::Lambda::EventSourceMapping")
    writer = next(v for k, v in mappings.items() if k.startswith("OrdersWriter"))["Properties"]
    sender = next(v for k, v in mappings.items() if k.startswith("OrdersEmailSender"))["Properties"]
    assert writer["FunctionResponseTypes"] == sender["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert sender["ScalingConfig"] == {"MaximumConcurrency": 2}


def test_handlers_and_their_configuration(built: tuple[Pipeline, Template]) -> None:
    _, template = built
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "lambda_handlers.order_writer.handler.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {"ORDERS_TABLE_NAME": {"Ref": Match.string_like_regexp("OrdersOrdersTable")}}
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "lambda_handlers.order_email_sender.handler.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "SENDER_ADDRESS": "Shop <orders@example.com>",
                        "CONFIGURATION_SET_NAME": {
                            "Ref": Match.string_like_regexp(r"^Config(ConfigurationSet)?[0-9A-F]{8}$")
                        },
                        "TEMPLATE_NAME": {"Ref": Match.string_like_regexp("OrdersTemplate")},
                        "SUPPRESSION_TABLE_NAME": {
                            "Ref": Match.string_like_regexp("BouncesSuppressionTable")
                        },
                        "IDEMPOTENCY_TABLE_NAME": {"Ref": Match.string_like_regexp("OrdersIdempotencyTable")},
                        "DEAD_LETTER_QUEUE_URL": {
                            "Ref": Match.string_like_regexp("OrdersEmailQueueDeadLetterQueue")
                        },
                    }
                )
            },
        },
    )


def test_sender_may_send_only_as_its_address_through_identity_config_set_and_template(
    built: tuple[Pipeline, Template],
) -> None:
    _, template = built
    statements = statements_of(template, "OrdersEmailSenderRole")
    ses = [s for s in statements if "ses:SendEmail" in s["Action"]]
    assert len(ses) == 1
    assert ses[0]["Condition"] == {"StringEquals": {"ses:FromAddress": "orders@example.com"}}
    resources = str(ses[0]["Resource"])
    for fragment in (":identity/example.com", ":configuration-set/", ":template/"):
        assert fragment in resources
    assert all(s["Resource"] != "*" or s["Action"][0].startswith("xray:") for s in statements)


def test_table_grants_are_per_action(built: tuple[Pipeline, Template]) -> None:
    _, template = built
    writer = statements_of(template, "OrdersWriterRole")
    assert actions_on(writer, "OrdersOrdersTable") == {"dynamodb:PutItem"}
    sender = statements_of(template, "OrdersEmailSenderRole")
    # one record reads alone (GetItem), a batch at once (BatchGetItem)
    assert actions_on(sender, "BouncesSuppressionTable") == {"dynamodb:GetItem", "dynamodb:BatchGetItem"}
    # claims are conditional puts (also in TransactWriteItems), completions and releases one BatchWriteItem
    assert actions_on(sender, "OrdersIdempotencyTable") == {
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    }


def test_tables_have_pitr_and_the_idempotency_ttl(built: tuple[Pipeline, Template]) -> None:
    _, template = built
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {"KeySchema": [{"AttributeName": "order_id", "KeyType": "HASH"}], "DeletionProtectionEnabled": True},
    )


def test_confirmation_template_has_html_and_text_parts(built: tuple[Pipeline, Template]) -> None:
    _, template = built
    template.has_resource_properties(
        "AWS::SES::Template",
        {
            "Template": {
                "SubjectPart": "Your order {{order_id}} is confirmed",
                "HtmlPart": Match.string_like_regexp(r"{{#each html.items}}"),
                "TextPart": Match.string_like_regexp(r"Total: {{total}} {{currency}}"),
            }
        },
    )


def test_grant_publish_gives_the_app_publish_and_the_key(built: tuple[Pipeline, Template]) -> None:
    _, template = built
    statements = statements_of(template, "ShopApp")
    assert actions_on(statements, "{'Ref': 'OrdersOrderEvents") == {"sns:Publish"}
    assert actions_on(statements, "OrdersDataKey") == {"kms:GenerateDataKey", "kms:Decrypt"}


def test_message_body_filtering() -> None:
    stack = Stack(App(), "Body")
    config = EmailConfigurationSet(stack, "Config")
    sender = SenderIdentity(stack, "Sender", domain="example.com")
    from aws_cdk import aws_dynamodb as dynamodb

    table = dynamodb.Table.from_table_name(stack, "Suppression", "suppression")
    OrderConfirmationPipeline(
        stack,
        "Orders",
        sender=sender,
        configuration_set=config,
        from_address="orders@example.com",
        suppression_table=table,
        filter_on_message_body=True,
        use_template=False,
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"FilterPolicyScope": "MessageBody", "FilterPolicy": {"event_type": ["order.placed"]}},
    )
    template.resource_count_is("AWS::SES::Template", 0)


def test_fails_if_from_address_is_outside_the_identity() -> None:
    stack = Stack(App(), "Outside")
    config = EmailConfigurationSet(stack, "Config")
    sender = SenderIdentity(stack, "Sender", domain="example.com")
    from aws_cdk import aws_dynamodb as dynamodb

    table = dynamodb.Table.from_table_name(stack, "Suppression", "suppression")
    with pytest.raises(NotificationConfigError) as error:
        OrderConfirmationPipeline(
            stack,
            "Orders",
            sender=sender,
            configuration_set=config,
            from_address="orders@example.org",
            suppression_table=table,
            max_send_concurrency=1,
        )
    text = "\n".join(error.value.problems)
    assert "from_address 'orders@example.org' is not covered by the SES identity 'example.com'" in text
    assert "max_send_concurrency 1" in text


def test_fails_if_the_template_uses_data_the_sender_does_not_send() -> None:
    stack = Stack(App(), "Tpl")
    with pytest.raises(NotificationConfigError, match=r"text uses \['coupon_code'\]"):
        OrderConfirmationTemplate(stack, "Template", text="Hi {{customer_name}}, use {{coupon_code}}")


# --- one key per pipeline ------------------------------------------------------------------------------


#: Pseudo parameters of a deployment of the "Pipelines" stack.
DEPLOYED = {
    "AWS::Partition": "aws",
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "111111111111",
    "AWS::StackName": "Pipelines",
}


def render(value: Any) -> str:
    """A CloudFormation string value as text: ``Fn::Join`` joined, a ``Ref`` written ``${Name}``."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    separator, parts = value["Fn::Join"]
    return str(separator).join(render(p) for p in parts)


def sns_key_statements(template: Template, key_prefix: str) -> list[dict[str, Any]]:
    [key] = [v for k, v in template.find_resources("AWS::KMS::Key").items() if k.startswith(key_prefix)]
    return [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "sns.amazonaws.com"}
    ]


def test_synthesis_rejects_a_key_policy_naming_a_topic_on_that_key() -> None:
    # GIVEN the naive wiring: a topic on a key whose policy names the topic's ARN
    stack = Stack(App(), "Naive")
    key = kms.Key(stack, "Key")
    topic = sns.Topic(stack, "Topic", master_key=key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("sns.amazonaws.com")],
            actions=["kms:Decrypt"],
            resources=["*"],
            conditions={"ArnEquals": {"aws:SourceArn": topic.topic_arn}},
        )
    )
    # THEN synthesis refuses the template (so a template that synthesizes has no such cycle)
    with pytest.raises(RuntimeError, match=r"dependency cycle: Key\w* -> Topic\w* -> Key"):
        Template.from_stack(stack)


def test_one_key_encrypts_topic_queues_tables_and_logs_without_a_dependency_cycle(
    built: tuple[Pipeline, Template],
) -> None:
    # GIVEN the pipeline with its own key
    orders, template = built

    # THEN the topic, both queues and both DLQs, both tables and both log groups use DataKey ...
    def key_of(type_: str, prefix: str, *path: str) -> list[str]:
        found = []
        for logical_id, resource in template.find_resources(type_).items():
            if logical_id.startswith(prefix):
                value = resource["Properties"]
                for step in path:
                    value = value[step]
                found.append(render(value))
        return found

    used = [
        *key_of("AWS::SNS::Topic", "OrdersOrderEvents", "KmsMasterKeyId"),
        *key_of("AWS::SQS::Queue", "Orders", "KmsMasterKeyId"),
        *key_of("AWS::DynamoDB::Table", "Orders", "SSESpecification", "KMSMasterKeyId"),
        *key_of("AWS::Logs::LogGroup", "Orders", "KmsKeyId"),
    ]
    assert len(used) == 1 + 4 + 2 + 2
    assert all(u.startswith("${OrdersDataKey") for u in used), used
    # ... and the pipeline has no other key
    assert [k for k in template.find_resources("AWS::KMS::Key") if k.startswith("Orders")] == [
        Stack.of(orders).resolve(Stack.of(orders).get_logical_id(orders.encryption_key.node.default_child))  # type: ignore[arg-type]
    ]
    # AND it synthesized: no key -> topic -> key cycle (Template.from_stack rejects one, see above)


def test_sns_may_use_the_key_only_for_this_stacks_topics_of_this_account(
    built: tuple[Pipeline, Template],
) -> None:
    orders, template = built
    # GIVEN the key-policy statements for SNS (one per subscribed queue; CDK merges identical ones)
    statements = sns_key_statements(template, "OrdersDataKey")
    assert statements
    for statement in statements:
        condition = statement["Condition"]
        # THEN the account is pinned, and the source is a topic of this stack by name pattern, not the
        # topic's own ARN (a reference to it would close the cycle)
        assert condition["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        pattern = render(condition["ArnLike"]["aws:SourceArn"])
        assert pattern == "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-*"
        # AND a name CloudFormation generates for the topic (stack-logicalId-suffix) matches it
        logical_id = Stack.of(orders).resolve(
            Stack.of(orders).get_logical_id(orders.topic.node.default_child)
        )  # type: ignore[arg-type]
        concrete = re.sub(r"\$\{([^}]+)\}", lambda m: DEPLOYED[m.group(1)], pattern)
        generated = f"arn:aws:sns:eu-west-1:111111111111:Pipelines-{logical_id}-1A2B3C4D5E6F"
        assert fnmatch.fnmatchcase(generated, concrete)
        assert not fnmatch.fnmatchcase("arn:aws:sns:eu-west-1:111111111111:OtherStack-Topic-1A2B", concrete)
        assert not fnmatch.fnmatchcase(generated.replace("111111111111", "222222222222"), concrete)


def test_a_named_topic_on_the_key_is_named_exactly_and_an_imported_key_leaves_topic_and_queues_their_own() -> (
    None
):
    # GIVEN a pipeline whose key is imported
    stack = Stack(App(), "ImportedKey", env={"account": "111111111111", "region": "eu-west-1"})
    key = kms.Key.from_key_arn(
        stack, "Key", "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    OrderConfirmationPipeline(
        stack,
        "Orders",
        sender=SenderIdentity(stack, "Sender", domain="example.com"),
        configuration_set=EmailConfigurationSet(stack, "Config"),
        from_address="orders@example.com",
        suppression_table=dynamodb.Table.from_table_name(stack, "Suppression", "suppression"),
        encryption_key=key,
        use_template=False,
    )
    template = Template.from_stack(stack)
    # THEN the topic and the queues keep keys of their own (an imported key's policy cannot let SNS in) ...
    own = {k.rstrip("0123456789ABCDEF") for k in template.find_resources("AWS::KMS::Key")}
    assert own == {"OrdersOrderEventsKey", "OrdersWriterQueueKey", "OrdersEmailQueueKey"}
    # ... whose SNS statements name the topic itself
    for prefix in ("OrdersWriterQueueKey", "OrdersEmailQueueKey"):
        [statement] = sns_key_statements(template, prefix)
        assert render(statement["Condition"]["ArnLike"]["aws:SourceArn"]).startswith("${OrdersOrderEvents")

    # GIVEN a queue on the key of a topic with a given name   THEN SNS is scoped to exactly that ARN
    stack = Stack(App(), "Named")
    shared = kms.Key(stack, "Shared")
    topic = NotificationTopic(
        stack, "Topic", topic_name="order-events", encryption_key=shared, publishing_services=()
    )
    ProcessingQueue(stack, "Queue", encryption_key=shared).subscribe_to(topic)
    template = Template.from_stack(stack)
    [statement] = sns_key_statements(template, "Shared")
    assert render(statement["Condition"]["ArnLike"]["aws:SourceArn"]) == (
        "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:order-events"
    )


def _sender_pipeline(stack: Stack, **options: Any) -> OrderConfirmationPipeline:
    return OrderConfirmationPipeline(
        stack,
        "Orders",
        sender=SenderIdentity(stack, "Sender", domain="example.com"),
        configuration_set=EmailConfigurationSet(stack, "Config"),
        from_address="orders@example.com",
        suppression_table=dynamodb.Table.from_table_name(stack, "Suppression", "suppression"),
        **options,
    )


def _sender_settings(stack: Stack) -> tuple[Any, dict[str, Any]]:
    template = Template.from_stack(stack)
    mapping = next(
        v for k, v in template.find_resources("AWS::Lambda::EventSourceMapping").items() if "EmailSender" in k
    )
    function = next(
        v
        for k, v in template.find_resources("AWS::Lambda::Function").items()
        if k.startswith("OrdersEmailSender")
    )
    return mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"], function["Properties"][
        "Environment"
    ]["Variables"]


@pytest.mark.parametrize(
    ("options", "concurrency", "share"),
    [
        ({}, 2, None),  # no rate: the SQS minimum, no pacing
        ({"max_send_rate": 14}, 2, "7"),  # the concurrency follows from the rate: 14 / 10 -> 2
        ({"max_send_rate": 95}, 10, "9.5"),
        ({"max_send_rate": 14, "max_send_concurrency": 4}, 4, "3.5"),  # an explicit concurrency shares it
    ],
)
def test_the_send_rate_sets_the_senders_concurrency_and_each_ones_share(
    options: dict[str, Any], concurrency: int, share: str | None
) -> None:
    stack = Stack(App(), "Rate")
    _sender_pipeline(stack, **options)
    max_concurrency, env = _sender_settings(stack)
    assert max_concurrency == concurrency
    assert env.get("SEND_RATE_PER_SECOND") == share


@pytest.mark.parametrize("rate", [0, -1, 0.001])
def test_fails_if_the_send_rate_gives_an_invocation_no_usable_share(rate: float) -> None:
    stack = Stack(App(), "BadRate")
    with pytest.raises(
        NotificationConfigError, match=f"max_send_rate {rate}: must give each of the 2 sender"
    ):
        _sender_pipeline(stack, max_send_rate=rate)
