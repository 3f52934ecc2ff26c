"""The example under all five cdk-nag packs; the options a regulated account needs (VPC, AWS Backup)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Match, Template
from cdk_nag import HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks

from examples.app import build_app
from notification_constructs import (
    BounceHandlingPipeline,
    EmailConfigurationSet,
    ProcessingQueue,
    QueueConsumerFunction,
)
from tests.support.validators import synth_with_nag

COMPLIANCE_PACKS = (HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks)


def test_the_example_is_clean_under_all_five_packs(tmp_path: Any) -> None:
    # GIVEN the example app (AwsSolutions + Serverless on) with HIPAA, NIST 800-53 R5 and PCI DSS 3.2.1 added
    app = build_app(outdir=str(tmp_path))
    Validations.of(app).add_plugins(*(pack(app) for pack in COMPLIANCE_PACKS))
    # WHEN it synthesizes THEN no pack reports an unacknowledged finding (synth_with_nag raises with the list)
    synth_with_nag(app)


@pytest.fixture(scope="module")
def regulated() -> Template:
    app = App()
    stack = Stack(app, "Regulated", env={"account": "111111111111", "region": "eu-west-1"})
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
    plan = backup.BackupPlan.daily35_day_retention(stack, "Plan")
    config = EmailConfigurationSet(stack, "Config")
    BounceHandlingPipeline(stack, "Bounces", configuration_set=config, backup_plan=plan)
    queue = ProcessingQueue(stack, "Work")
    QueueConsumerFunction(
        stack,
        "Consumer",
        queue=queue,
        handler="lambda_handlers.order_writer.handler.handler",
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
    )
    return Template.from_stack(stack)


def test_a_consumer_in_a_vpc_gets_its_subnets_and_the_network_interface_permissions(
    regulated: Template,
) -> None:
    # THEN the function has a VpcConfig and its own role may manage its network interfaces
    regulated.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "lambda_handlers.order_writer.handler.handler", "VpcConfig": Match.object_like({})},
    )
    regulated.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": Match.array_with(["ec2:CreateNetworkInterface"])})]
                )
            }
        },
    )


def test_the_tables_a_pipeline_creates_are_selected_in_the_backup_plan(regulated: Template) -> None:
    # THEN one selection names both tables of the bounce pipeline
    selections = regulated.find_resources("AWS::Backup::BackupSelection")
    assert len(selections) == 1
    resources = next(iter(selections.values()))["Properties"]["BackupSelection"]["Resources"]
    assert len(resources) == 2
    table_ids = set(regulated.find_resources("AWS::DynamoDB::Table"))
    assert {ref for r in resources for ref in _refs(r)} == table_ids


def test_every_table_is_encrypted_with_a_customer_managed_key(regulated: Template) -> None:
    for table in regulated.find_resources("AWS::DynamoDB::Table").values():
        sse = table["Properties"]["SSESpecification"]
        assert sse["SSEEnabled"] is True and sse["SSEType"] == "KMS"
        assert "Fn::GetAtt" in sse["KMSMasterKeyId"]


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            return [value["Fn::GetAtt"][0]]
        return [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []
