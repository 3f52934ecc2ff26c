"""The SMTP credentials custom resource against moto: key creation, the derived password, rotation, cleanup,
and the answer CloudFormation gets (SUCCESS / FAILED, never a secret)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth

from lambda_handlers.common import custom_resource
from lambda_handlers.smtp_credentials import handler as smtp
from lambda_handlers.smtp_credentials.logic import SMTP_PORT, smtp_endpoint, smtp_password

from .conftest import REGION

# The example secret access key of the AWS documentation (IAM user guide, "Managing access keys").
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


class _Response:
    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def read(self) -> bytes:
        return b""


class ResponseUrl:
    """Records what the handler PUTs to CloudFormation's pre-signed ResponseURL."""

    def __init__(self) -> None:
        self.answers: list[dict[str, Any]] = []
        self.requests: list[Any] = []

    def __call__(self, request: Any, timeout: float) -> _Response:
        self.requests.append(request)
        self.answers.append(json.loads(request.data))
        return _Response()


@pytest.fixture
def response_url(monkeypatch: pytest.MonkeyPatch) -> ResponseUrl:
    recorder = ResponseUrl()
    original = custom_resource.run

    def run(event: Any, **kwargs: Any) -> None:
        original(event, opener=recorder, **kwargs)

    monkeypatch.setattr(custom_resource, "run", run)
    return recorder


def _event(request_type: str, properties: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response.example/presigned?sig=1",
        "StackId": f"arn:aws:cloudformation:{REGION}:123456789012:stack/Mail/1",
        "RequestId": "req-1",
        "LogicalResourceId": "SmtpCredentialsAccessKey",
        "ResourceType": "Custom::SesSmtpCredentials",
        "ResourceProperties": {"ServiceToken": "arn:fn", **properties},
        **extra,
    }


@pytest.fixture
def smtp_user(aws: None) -> dict[str, str]:
    boto3.client("iam").create_user(UserName="smtp-user")
    secret = boto3.client("secretsmanager").create_secret(Name="smtp", SecretString="{}")
    return {"UserName": "smtp-user", "SecretArn": secret["ARN"], "Region": REGION, "Rotation": "1"}


def _stored(secret_arn: str) -> dict[str, Any]:
    value = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    return dict(json.loads(value))


def _keys() -> list[str]:
    keys = boto3.client("iam").list_access_keys(UserName="smtp-user")["AccessKeyMetadata"]
    return [k["AccessKeyId"] for k in keys]


# ---------------------------------------------------------------------------------------- derivation
def test_the_password_is_the_sigv4_signing_key_chain_plus_send_raw_email() -> None:
    # GIVEN botocore's own SigV4 signing-key derivation (an independent implementation of the chain)
    signer = SigV4Auth(credentials=None, service_name="ses", region_name="eu-west-1")  # type: ignore[arg-type]
    key = signer._sign(("AWS4" + EXAMPLE_SECRET).encode(), "11111111")
    for part in ("eu-west-1", "ses", "aws4_request"):
        key = signer._sign(key, part)
    expected = base64.b64encode(b"\x04" + hmac.new(key, b"SendRawEmail", hashlib.sha256).digest()).decode()
    # WHEN the password is derived  THEN it is version 4 + that signature: 44 Base64 chars starting "B"
    password = smtp_password(EXAMPLE_SECRET, "eu-west-1")
    assert password == expected
    assert len(password) == 44 and password.startswith("B")
    assert base64.b64decode(password)[0] == 0x04


def test_the_password_is_bound_to_its_region_and_key() -> None:
    # GIVEN / WHEN one key derived for two regions, and two keys for one region
    # THEN every password differs (SES accepts a password only in the region it was derived for)
    passwords = {
        smtp_password(EXAMPLE_SECRET, "eu-west-1"),
        smtp_password(EXAMPLE_SECRET, "us-east-1"),
        smtp_password(EXAMPLE_SECRET[:-1] + "X", "eu-west-1"),
    }
    assert len(passwords) == 3
    # AND the same inputs always give the same password (it is a pure function)
    assert smtp_password(EXAMPLE_SECRET, "us-east-1") == smtp_password(EXAMPLE_SECRET, "us-east-1")


@pytest.mark.parametrize(
    ("secret", "region"), [("", "eu-west-1"), (EXAMPLE_SECRET, ""), (EXAMPLE_SECRET, "eu west")]
)
def test_bad_inputs_are_refused(secret: str, region: str) -> None:
    with pytest.raises(ValueError):
        smtp_password(secret, region)


