"""The example app: cdk-nag (AwsSolutions + Serverless) and cfn-lint clean; synthesizes with the real CDK CLI."""

import json
import os
import subprocess
from pathlib import Path
from typing import Any, cast

import pytest
from aws_cdk import CfnOutput

from examples.app import OrderNotificationsStack, build_app
from notification_constructs.testing._cdk import node_environment
from tests.support.validators import cfn_lint, synth_with_nag

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stacks() -> dict[str, dict[str, Any]]:
    app = build_app({"domain": "shop.example.com", "alert_email": "oncall@example.com"})
    assembly, _ = synth_with_nag(app)  # raises listing every unacknowledged cdk-nag finding
    return {s.stack_name: dict(s.template) for s in assembly.stacks}


def test_example_stacks_are_cdk_nag_clean_and_cfn_lint_clean(stacks: dict[str, dict[str, Any]]) -> None:
    assert list(stacks) == ["OrderNotifications", "Deliverability"]
    for name, template in stacks.items():
        # aws-cdk-lib's Firehose stream adds a region -> CIDR mapping that an env-agnostic stack never reads.
        findings = [f for f in cfn_lint(template) if not f.startswith(f"W7001 Mapping '{FIREHOSE_CIDRS}'")]
        assert findings == [], name


#: Every acknowledged finding on the example stack; adding one must be a deliberate, reviewed change.
EXPECTED_ACKNOWLEDGMENTS = {
    "Serverless-LambdaTracing",
    "Serverless-LambdaDLQ",
    "Serverless-LambdaEventSourceMappingDestination",
    "Serverless-SQSRedrivePolicy",
    "AwsSolutions-SQS3",
    # The compliance packs (tests/unit/test_compliance_packs.py): true for SQS-invoked functions of our own
    # roles; VPC and AWS Backup are options (vpc= / backup_plan=), point-in-time recovery is always on.
    *(
        f"{pack}-{rule}"
        for pack in ("HIPAA.Security", "NIST.800.53.R5")
        for rule in ("LambdaDLQ", "DynamoDBInBackupPlan")
    ),
    *(
        f"{pack}-{rule}"
        for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
        for rule in ("IAMNoInlinePolicy", "LambdaInsideVPC")
    ),
    # The shipment notifier: SMS to a phone number names no resource; the partner topic's delivery-status
    # logging role writes to the log groups SNS names after the topic.
    "AwsSolutions-IAM5[Resource::*]",
    *(
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:sns/"
        f"<AWS::Region>/<AWS::AccountId>/<ShipmentUpdatesPartnerWebhooks4BF01B43.TopicName>{suffix}:*]"
        for suffix in ("", "/Failure")
    ),
}


FIREHOSE_CIDRS = "awscdkawskinesisfirehoseCidrBlocks"

#: The same for the deliverability stack (examples/deliverability.py): aws-cdk-lib's own Firehose grants, the
#: archive's access-log bucket, the reply bucket, the SMTP secret rotated by prop and its provider function.
DELIVERABILITY_ACKNOWLEDGMENTS = {
    *(
        f"AwsSolutions-IAM5[Action::{action}]"
        for action in (
            "kms:GenerateDataKey*",
            "kms:ReEncrypt*",
            "s3:Abort*",
            "s3:DeleteObject*",
            "s3:GetBucket*",
            "s3:GetObject*",
            "s3:List*",
        )
    ),
    "AwsSolutions-IAM5[Resource::<EventArchiveBucket396CA8FA.Arn>/*]",
    "AwsSolutions-IAM5[Resource::<RepliesBucket459CE49B.Arn>/inbound/*]",
    "AwsSolutions-S1",
    "AwsSolutions-SMG4",
    "PCI.DSS.321-LambdaDLQ",
    *(
        f"{pack}-{rule}"
        for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
        for rule in (
            "CloudWatchLogGroupEncrypted",
            "LambdaConcurrency",
            "S3BucketLoggingEnabled",
            "S3BucketReplicationEnabled",
            "S3BucketVersioningEnabled",
            "S3DefaultEncryptionKMS",
            "SecretsManagerRotationEnabled",
        )
    ),
}


