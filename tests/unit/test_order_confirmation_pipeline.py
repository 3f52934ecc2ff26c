"""OrderConfirmationPipeline wiring: fan-out by filter policy, redrive, partial batches, scoped grants."""

import re

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Match, Template

from notification_constructs import (
    EmailConfigurationSet,
    NotificationConfigError,
    OrderConfirmationPipeline,
    OrderConfirmationTemplate,
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
    assert actions_on(sender, "BouncesSuppressionTable") == {"dynamodb:GetItem"}
    assert actions_on(sender, "OrdersIdempotencyTable") == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
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
    assert actions_on(statements, "OrdersOrderEventsKey") == {"kms:GenerateDataKey", "kms:Decrypt"}


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
