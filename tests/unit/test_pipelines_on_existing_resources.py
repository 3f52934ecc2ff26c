"""Pipelines on existing resources: every topic, table and the configuration set can be supplied."""

from __future__ import annotations

from aws_cdk import App, Fn, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from notification_constructs import (
    BounceHandlingPipeline,
    EmailConfigurationSet,
    OrderConfirmationPipeline,
    SenderIdentity,
)

ACCOUNT, REGION = "111111111111", "eu-west-1"


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def test_a_stack_of_pipelines_on_imported_resources_synthesizes_and_creates_none_of_them() -> None:
    # GIVEN a stack whose topics, tables, key and configuration set all exist elsewhere
    app = App()
    stack = Stack(app, "Imported", env={"account": ACCOUNT, "region": REGION})
    key = kms.Key.from_key_arn(stack, "Key", _arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab"))
    order_topic = sns.Topic.from_topic_attributes(
        stack, "OrderEvents", topic_arn=_arn("sns", "order-events"), key_arn=key.key_arn
    )
    alerts = sns.Topic.from_topic_arn(stack, "Alerts", Fn.import_value("SupportAlertsTopicArn"))
    events = EmailConfigurationSet(stack, "Config")
    imported_config = ses.ConfigurationSet.from_configuration_set_name(stack, "Shared", "shared-config")

    def table(name: str) -> dynamodb.ITable:
        return dynamodb.Table.from_table_attributes(
            stack, name, table_arn=_arn("dynamodb", f"table/{name}"), encryption_key=key
        )

    bounces = BounceHandlingPipeline(
        stack,
        "Bounces",
        configuration_set=events,
        suppression_table=table("suppression"),
        soft_bounce_table=table("soft-bounces"),
        alert_topic=alerts,
        encryption_key=key,
    )
    orders = OrderConfirmationPipeline(
        stack,
        "Orders",
        sender=SenderIdentity(stack, "Sender", domain="example.com"),
        configuration_set=imported_config,
        from_address="orders@example.com",
        suppression_table=bounces.suppression_table,
        topic=order_topic,
        orders_table=table("orders"),
        idempotency_table=table("idempotency"),
        alarm_topic=alerts,
        encryption_key=key,
    )
    # WHEN it synthesizes
    template = Template.from_stack(stack)
    # THEN no table and no key is created, and the only topic is the SES-events topic of the bounce pipeline
    template.resource_count_is("AWS::DynamoDB::Table", 0)
    keys = template.find_resources("AWS::KMS::Key")
    assert not [k for k in keys if "DataKey" in k or "LogKey" in k]  # tables and log groups use the given key
    assert len(template.find_resources("AWS::SNS::Topic")) == 1
    # AND the consumers use what was supplied: the imported topic feeds the order queues, the shared
    # configuration set is the one the sender sends with, alarms notify the imported alert topic
    subscriptions = template.find_resources("AWS::SNS::Subscription")
    assert (
        sum(s["Properties"]["TopicArn"] == _arn("sns", "order-events") for s in subscriptions.values()) == 2
    )
    sender_env = next(
        f["Properties"]["Environment"]["Variables"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"].startswith("lambda_handlers.order_email_sender")
    )
    assert sender_env["CONFIGURATION_SET_NAME"] == "shared-config"
    assert sender_env["IDEMPOTENCY_TABLE_NAME"] == "idempotency"
    assert sender_env["SUPPRESSION_TABLE_NAME"] == "suppression"
    alarm_actions = [
        a["Properties"].get("AlarmActions")
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
    ]
    assert alarm_actions and all(
        actions == [{"Fn::ImportValue": "SupportAlertsTopicArn"}] for actions in alarm_actions if actions
    )
    assert orders.topic is order_topic and bounces.alert_topic is alerts
