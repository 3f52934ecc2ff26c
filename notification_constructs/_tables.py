"""DynamoDB tables used by the pipelines: on-demand, encrypted, point-in-time recovery on."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct


def new_table(
    scope: Construct,
    id: str,
    *,
    partition_key: str,
    removal_policy: RemovalPolicy,
    time_to_live_attribute: str | None = None,
) -> dynamodb.Table:
    return dynamodb.Table(
        scope,
        id,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=time_to_live_attribute,
        deletion_protection=removal_policy == RemovalPolicy.RETAIN or None,
        removal_policy=removal_policy,
    )
