"""Custom resource ``Custom::SesSmtpCredentials``: create an access key for the SMTP user, store the SMTP
credentials in the secret, delete the key when the resource goes (or is replaced by a rotation).

Properties: ``UserName`` (the IAM user), ``SecretArn`` (the secret to write), ``Region`` (the SMTP password
is region-bound), ``Rotation`` (any value; changing it rotates). Physical id: the access key id, so a
rotation (any change of the properties) creates a new key first and CloudFormation then deletes the
resource with the old id - the old key - in its cleanup phase, after every dependent resource was updated.
The secret access key never leaves this function: neither the template, the response ``Data`` (visible
through ``Fn::GetAtt``) nor the log sees it; only the derived SMTP password is stored, in the secret.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import boto3

from lambda_handlers.common import custom_resource
from lambda_handlers.common.custom_resource import CustomResourceError, Outcome
from lambda_handlers.smtp_credentials.logic import SMTP_PORT, smtp_endpoint, smtp_password

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)


def _required(properties: Mapping[str, Any], name: str) -> str:
    value = properties.get(name)
    if not isinstance(value, str) or not value:
        raise CustomResourceError(f"property {name} is missing or empty")
    return value


def create(properties: Mapping[str, Any], event: Mapping[str, Any], old: Mapping[str, Any] | None) -> Outcome:
    user = _required(properties, "UserName")
    secret_arn = _required(properties, "SecretArn")
    region = _required(properties, "Region")
    iam = boto3.client("iam")
    try:
        key = iam.create_access_key(UserName=user)["AccessKey"]
    except iam.exceptions.LimitExceededException as exc:
        raise CustomResourceError(
            f"IAM user {user} already has two access keys (the IAM limit): delete the one not in the secret "
            "and retry"
        ) from exc
    access_key_id = key["AccessKeyId"]
    try:
        secret = {
            "username": access_key_id,
            "password": smtp_password(key["SecretAccessKey"], region),
            "host": smtp_endpoint(region),
            "port": SMTP_PORT,
        }
        boto3.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString=json.dumps(secret))
    except Exception:
        # A key nobody can read is useless and counts against the user's limit of two.
        iam.delete_access_key(UserName=user, AccessKeyId=access_key_id)
        raise
    LOGGER.info("SMTP credentials stored", extra={"user": user, "access_key_id": access_key_id})
    return Outcome(access_key_id, {"AccessKeyId": access_key_id, "Endpoint": smtp_endpoint(region)})


def update(properties: Mapping[str, Any], event: Mapping[str, Any], old: Mapping[str, Any] | None) -> Outcome:
    relevant = ("UserName", "SecretArn", "Region", "Rotation")
    if old is not None and all(properties.get(k) == old.get(k) for k in relevant):
        access_key_id = str(event["PhysicalResourceId"])
        return Outcome(
            access_key_id,
            {"AccessKeyId": access_key_id, "Endpoint": smtp_endpoint(str(properties["Region"]))},
        )
    return create(properties, event, old)


def delete(properties: Mapping[str, Any], event: Mapping[str, Any], old: Mapping[str, Any] | None) -> Outcome:
    access_key_id = str(event.get("PhysicalResourceId") or "")
    user = properties.get("UserName")
    if isinstance(user, str) and user and access_key_id.startswith(("AKIA", "ASIA")):
        iam = boto3.client("iam")
        try:
            iam.delete_access_key(UserName=user, AccessKeyId=access_key_id)
        except iam.exceptions.NoSuchEntityException:
            LOGGER.info("access key already gone", extra={"access_key_id": access_key_id})
    # A create that failed before a key existed has a non-key physical id: nothing to delete.
    return Outcome(access_key_id or "none")


def handler(event: Mapping[str, Any], context: object) -> None:
    custom_resource.run(event, create=create, update=update, delete=delete)