# -------------------------------------------------------------------------------- custom resource
def test_create_stores_working_smtp_credentials_and_answers_without_the_secret(
    smtp_user: dict[str, str], response_url: ResponseUrl
) -> None:
    # WHEN CloudFormation creates the resource
    smtp.handler(_event("Create", smtp_user), None)
    # THEN the user has one access key and the secret holds its id with the password derived for the region
    (key_id,) = _keys()
    stored = _stored(smtp_user["SecretArn"])
    assert stored["username"] == key_id
    assert stored["host"] == smtp_endpoint(REGION) == f"email-smtp.{REGION}.amazonaws.com"
    assert stored["port"] == SMTP_PORT == 587
    assert len(stored["password"]) == 44 and stored["password"].startswith("B")
    # AND CloudFormation hears SUCCESS with the key id as physical id, and nothing secret
    (answer,) = response_url.answers
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == key_id
    assert answer["Data"] == {"AccessKeyId": key_id, "Endpoint": stored["host"]}
    assert stored["password"] not in json.dumps(answer)
    assert response_url.requests[0].get_method() == "PUT"


def test_rotation_creates_a_new_key_and_the_cleanup_delete_removes_the_old_one(
    smtp_user: dict[str, str], response_url: ResponseUrl
) -> None:
    # GIVEN deployed credentials
    smtp.handler(_event("Create", smtp_user), None)
    (old_key,) = _keys()
    # WHEN the Rotation property changes (an update), then CloudFormation deletes the old physical id
    rotated = {**smtp_user, "Rotation": "2"}
    smtp.handler(_event("Update", rotated, PhysicalResourceId=old_key, OldResourceProperties=smtp_user), None)
    new_key = response_url.answers[-1]["PhysicalResourceId"]
    assert new_key != old_key and set(_keys()) == {old_key, new_key}
    assert _stored(smtp_user["SecretArn"])["username"] == new_key
    smtp.handler(_event("Delete", smtp_user, PhysicalResourceId=old_key), None)
    # THEN only the new key is left, and the secret names it
    assert _keys() == [new_key]
    assert [a["Status"] for a in response_url.answers] == ["SUCCESS"] * 3


def test_an_update_that_changes_nothing_keeps_the_key(
    smtp_user: dict[str, str], response_url: ResponseUrl
) -> None:
    smtp.handler(_event("Create", smtp_user), None)
    (key_id,) = _keys()
    # WHEN only the service token changed
    event = _event("Update", smtp_user, PhysicalResourceId=key_id, OldResourceProperties=smtp_user)
    smtp.handler(event, None)
    # THEN no new key and the same physical id
    assert _keys() == [key_id]
    assert response_url.answers[-1]["PhysicalResourceId"] == key_id


def test_delete_of_a_key_that_is_gone_still_succeeds(
    smtp_user: dict[str, str], response_url: ResponseUrl
) -> None:
    smtp.handler(_event("Delete", smtp_user, PhysicalResourceId="AKIAIOSFODNN7EXAMPLE"), None)
    assert response_url.answers[-1]["Status"] == "SUCCESS"


def test_a_failure_answers_failed_with_a_reason_and_leaves_no_key(
    smtp_user: dict[str, str], response_url: ResponseUrl
) -> None:
    # GIVEN a secret that does not exist
    broken = {**smtp_user, "SecretArn": smtp_user["SecretArn"] + "-missing"}
    # WHEN the resource is created
    smtp.handler(_event("Create", broken), None)
    # THEN CloudFormation hears FAILED (naming the error type, not its text), and the key was deleted again
    (answer,) = response_url.answers
    assert answer["Status"] == "FAILED"
    assert "ResourceNotFoundException" in answer["Reason"]
    assert _keys() == []


def test_a_missing_property_is_a_clear_failure(smtp_user: dict[str, str], response_url: ResponseUrl) -> None:
    smtp.handler(_event("Create", {"SecretArn": smtp_user["SecretArn"], "Region": REGION}), None)
    (answer,) = response_url.answers
    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == "property UserName is missing or empty"
    assert answer["PhysicalResourceId"] == "SmtpCredentialsAccessKey"


def test_the_third_key_is_refused_with_what_to_do(
    smtp_user: dict[str, str], response_url: ResponseUrl
) -> None:
    # GIVEN a user that already has the two access keys IAM allows
    iam = boto3.client("iam")
    iam.create_access_key(UserName="smtp-user")
    iam.create_access_key(UserName="smtp-user")
    # WHEN the resource is created THEN FAILED says why and how to fix it
    smtp.handler(_event("Create", smtp_user), None)
    assert response_url.answers[-1]["Status"] == "FAILED"
    assert "two access keys" in response_url.answers[-1]["Reason"]
