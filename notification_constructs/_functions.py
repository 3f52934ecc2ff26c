"""Pieces every Lambda function of this library has: a log group encrypted with a customer-managed key that
CloudWatch Logs may use, an execution role that can write to it, and - for CloudFormation custom resources -
a small Python function answering CloudFormation itself (the local sandbox runs Python functions only, so no
Node.js provider framework)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from ._assets import RUNTIME, handlers_code
from ._defaults import new_cmk
from ._validation import acknowledge

# What CloudWatch Logs may do with the key, as in the AWS key policy example (Encrypt log data in CloudWatch
# Logs using AWS KMS, step 2: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
_LOGS_KEY_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
# The same, without wildcards, for the execution role on whose behalf CloudWatch Logs calls KMS
# (``kms:ViaService``, same page).
_ROLE_VIA_LOGS_ACTIONS = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
]


def encrypted_log_group_and_role(
    scope: Construct,
    id: str,
    *,
    path: str,
    encryption_key: kms.IKey | None,
    retention: logs.RetentionDays,
    removal_policy: RemovalPolicy,
) -> tuple[logs.LogGroup, iam.Role, kms.IKey]:
    """``{id}LogGroup`` on ``encryption_key`` (default: a new ``{id}LogKey``) and ``{id}Role``, siblings of
    the function ``id`` in ``scope``; the role may write to the group and use the key through CloudWatch Logs."""
    stack = Stack.of(scope)
    log_key: kms.IKey = encryption_key or new_cmk(
        scope, f"{id}LogKey", description=f"Encrypts the log group of {path}", removal_policy=removal_policy
    )
    # AWS key policy example, condition restricting the key to this account's log groups (same page as
    # above); a no-op for an imported key, whose policy must already allow logs.<region>.amazonaws.com.
    log_key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=_LOGS_KEY_ACTIONS,
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )
    log_group = logs.LogGroup(
        scope, f"{id}LogGroup", retention=retention, encryption_key=log_key, removal_policy=removal_policy
    )
    role = iam.Role(
        scope,
        f"{id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Execution role of {path}",
    )
    log_group.grant_write(role)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=_ROLE_VIA_LOGS_ACTIONS,
            resources=[log_key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"logs.{stack.region}.amazonaws.com"}},
        )
    )
    for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
        acknowledge(
            role,
            f"{pack}-IAMNoInlinePolicy",
            "The role's one policy is the CDK-generated AWS::IAM::Policy of this function's own role, "
            "created and deleted with it; every statement names its resources (least privilege).",
        )
    return log_group, role, log_key


def custom_resource_function(
    scope: Construct,
    id: str,
    *,
    handler: str,
    description: str,
    encryption_key: kms.IKey | None = None,
    environment: Mapping[str, str] | None = None,
    timeout: Duration = Duration.minutes(1),  # noqa: B008 - immutable value
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
) -> lambda_.Function:
    """The Lambda behind a CloudFormation custom resource: our packaged ``handler`` (which answers the
    ``ResponseURL`` itself, see ``lambda_handlers.common.custom_resource``), with an encrypted log group.

    Siblings in ``scope``: ``{id}Role``, ``{id}LogGroup`` and (without ``encryption_key``) ``{id}LogKey``."""
    path = "/".join(p for p in (scope.node.path, id) if p)
    log_group, role, _ = encrypted_log_group_and_role(
        scope,
        id,
        path=path,
        encryption_key=encryption_key,
        retention=logs.RetentionDays.ONE_YEAR,
        removal_policy=removal_policy,
    )
    function = lambda_.Function(
        scope,
        id,
        runtime=RUNTIME,
        architecture=lambda_.Architecture.ARM_64,
        handler=handler,
        code=handlers_code(),
        role=role,
        description=description,
        timeout=timeout,
        memory_size=256,
        environment=dict(environment or {}),
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
    )
    reasons = {
        "LambdaDLQ": "Invoked only by CloudFormation for this custom resource: every outcome, errors "
        "included, is answered to CloudFormation (FAILED with a reason), which shows it in the stack events.",
        "LambdaInsideVPC": "Calls only AWS APIs (IAM, Secrets Manager, SNS) and CloudFormation's pre-signed "
        "response URL over TLS; it accepts no connections and runs only during deployments.",
        "LambdaConcurrency": "Runs only while CloudFormation creates, updates or deletes its resource; a "
        "reservation would take concurrency from the account's other functions for nothing.",
    }
    for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
        for rule, reason in reasons.items():
            acknowledge(function, f"{pack}-{rule}", reason)
    acknowledge(function, "Serverless-LambdaDLQ", reasons["LambdaDLQ"])
    acknowledge(
        function,
        "Serverless-LambdaTracing",
        "A deployment-time custom resource: its outcome is in the stack events and its JSON log.",
    )
    return function
