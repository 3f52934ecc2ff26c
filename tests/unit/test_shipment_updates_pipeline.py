"""ShipmentUpdatesPipeline wiring: filter policies, environment, scoped grants, alarms, partner webhooks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Match, Template

from notification_constructs import (
    BounceHandlingPipeline,
    EmailConfigurationSet,
    NotificationConfigError,
    SenderIdentity,
)
from notification_constructs.pipelines.shipment_updates_pipeline import (
    ShipmentUpdatesPipeline,
    ShipmentUpdateTemplate,
)
from tests.support.validators import add_nag_packs, synth_with_nag
from tests.unit.pipeline_stack import actions_on, statements_of


def _stack() -> tuple[Stack, EmailConfigurationSet, SenderIdentity, BounceHandlingPipeline]:
    stack = Stack(App(), "Shipping")
    config = EmailConfigurationSet(stack, "Config", configuration_set_name="orders")
    sender = SenderIdentity(stack, "Sender", domain="example.com")
    bounces = BounceHandlingPipeline(stack, "Bounces", configuration_set=config)
    return stack, config, sender, bounces


@pytest.fixture(scope="module")
def built() -> tuple[ShipmentUpdatesPipeline, Template]:
    stack, config, sender, bounces = _stack()
    pipeline = ShipmentUpdatesPipeline(
        stack,
        "Shipments",
        sender=sender,
        configuration_set=config,
        from_address="Shop <orders@example.com>",
        suppression_table=bounces.suppression_table,
        sms_sender_id="Shop",
        alarm_topic=bounces.alert_topic,
    )
    pipeline.add_partner_webhook(
        "Acme", "https://hooks.acme.example/shipments", statuses=["delivered", "exception"], partner="acme"
    )
    pipeline.add_partner_webhook("Everything", "https://hooks.other.example/all")
    return pipeline, Template.from_stack(stack)


def _subscriptions(template: Template, topic_fragment: str) -> list[dict[str, Any]]:
    return [
        s["Properties"]
        for s in template.find_resources("AWS::SNS::Subscription").values()
        if topic_fragment in json.dumps(s["Properties"]["TopicArn"])
    ]


def test_the_queue_subscribes_to_shipment_updated_events_only(
    built: tuple[ShipmentUpdatesPipeline, Template],
) -> None:
    _, template = built
    [subscription] = _subscriptions(template, "ShipmentsShipmentEvents")
    assert subscription["Protocol"] == "sqs"
    assert subscription["FilterPolicy"] == {"event_type": ["shipment.updated"]}
    assert "deadLetterTargetArn" in subscription["RedrivePolicy"]


def test_the_notifier_is_configured_from_the_contract(
    built: tuple[ShipmentUpdatesPipeline, Template],
) -> None:
    _, template = built
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "lambda_handlers.shipment_notifier.handler.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "SENDER_ADDRESS": "Shop <orders@example.com>",
                        "CONFIGURATION_SET_NAME": {"Ref": Match.string_like_regexp("^Config")},
                        "TEMPLATE_NAME": {"Ref": Match.string_like_regexp("ShipmentsTemplate")},
                        "SUPPRESSION_TABLE_NAME": {
                            "Ref": Match.string_like_regexp("BouncesSuppressionTable")
                        },
                        "SHIPMENT_STATE_TABLE_NAME": {"Ref": Match.string_like_regexp("ShipmentsStateTable")},
                        "PARTNER_TOPIC_ARN": {"Ref": Match.string_like_regexp("ShipmentsPartnerWebhooks")},
                        "SMS_SENDER_ID": "Shop",
                        "DEAD_LETTER_QUEUE_URL": {
                            "Ref": Match.string_like_regexp("ShipmentsQueueDeadLetterQueue")
                        },
                        "POWERTOOLS_SERVICE_NAME": "shipment_notifier",
                    }
                )
            },
        },
    )
    mappings = template.find_resources("AWS::Lambda::EventSourceMapping")
    mapping = next(v for k, v in mappings.items() if k.startswith("ShipmentsNotifier"))["Properties"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}


def test_the_state_table_is_keyed_by_order_id_with_a_ttl(
    built: tuple[ShipmentUpdatesPipeline, Template],
) -> None:
    _, template = built
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "order_id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "SSESpecification": Match.object_like({"SSEEnabled": True, "SSEType": "KMS"}),
        },
    )


def test_grants_are_scoped_per_resource_and_action(built: tuple[ShipmentUpdatesPipeline, Template]) -> None:
    _, template = built
    statements = statements_of(template, "ShipmentsNotifierRole")
    # THEN the tables get exactly the actions the handler uses
    assert actions_on(statements, "ShipmentsStateTable") == {"dynamodb:UpdateItem"}
    assert actions_on(statements, "BouncesSuppressionTable") == {"dynamodb:GetItem"}
    # AND SES may send only as the sender address through the identity, the config set and the template
    [ses] = [s for s in statements if "ses:SendEmail" in s["Action"]]
    assert ses["Condition"] == {"StringEquals": {"ses:FromAddress": "orders@example.com"}}
    for fragment in (":identity/example.com", ":configuration-set/", ":template/", "ShipmentsTemplate"):
        assert fragment in json.dumps(ses["Resource"])
    # AND the partner topic is named; the only '*' is what SMS needs, and nothing else is on '*'
    assert actions_on(statements, "ShipmentsPartnerWebhooks") >= {"sns:Publish"}
    wildcard = [s for s in statements if s["Resource"] == "*"]
    assert [sorted(s["Action"]) for s in wildcard] == [["sns:CheckIfPhoneNumberIsOptedOut", "sns:Publish"]]


def test_the_pipeline_is_clean_under_cdk_nag(tmp_path: Any) -> None:
    # GIVEN AwsSolutions + Serverless and the pipeline with a partner webhook
    app = App(outdir=str(tmp_path))
    add_nag_packs(app)
    stack = Stack(app, "Nag", env={"account": "111111111111", "region": "eu-west-1"})
    config = EmailConfigurationSet(stack, "Config")
    bounces = BounceHandlingPipeline(stack, "Bounces", configuration_set=config)
    pipeline = ShipmentUpdatesPipeline(
        stack,
        "Shipments",
        sender=SenderIdentity(stack, "Sender", domain="example.com"),
        configuration_set=config,
        from_address="orders@example.com",
        suppression_table=bounces.suppression_table,
    )
    pipeline.add_partner_webhook("Acme", "https://hooks.acme.example/shipments")
    # WHEN synthesized THEN nothing is left open, and the SMS wildcard is acknowledged
    synth_with_nag(app)
    acknowledged = {
        rule
        for entry in pipeline.notifier.role.node.metadata  # type: ignore[union-attr]
        if entry.type == "aws:cdk:acknowledged-rules"
        for rule in dict(entry.data)
    }
    assert "AwsSolutions-IAM5[Resource::*]" in {rule.removeprefix("Annotation::") for rule in acknowledged}


def test_partner_webhooks_filter_on_event_type_status_and_partner(
    built: tuple[ShipmentUpdatesPipeline, Template],
) -> None:
    _, template = built
    https = {
        s["Endpoint"]: s
        for s in _subscriptions(template, "ShipmentsPartnerWebhooks")
        if s["Protocol"] == "https"
    }
    assert https["https://hooks.acme.example/shipments"]["FilterPolicy"] == {
        "event_type": ["shipment.updated"],
        "status": ["delivered", "exception"],
        "partner": ["acme"],
    }
    assert https["https://hooks.other.example/all"]["FilterPolicy"] == {"event_type": ["shipment.updated"]}
    # AND each webhook has its own dead-letter queue
    assert all("deadLetterTargetArn" in s["RedrivePolicy"] for s in https.values())


def test_alarms_cover_queue_notifier_partner_topic_and_channel_failures(
    built: tuple[ShipmentUpdatesPipeline, Template],
) -> None:
    pipeline, template = built
    # THEN the channel-failure alarm watches the notifier's EMF metric and notifies the alarm topic
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ShipmentChannelFailed",
            "Namespace": "NotificationConstructs",
            "Dimensions": [{"Name": "service", "Value": "shipment_notifier"}],
            "Threshold": 1,
            "AlarmActions": [{"Ref": Match.string_like_regexp("BouncesSupportAlerts")}],
        },
    )
    # AND all_alarms holds the stages' alarms (queue 2, notifier 2, partner topic 1 + 1 per webhook) and it
    names = {alarm.node.id for alarm in pipeline.all_alarms}
    assert {"ChannelFailuresAlarm", "NotificationsFailedAlarm", "AcmeDlqDepthAlarm"} <= names
    assert len(pipeline.all_alarms) == len(pipeline.queue.alarms) + len(pipeline.notifier.alarms) + 3 + 1


def test_fails_if_the_configuration_is_invalid() -> None:
    stack, config, sender, bounces = _stack()
    # WHEN the pipeline is given an address of another domain, a bad concurrency and sender id
    with pytest.raises(NotificationConfigError, match="not covered by the SES identity") as error:
        ShipmentUpdatesPipeline(
            stack,
            "Bad",
            sender=sender,
            configuration_set=config,
            from_address="orders@elsewhere.example",
            suppression_table=bounces.suppression_table,
            max_send_concurrency=1,
            sms_sender_id="not a sender id",
        )
    # THEN every problem is listed at once
    text = str(error.value)
    assert "max_send_concurrency 1" in text and "sms_sender_id" in text


def test_fails_if_a_partner_webhook_names_an_unknown_status(
    built: tuple[ShipmentUpdatesPipeline, Template],
) -> None:
    pipeline, _ = built
    with pytest.raises(NotificationConfigError, match=r"statuses \['lost'\] unknown"):
        pipeline.add_partner_webhook("Bad", "https://hooks.example.com/x", statuses=["lost"])


def test_fails_if_the_template_uses_a_value_the_notifier_does_not_send() -> None:
    stack = Stack(App(), "Templates")
    with pytest.raises(NotificationConfigError) as error:
        ShipmentUpdateTemplate(
            stack, "Bad", subject="{{order_id}} {{eta}}", html="<p>{{carrier}}</p>", text="{{status_text}}"
        )
    text = str(error.value)
    assert "subject uses ['eta']" in text
    assert "html uses ['carrier']" in text  # a plain value in the HTML part would not be escaped


def test_an_existing_topic_state_table_and_partner_topic_are_used() -> None:
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_sns as sns

    from notification_constructs.fan_out_topic import FanOutTopic

    stack, config, sender, bounces = _stack()
    topic = sns.Topic.from_topic_arn(stack, "Events", "arn:aws:sns:eu-west-1:111111111111:shipments")
    table = dynamodb.Table.from_table_name(stack, "State", "shipment-state")
    partners = FanOutTopic(stack, "Partners")
    pipeline = ShipmentUpdatesPipeline(
        stack,
        "Shipments",
        sender=sender,
        configuration_set=config,
        from_address="orders@example.com",
        suppression_table=bounces.suppression_table,
        topic=topic,
        state_table=table,
        partner_topic=partners,
    )
    template = Template.from_stack(stack)
    assert pipeline.topic is topic and pipeline.state_table is table and pipeline.partner_topic is partners
    template.resource_count_is("AWS::DynamoDB::Table", 2)  # the bounce pipeline's two, none here
    [subscription] = [
        s["Properties"]
        for s in template.find_resources("AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == "arn:aws:sns:eu-west-1:111111111111:shipments"
    ]
    assert subscription["FilterPolicy"] == {"event_type": ["shipment.updated"]}
