"""SmtpCredentials deployed on the sandbox with the real CDK CLI: the custom resource creates the key, the
secret holds SMTP credentials for it, a rotation replaces the key and the stack deletion removes it."""

from __future__ import annotations

import base64
import json

from aws_cdk import App, Stack

from notification_constructs import SenderIdentity, SmtpCredentials
from notification_constructs.testing import Sandbox

STACK = "SmtpCredentialsE2e"


def _app(rotation: str) -> App:
    app = App()
    stack = Stack(app, STACK)
    sender = SenderIdentity(stack, "Sender", domain="shop.example.com")
    SmtpCredentials(
        stack, "Smtp", identities=[sender], from_addresses=["orders@shop.example.com"], rotation=rotation
    )
    return app


def _outputs(sandbox: Sandbox) -> dict[str, str]:
    return {k.rstrip("0123456789ABCDEF"): v for k, v in sandbox.stack_outputs(STACK).items()}


def _user(sandbox: Sandbox) -> str:
    resources = sandbox.client("cloudformation").describe_stack_resources(StackName=STACK)["StackResources"]
    return next(r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::IAM::User")


def test_smtp_credentials_are_created_rotated_and_removed(sandbox: Sandbox) -> None:
    # GIVEN the construct deployed
    sandbox.deploy(_app("1"), stacks=STACK)
    outputs = _outputs(sandbox)
    iam = sandbox.client("iam")
    user = _user(sandbox)
    secret = json.loads(
        sandbox.client("secretsmanager").get_secret_value(SecretId=outputs["SmtpSecretArn"])["SecretString"]
    )
    # THEN the secret names the user's one access key, with a version-4 SMTP password and the endpoint
    (key,) = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert secret["username"] == key["AccessKeyId"]
    assert base64.b64decode(secret["password"])[0] == 0x04 and len(secret["password"]) == 44
    assert secret["host"] == outputs["SmtpEndpoint"] and outputs["SmtpEndpoint"].startswith("email-smtp.")
    assert secret["port"] == 587 and outputs["SmtpPort"] == "587"
    # WHEN the rotation value changes and the stack is deployed again
    sandbox.deploy(_app("2"), stacks=STACK)
    rotated = json.loads(
        sandbox.client("secretsmanager").get_secret_value(SecretId=outputs["SmtpSecretArn"])["SecretString"]
    )
    # THEN a new key is stored and the old one is deleted (CloudFormation's cleanup of the old physical id)
    (new_key,) = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert new_key["AccessKeyId"] == rotated["username"] != secret["username"]
    assert rotated["password"] != secret["password"]
    # WHEN the stack is deleted THEN the user and its key are gone
    sandbox.destroy(_app("2"), stacks=STACK)
    assert user not in [u["UserName"] for u in iam.list_users()["Users"]]
