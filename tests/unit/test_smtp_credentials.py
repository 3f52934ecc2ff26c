"""SmtpCredentials at synth: the user may only send raw mail from the allowed addresses, the secret is on a
CMK and filled by the custom resource, nothing secret is in the template, all five cdk-nag packs clean."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Fn, Stack, Validations
from aws_cdk import aws_ses as ses
from aws_cdk.assertions import Match, Template
from cdk_nag import HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks

from notification_constructs import NotificationConfigError, SenderIdentity, SmtpCredentials
from tests.support.validators import add_nag_packs, synth_with_nag

ENV = {"account": "111111111111", "region": "eu-west-1"}


def _stack(**props: Any) -> tuple[App, Stack, SmtpCredentials]:
    app = App()
    stack = Stack(app, "Mail", env=ENV)
    sender = SenderIdentity(stack, "Sender", domain="shop.example.com")
    props.setdefault("from_addresses", ["orders@shop.example.com", "*@alerts.shop.example.com"])
    smtp = SmtpCredentials(stack, "Smtp", identities=[sender], **props)
    return app, stack, smtp


@pytest.fixture(scope="module")
def template() -> Template:
    _, stack, _ = _stack()
    return Template.from_stack(stack)


def _statements(template: Template, logical_prefix: str) -> list[dict[str, Any]]:
    policies = template.find_resources("AWS::IAM::Policy")
    return [
        s
        for logical_id, policy in policies.items()
        if logical_id.startswith(logical_prefix)
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_user_may_only_send_raw_mail_from_the_allowed_addresses(template: Template) -> None:
    # THEN the group's policy has one statement: ses:SendRawEmail on the identity, From restricted
    (statement,) = _statements(template, "SmtpSendPolicy")
    assert statement["Action"] == "ses:SendRawEmail"
    assert statement["Condition"] == {
        "StringLike": {"ses:FromAddress": ["orders@shop.example.com", "*@alerts.shop.example.com"]}
    }
    resource = json.dumps(statement["Resource"])
    assert ":identity/" in resource and '"Ref": "Sender' in resource
    # AND the user gets it only through its group (no policy on the user itself)
    template.has_resource_properties("AWS::IAM::User", {"Groups": [Match.any_value()]})
    assert "Policies" not in next(iter(template.find_resources("AWS::IAM::User").values()))["Properties"]


def test_the_provider_may_manage_only_this_users_keys_and_write_only_this_secret(template: Template) -> None:
    statements = _statements(template, "SmtpProviderRole")
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {"iam:CreateAccessKey", "iam:DeleteAccessKey", "secretsmanager:PutSecretValue"} <= actions
    assert not any(a.endswith("*") and a.startswith(("iam:", "secretsmanager:")) for a in actions)
    iam_statement = next(
        s for s in statements if s["Action"] == ["iam:CreateAccessKey", "iam:DeleteAccessKey"]
    )
    assert "SmtpUser" in json.dumps(iam_statement["Resource"])
    # AND the provider is our Python handler, with a CMK-encrypted log group
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "lambda_handlers.smtp_credentials.handler.handler"}
    )
    template.has_resource_properties("AWS::Logs::LogGroup", {"KmsKeyId": Match.any_value()})


def test_the_custom_resource_gets_names_not_secrets_and_the_outputs_say_where_to_connect(
    template: Template,
) -> None:
    (resource,) = template.find_resources("Custom::SesSmtpCredentials").values()
    properties = resource["Properties"]
    assert set(properties) == {"ServiceToken", "UserName", "SecretArn", "Region", "Rotation"}
    assert properties["Region"] == "eu-west-1"
    # No IAM access key resource: the secret access key never passes through CloudFormation
    assert template.find_resources("AWS::IAM::AccessKey") == {}
    template.has_resource_properties("AWS::SecretsManager::Secret", {"KmsKeyId": Match.any_value()})
    outputs = template.find_outputs("*")
    values = {k.rstrip("0123456789ABCDEF"): v["Value"] for k, v in outputs.items()}
    assert values["SmtpEndpoint"] == "email-smtp.eu-west-1.amazonaws.com"
    assert values["SmtpPort"] == "587"
    assert "SmtpSecretArn" in values


def test_a_new_rotation_value_is_a_property_change() -> None:
    _, stack, _ = _stack(rotation="2026-12")
    (resource,) = Template.from_stack(stack).find_resources("Custom::SesSmtpCredentials").values()
    assert resource["Properties"]["Rotation"] == "2026-12"


def test_grant_read_gives_an_app_the_secret_and_its_key() -> None:
    from aws_cdk import aws_iam as iam

    _, stack, smtp = _stack()
    app_role = iam.Role(stack, "App", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    smtp.grant_read(app_role)
    template = Template.from_stack(stack)
    statements = _statements(template, "AppDefaultPolicy")
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert "secretsmanager:GetSecretValue" in actions
    # AND the secret's key lets that role decrypt through Secrets Manager (a key-policy statement)
    (key,) = (
        k
        for logical_id, k in template.find_resources("AWS::KMS::Key").items()
        if logical_id.startswith("SmtpSecretKey")
    )
    decrypts = [
        s for s in key["Properties"]["KeyPolicy"]["Statement"] if "kms:Decrypt" in json.dumps(s["Action"])
    ]
    assert any("App" in json.dumps(s["Principal"]) and "kms:ViaService" in json.dumps(s) for s in decrypts)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"from_addresses": []}, "from_addresses: give at least one"),
        ({"from_addresses": ["not an address"]}, "'not an address' is not an address"),
        ({"rotation": ""}, "rotation: must not be empty"),
    ],
)
def test_misconfiguration_fails_at_synth_naming_the_prop(props: dict[str, Any], message: str) -> None:
    with pytest.raises(NotificationConfigError, match=message):
        _stack(**props)


def test_no_identity_is_refused() -> None:
    stack = Stack(App(), "Mail", env=ENV)
    with pytest.raises(NotificationConfigError, match="identities: give at least one"):
        SmtpCredentials(stack, "Smtp", identities=[], from_addresses=["a@example.com"])


def test_tokens_and_imported_identities_pass_through() -> None:
    stack = Stack(App(), "Mail")  # env-agnostic: region and account are tokens
    identity = ses.EmailIdentity.from_email_identity_name(stack, "Imported", "example.org")
    smtp = SmtpCredentials(
        stack,
        "Smtp",
        identities=[identity],
        from_addresses=[Fn.import_value("AllowedFrom")],
        rotation=Fn.import_value("RotationMarker"),
    )
    assert smtp.smtp_port == 587
    Template.from_stack(stack).resource_count_is("Custom::SesSmtpCredentials", 1)


def test_clean_under_all_five_cdk_nag_packs(tmp_path: Any) -> None:
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Mail", env=ENV)
    sender = SenderIdentity(stack, "Sender", domain="shop.example.com")
    SmtpCredentials(stack, "Smtp", identities=[sender], from_addresses=["orders@shop.example.com"])
    add_nag_packs(app)
    Validations.of(app).add_plugins(HIPAASecurityChecks(app), NIST80053R5Checks(app), PCIDSS321Checks(app))
    synth_with_nag(app)
