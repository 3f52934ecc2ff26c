"""Pipelines on existing resources: identity, configuration set, topics, tables and key can all be supplied."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Fn, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from notification_constructs import (
    BounceHandlingPipeline,
    EmailConfigurationSet,
    NotificationConfigError,
    OrderConfirmationPipeline,
)
from tests.unit.pipeline_stack import statements_of
from tests.unit.test_order_confirmation_pipeline import render

ACCOUNT, REGION = "111111111111", "eu-west-1"


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def _env() -> dict[str, str]:
    return {"account": ACCOUNT, "region": REGION}


@pytest.fixture(scope="module")
def imported() -> tuple[OrderConfirmationPipeline, BounceHandlingPipeline, Template]:
    # GIVEN a stack whose identity, configuration set, topics, tables and key all exist elsewhere
    stack = Stack(App(), "Imported", env=_env())
    key = kms.Key.from_key_arn(stack, "Key", _arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab"))
    order_topic = sns.Topic.from_topic_attributes(
        stack, "OrderEvents", topic_arn=_arn("sns", "order-events"), key_arn=key.key_arn
    )
    ses_events = sns.Topic.from_topic_attributes(
        stack, "SesEvents", topic_arn=_arn("sns", "ses-events"), key_arn=key.key_arn
    )
    alerts = sns.Topic.from_topic_arn(stack, "Alerts", Fn.import_value("SupportAlertsTopicArn"))
    config = ses.ConfigurationSet.from_configuration_set_name(stack, "Shared", "shared-config")
    identity = ses.EmailIdentity.from_email_identity_name(stack, "Identity", "example.com")

    def table(name: str) -> dynamodb.ITable:
        return dynamodb.Table.from_table_attributes(
            stack, name, table_arn=_arn("dynamodb", f"table/{name}"), encryption_key=key
        )

    bounces = BounceHandlingPipeline(
        stack,
        "Bounces",
        configuration_set=config,
        topic=ses_events,
        suppression_table=table("suppression"),
        soft_bounce_table=table("soft-bounces"),
        alert_topic=alerts,
        encryption_key=key,
    )
    orders = OrderConfirmationPipeline(
        stack,
        "Orders",
        sender=identity,
        configuration_set=config,
        from_address="Shop <orders@example.com>",
        suppression_table=bounces.suppression_table,
        topic=order_topic,
        orders_table=table("orders"),
        idempotency_table=table("idempotency"),
        alarm_topic=alerts,
        encryption_key=key,
    )
    # WHEN it synthesizes
    return orders, bounces, Template.from_stack(stack)


def _sender_env(template: Template) -> dict[str, Any]:
    return next(
        f["Properties"]["Environment"]["Variables"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"].startswith("lambda_handlers.order_email_sender")
    )


def test_a_stack_of_pipelines_on_imported_resources_creates_none_of_them(
    imported: tuple[OrderConfirmationPipeline, BounceHandlingPipeline, Template],
) -> None:
    orders, bounces, template = imported
    # THEN no table, topic, configuration set, identity or key is created (queues keep keys of their own:
    # an imported key's policy cannot let SNS in)
    for type_ in (
        "AWS::DynamoDB::Table",
        "AWS::SNS::Topic",
        "AWS::SES::ConfigurationSet",
        "AWS::SES::EmailIdentity",
    ):
        template.resource_count_is(type_, 0)
    keys = template.find_resources("AWS::KMS::Key")
    assert not [k for k in keys if "DataKey" in k or "LogKey" in k]  # tables and log groups use the given key
    assert {k.rstrip("0123456789ABCDEF") for k in keys} == {
        "OrdersWriterQueueKey",
        "OrdersEmailQueueKey",
        "BouncesQueueKey",
    }
    # AND the consumers use what was supplied: the imported topics feed the queues, the shared
    # configuration set is the one the sender sends with, alarms notify the imported alert topic
    topics = [s["Properties"]["TopicArn"] for s in template.find_resources("AWS::SNS::Subscription").values()]
    assert sorted(topics) == [_arn("sns", "order-events")] * 2 + [_arn("sns", "ses-events")]
    sender_env = _sender_env(template)
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
    assert orders.topic.topic_arn == _arn("sns", "order-events") and bounces.topic.topic_arn == _arn(
        "sns", "ses-events"
    )


def test_the_imported_configuration_set_publishes_its_events_to_the_pipeline_topic(
    imported: tuple[OrderConfirmationPipeline, BounceHandlingPipeline, Template],
) -> None:
    _, bounces, template = imported
    [destination] = template.find_resources("AWS::SES::ConfigurationSetEventDestination").values()
    properties = destination["Properties"]
    assert properties["ConfigurationSetName"] == "shared-config"
    assert properties["EventDestination"]["SnsDestination"] == {"TopicARN": _arn("sns", "ses-events")}
    assert {"bounce", "complaint"} <= set(properties["EventDestination"]["MatchingEventTypes"])
    assert bounces.event_destination.node.path == "Imported/Bounces/EventDestination"


def test_the_sender_may_send_only_from_the_imported_identity_and_address(
    imported: tuple[OrderConfirmationPipeline, BounceHandlingPipeline, Template],
) -> None:
    orders, _, template = imported
    assert orders.template is not None
    stack = Stack.of(orders)
    template_name = render(stack.resolve(orders.template.template_name))  # created here: a reference
    [send] = [s for s in statements_of(template, "OrdersEmailSenderRole") if s["Action"] == "ses:SendEmail"]
    assert [render(r) for r in send["Resource"]] == [
        "arn:${AWS::Partition}:ses:eu-west-1:111111111111:identity/example.com",
        "arn:${AWS::Partition}:ses:eu-west-1:111111111111:configuration-set/shared-config",
        f"arn:${{AWS::Partition}}:ses:eu-west-1:111111111111:template/{template_name}",
    ]
    assert send["Condition"] == {"StringEquals": {"ses:FromAddress": "orders@example.com"}}


def test_ses_may_publish_to_the_pipeline_topic_only_for_an_imported_configuration_set() -> None:
    # GIVEN the bounce pipeline's own topic and key, for a configuration set imported by name
    stack = Stack(App(), "ImportedConfig", env=_env())
    config = ses.ConfigurationSet.from_configuration_set_name(stack, "Shared", "shared-config")
    BounceHandlingPipeline(stack, "Bounces", configuration_set=config)
    template = Template.from_stack(stack)
    # THEN every statement letting SES in (key policy, our topic statement, aws-cdk-lib's destination
    # statement) is scoped to that configuration set
    [key] = [v for k, v in template.find_resources("AWS::KMS::Key").items() if k.startswith("BouncesDataKey")]
    [policy] = [
        v
        for k, v in template.find_resources("AWS::SNS::TopicPolicy").items()
        if k.startswith("BouncesSesEvents")
    ]
    statements = [
        s
        for document in (key["Properties"]["KeyPolicy"], policy["Properties"]["PolicyDocument"])
        for s in document["Statement"]
        if s.get("Principal") == {"Service": "ses.amazonaws.com"}
    ]
    assert len(statements) == 3
    for statement in statements:
        conditions = {
            k.lower(): render(v) for block in statement["Condition"].values() for k, v in block.items()
        }
        assert conditions["aws:sourcearn"].endswith(":configuration-set/shared-config"), statement
        assert conditions["aws:sourceaccount"] in {ACCOUNT, "${AWS::AccountId}"}


def _orders(stack: Stack, identity: ses.IEmailIdentity, from_address: str) -> OrderConfirmationPipeline:
    return OrderConfirmationPipeline(
        stack,
        "Orders",
        sender=identity,
        configuration_set=EmailConfigurationSet(stack, "Config"),
        from_address=from_address,
        suppression_table=dynamodb.Table.from_table_name(stack, "Suppression", "suppression"),
        use_template=False,
    )


@pytest.mark.parametrize(
    ("identity_name", "from_address"),
    [("example.com", "orders@example.org"), ("orders@example.com", "sales@example.com")],
)
def test_fails_if_from_address_is_outside_an_imported_identity(identity_name: str, from_address: str) -> None:
    stack = Stack(App(), "Outside", env=_env())
    identity = ses.EmailIdentity.from_email_identity_name(stack, "Identity", identity_name)
    with pytest.raises(
        NotificationConfigError, match=f"is not covered by the SES identity '{identity_name}'"
    ):
        _orders(stack, identity, from_address)


def test_an_identity_known_only_at_deploy_time_is_not_checked_against_from_address() -> None:
    # GIVEN identities whose names are tokens: imported from an export, and one created in the app
    stack = Stack(App(), "Tokens", env=_env())
    exported = ses.EmailIdentity.from_email_identity_name(
        stack, "Exported", Fn.import_value("SenderIdentity")
    )
    created = ses.EmailIdentity(stack, "Created", identity=ses.Identity.domain("example.net"))
    # WHEN pipelines send from them   THEN they build, and the grant names the identity's ARN
    _orders(stack, exported, "orders@example.com")
    OrderConfirmationPipeline(
        stack,
        "Orders2",
        sender=created,
        configuration_set=ses.ConfigurationSet.from_configuration_set_name(stack, "Shared", "shared"),
        from_address="orders@example.net",
        suppression_table=dynamodb.Table.from_table_name(stack, "Suppression2", "suppression"),
        use_template=False,
    )
    template = Template.from_stack(stack)
    [send] = [s for s in statements_of(template, "OrdersEmailSenderRole") if s["Action"] == "ses:SendEmail"]
    assert "Fn::ImportValue" in str(send["Resource"][0])
    [send2] = [s for s in statements_of(template, "Orders2EmailSenderRole") if s["Action"] == "ses:SendEmail"]
    assert "${Created" in render(send2["Resource"][0])


def test_every_function_of_both_pipelines_runs_in_the_given_vpc_subnets_and_security_groups() -> None:
    # GIVEN an existing VPC and security group, passed to both pipelines
    stack = Stack(App(), "InVpc", env=_env())
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["eu-west-1a", "eu-west-1b"],
        private_subnet_ids=["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
        isolated_subnet_ids=["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
    )
    group = ec2.SecurityGroup.from_security_group_id(stack, "Group", "sg-0123456789abcdef0")
    network: dict[str, Any] = {
        "vpc": vpc,
        "vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        "security_groups": [group],
    }
    config = EmailConfigurationSet(stack, "Config")
    bounces = BounceHandlingPipeline(stack, "Bounces", configuration_set=config, **network)
    OrderConfirmationPipeline(
        stack,
        "Orders",
        sender=ses.EmailIdentity.from_email_identity_name(stack, "Identity", "example.com"),
        configuration_set=config,
        from_address="orders@example.com",
        suppression_table=bounces.suppression_table,
        use_template=False,
        **network,
    )
    # WHEN it synthesizes   THEN the writer, the sender and the processor all run there
    functions = Template.from_stack(stack).find_resources("AWS::Lambda::Function")
    assert len(functions) == 3
    for function in functions.values():
        assert function["Properties"]["VpcConfig"] == {
            "SubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
            "SecurityGroupIds": ["sg-0123456789abcdef0"],
        }
