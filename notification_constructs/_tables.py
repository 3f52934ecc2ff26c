"""DynamoDB tables used by the pipelines: on-demand, encrypted with a customer-managed key, point-in-time recovery on."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from ._validation import acknowledge


def new_table(
    scope: Construct,
    id: str,
    *,
    partition_key: str,
    removal_policy: RemovalPolicy,
    encryption_key: kms.IKey,
    time_to_live_attribute: str | None = None,
) -> dynamodb.Table:
    """The tables hold e-mail addresses (personal data): encrypted with ``encryption_key``, a customer-managed
    key (table grants then include the key's ``kms:Decrypt`` / ``kms:*DataKey*`` actions)."""
    table = dynamodb.Table(
        scope,
        id,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=encryption_key,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=time_to_live_attribute,
        deletion_protection=removal_policy == RemovalPolicy.RETAIN or None,
        removal_policy=removal_policy,
    )
    for pack in ("HIPAA.Security", "NIST.800.53.R5"):
        acknowledge(
            table,
            f"{pack}-DynamoDBInBackupPlan",
            "Point-in-time recovery (35 days of continuous backups) is on; pass the pipeline's backup_plan= "
            "to add the table to an AWS Backup plan as well.",
        )
    return table


def add_to_backup_plan(plan: backup.BackupPlan | None, id: str, tables: Sequence[dynamodb.ITable]) -> None:
    """Select ``tables`` in the AWS Backup ``plan`` (no-op without a plan)."""
    if plan is not None:
        plan.add_selection(
            id, resources=[backup.BackupResource.from_dynamo_db_table(table) for table in tables]
        )


_READ_ONLY_ACTIONS = frozenset({"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"})


def grant_table(table: dynamodb.ITable, grantee: iam.IGrantable, *actions: str) -> iam.Grant:
    """``table.grant`` (exactly ``actions`` on the table) plus what its customer-managed key needs for them:
    ``kms:Decrypt`` / ``kms:DescribeKey`` for reads, also ``kms:Encrypt`` / ``kms:GenerateDataKey`` for writes (``table.grant`` alone grants no key action;
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html). An
    imported table without ``encryption_key`` gets the table actions only."""
    grant = table.grant(grantee, *actions)
    if table.encryption_key is not None:
        # Named actions, not grant_encrypt_decrypt's kms:ReEncrypt* / kms:GenerateDataKey* wildcards.
        writes = not set(actions) <= _READ_ONLY_ACTIONS
        key_actions = ["kms:Decrypt", "kms:DescribeKey"]
        if writes:
            key_actions += ["kms:Encrypt", "kms:GenerateDataKey"]
        table.encryption_key.grant(grantee, *key_actions)
    return grant