def test_every_acknowledgment_is_expected_and_carries_a_written_reason() -> None:
    app = build_app({"alert_email": "oncall@example.com"})
    reasons: dict[str, list[str]] = {}
    deliverability: dict[str, list[str]] = {}
    for construct in app.node.find_all():
        if construct.node.path.startswith("Deliverability"):
            for entry in construct.node.metadata:
                if entry.type == "aws:cdk:acknowledged-rules":
                    for rule, reason in dict(entry.data).items():
                        deliverability.setdefault(rule.removeprefix("Annotation::"), []).append(reason)
            continue
        for entry in construct.node.metadata:
            if entry.type == "aws:cdk:acknowledged-rules":
                for rule, reason in dict(entry.data).items():
                    reasons.setdefault(rule.removeprefix("Annotation::"), []).append(reason)
    assert set(reasons) == EXPECTED_ACKNOWLEDGMENTS
    assert all(len(reason) > 40 for rule_reasons in reasons.values() for reason in rule_reasons), reasons
    # The deliverability stack also acknowledges what the order stack does, and its own findings.
    assert set(deliverability) - EXPECTED_ACKNOWLEDGMENTS == DELIVERABILITY_ACKNOWLEDGMENTS
    assert all(len(r) > 40 for rule_reasons in deliverability.values() for r in rule_reasons), deliverability


def test_example_wires_the_pipelines_with_the_dashboard(stacks: dict[str, dict[str, Any]]) -> None:
    resources = stacks["OrderNotifications"]["Resources"]
    types = [r["Type"] for r in resources.values()]
    # writer, e-mail sender, bounce processor, incident tracker, shipment notifier
    assert types.count("AWS::Lambda::Function") == 5
    assert types.count("AWS::CloudWatch::Dashboard") == 1
    assert types.count("AWS::SES::Template") == 2  # order confirmation, shipment update
    subscriptions = [r for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"]
    assert {s["Properties"]["Protocol"] for s in subscriptions} == {"sqs", "email", "sms", "https"}


def _logical_id(resources: dict[str, Any], type_: str, prefix: str) -> str:
    [found] = [k for k, v in resources.items() if v["Type"] == type_ and k.startswith(prefix)]
    return found


def test_the_order_email_dlq_and_bounce_rate_alarms_open_and_resolve_incidents(
    stacks: dict[str, dict[str, Any]],
) -> None:
    template = stacks["OrderNotifications"]
    resources = template["Resources"]
    incidents_topic = {"Ref": _logical_id(resources, "AWS::SNS::Topic", "IncidentAlertsIncidents")}
    email_dlq_alarm = _logical_id(resources, "AWS::CloudWatch::Alarm", "OrderConfirmationEmailQueueDlqDepth")
    bounce_rate_alarm = _logical_id(resources, "AWS::CloudWatch::Alarm", "BounceHandlingBounceRateAlarm")
    # THEN both alarms notify the incidents topic on ALARM and on OK, besides the support alerts
    for alarm in (email_dlq_alarm, bounce_rate_alarm):
        properties = resources[alarm]["Properties"]
        assert incidents_topic in properties["AlarmActions"] and len(properties["AlarmActions"]) == 2
        assert properties["OKActions"] == [incidents_topic]
    # and the order e-mail DLQ alarm is critical (SMS): its generated name is the key of ALARM_SEVERITIES
    [tracker] = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["Handler"] == "lambda_handlers.incident_tracker.handler.handler"
    ]
    variables = tracker["Environment"]["Variables"]
    assert variables["ALARM_SEVERITIES"] == {
        "Fn::Join": ["", ['{"', {"Ref": email_dlq_alarm}, '":"critical"}']]
    }
    assert variables["INCIDENT_REPORT_RECIPIENTS"] == "stakeholders@example.com"
    assert variables["SENDER_ADDRESS"] == "incidents@shop.example.com"
    # and the on-call topic pages the default number by SMS (critical only) and the default address by e-mail
    endpoints = {
        r["Properties"]["Protocol"]: r["Properties"]["Endpoint"]
        for k, r in resources.items()
        if r["Type"] == "AWS::SNS::Subscription" and k.startswith("IncidentAlertsOnCall")
    }
    assert endpoints == {"sms": "+15555550100", "email": "oncall@example.com"}
    # and the scenario's outputs are there
    outputs = template["Outputs"]
    assert outputs["CriticalAlarmName"]["Value"] == {"Ref": email_dlq_alarm}
    assert outputs["StakeholderEmails"]["Value"] == "stakeholders@example.com"
    assert {"IncidentsTopicArn", "IncidentsTableName", "IncidentDeadLetterQueueUrl", "OnCallTopicArn"} <= set(
        outputs
    )


def test_on_call_and_stakeholders_come_from_the_context() -> None:
    # GIVEN comma-separated context values, and no on-call e-mail at all
    app = build_app(
        {
            "stakeholder_emails": "cto@example.com, ops@example.com",
            "on_call_phone_numbers": "+15555550101,+15555550102",
            "on_call_emails": "",
        }
    )
    # WHEN the stack is built (no synth: the construct tree is enough)
    stack = app.node.find_child("OrderNotifications")
    # THEN two SMS subscriptions, no e-mail subscription, and both stakeholders get the report
    assert list(stack.incidents.on_call_topic.fan_out_subscriptions) == ["Sms1", "Sms2"]
    outputs = {
        key: stack.resolve(stack.node.find_child(key).value) for key in ("StakeholderEmails", "OnCallEmails")
    }
    assert outputs == {"StakeholderEmails": "cto@example.com,ops@example.com", "OnCallEmails": "-"}


def test_shipment_updates_share_the_order_sender_and_post_the_partners_updates_to_its_webhook(
    stacks: dict[str, dict[str, Any]],
) -> None:
    template = stacks["OrderNotifications"]
    resources = template["Resources"]
    [notifier] = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["Handler"] == "lambda_handlers.shipment_notifier.handler.handler"
    ]
    [order_sender] = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["Handler"] == "lambda_handlers.order_email_sender.handler.handler"
    ]
    # THEN the notifier sends from the order confirmations' address, configuration set and suppression table
    shipment, order = notifier["Environment"]["Variables"], order_sender["Environment"]["Variables"]
    for variable in ("SENDER_ADDRESS", "CONFIGURATION_SET_NAME", "SUPPRESSION_TABLE_NAME"):
        assert shipment[variable] == order[variable], variable
    assert shipment["SENDER_ADDRESS"] == "orders@shop.example.com"
    assert shipment["SUPPRESSION_TABLE_NAME"] == {
        "Ref": _logical_id(resources, "AWS::DynamoDB::Table", "BounceHandlingSuppressionTable")
    }
    # and the partner topic POSTs the default partner's updates to the default (loopback) webhook URL
    [webhook] = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::SNS::Subscription" and r["Properties"]["Protocol"] == "https"
    ]
    assert webhook["Endpoint"] == "https://127.0.0.1:48443/partner/shipments"
    assert webhook["TopicArn"] == {
        "Ref": _logical_id(resources, "AWS::SNS::Topic", "ShipmentUpdatesPartnerWebhooks")
    }
    assert webhook["FilterPolicy"] == {"event_type": ["shipment.updated"], "partner": ["demo-partner"]}
    assert "RedrivePolicy" in webhook  # a DLQ of its own
    # and the shipment scenario's outputs are there
    outputs = template["Outputs"]
    assert outputs["PartnerWebhookUrl"]["Value"] == webhook["Endpoint"]
    assert outputs["PartnerId"]["Value"] == "demo-partner"
    assert outputs["ShipmentTemplateName"]["Value"] == {
        "Ref": _logical_id(resources, "AWS::SES::Template", "ShipmentUpdatesTemplate")
    }
    assert {
        "ShipmentEventsTopicArn",
        "ShipmentStateTableName",
        "ShipmentDeadLetterQueueUrl",
        "PartnerWebhooksTopicArn",
    } <= set(outputs)


def test_the_partner_webhook_comes_from_the_context_and_an_empty_url_adds_none() -> None:
    # GIVEN a partner webhook URL and partner id, and an app with an empty URL
    given = build_app({"partner_webhook_url": "https://hooks.acme.example/ship", "partner_id": "acme"})
    none = build_app({"partner_webhook_url": ""})
    # WHEN the stacks are built (no synth: the construct tree is enough)
    stacks = [
        cast(OrderNotificationsStack, app.node.find_child("OrderNotifications")) for app in (given, none)
    ]
    # THEN the first POSTs acme's updates there, the second has no webhook (and says so in its output)
    webhooks = [list(stack.shipments.partner_topic.fan_out_subscriptions) for stack in stacks]
    assert webhooks == [["PartnerWebhook"], []]
    outputs = [
        {
            key: stack.resolve(cast(CfnOutput, stack.node.find_child(key)).value)
            for key in ("PartnerWebhookUrl", "PartnerId")
        }
        for stack in stacks
    ]
    assert outputs == [
        {"PartnerWebhookUrl": "https://hooks.acme.example/ship", "PartnerId": "acme"},
        {"PartnerWebhookUrl": "-", "PartnerId": "demo-partner"},
    ]


def test_cdk_synth_with_the_pinned_cli(tmp_path: Path) -> None:
    # GIVEN the CLI pinned in package.json (installed by make) and the top-level cdk.json
    cli = ROOT / "node_modules" / ".bin" / "cdk"
    assert cli.exists(), "run `make install` (npm ci) first"
    env = node_environment({**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "true"})  # on the venv's Node.js
    # WHEN synthesizing the example app with no arguments
    result = subprocess.run(
        [str(cli), "synth", "--no-notices", "--quiet", "--output", str(tmp_path / "cdk.out")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # THEN it succeeds and writes the stack and the handler asset
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / "cdk.out" / "OrderNotifications.template.json").read_text())
    assert any(r["Type"] == "AWS::Lambda::Function" for r in template["Resources"].values())
    assets = list((tmp_path / "cdk.out").glob("asset.*"))
    assert len(assets) == 1
    assert sorted(p.name for p in assets[0].iterdir()) == ["lambda_handlers"]
