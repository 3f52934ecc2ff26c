"""The SMS settings custom resource against moto: SetSMSAttributes on create/update, nothing on delete, and
the answer PUT to CloudFormation's ResponseURL (a local HTTP server standing in for the pre-signed S3 URL)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import boto3
import pytest

from lambda_handlers.sms_settings import handler as sms
from lambda_handlers.sms_settings.logic import sms_attributes

from .conftest import REGION

ROLE_ARN = "arn:aws:iam::123456789012:role/sns-sms-delivery-status"


class ResponseServer:
    """Records every PUT (headers and JSON body) the handler sends to the ResponseURL."""

    def __init__(self) -> None:
        self.puts: list[tuple[dict[str, str], dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.puts.append((dict(self.headers), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/cloudformation-response?X-Amz-Signature=abc"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def answer(self) -> dict[str, Any]:
        assert len(self.puts) == 1, self.puts
        return self.puts[0][1]


@pytest.fixture
def response_server() -> Iterator[ResponseServer]:
    server = ResponseServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _event(
    server: ResponseServer, request_type: str, attributes: dict[str, str] | None, **extra: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ResponseURL": server.url,
        "StackId": f"arn:aws:cloudformation:{REGION}:123456789012:stack/app/1",
        "RequestId": "req-1",
        "LogicalResourceId": "SmsSettings",
        "ResourceType": "Custom::SnsSmsAttributes",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:...",
            **({"Attributes": attributes} if attributes else {}),
        },
    }
    event.update(extra)
    return event


def _account_attributes() -> dict[str, str]:
    return dict(boto3.client("sns", region_name=REGION).get_sms_attributes()["attributes"])


def test_create_sets_the_attributes_and_answers_success(aws: None, response_server: ResponseServer) -> None:
    # GIVEN a create request with every attribute
    attributes = {
        "MonthlySpendLimit": "50",
        "DefaultSMSType": "Transactional",
        "DefaultSenderID": "Shop",
        "DeliveryStatusIAMRole": ROLE_ARN,
        "DeliveryStatusSuccessSamplingRate": "20",
    }
    # WHEN the handler runs
    sms.handler(_event(response_server, "Create", attributes), None)
    # THEN SNS holds them
    assert _account_attributes() == attributes
    # AND CloudFormation is told SUCCESS with a stable physical id and the applied values as Data
    headers, answer = response_server.puts[0]
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == f"sns-sms-attributes-{REGION}"
    assert answer["Data"] == attributes
    assert (answer["StackId"], answer["RequestId"], answer["LogicalResourceId"]) == (
        f"arn:aws:cloudformation:{REGION}:123456789012:stack/app/1",
        "req-1",
        "SmsSettings",
    )
    # AND the PUT carries the empty Content-Type the pre-signed URL was signed for
    assert headers.get("Content-Type", "") == ""


def test_update_sets_the_new_values_and_keeps_the_physical_id(
    aws: None, response_server: ResponseServer
) -> None:
    # GIVEN settings from an earlier create
    boto3.client("sns", region_name=REGION).set_sms_attributes(
        attributes={"MonthlySpendLimit": "10", "DefaultSMSType": "Promotional"}
    )
    # WHEN the spend limit and type change
    event = _event(
        response_server,
        "Update",
        {"MonthlySpendLimit": "25", "DefaultSMSType": "Transactional"},
        PhysicalResourceId="sns-sms-attributes-eu-west-1",
        OldResourceProperties={"Attributes": {"MonthlySpendLimit": "10", "DefaultSMSType": "Promotional"}},
    )
    sms.handler(event, None)
    # THEN SNS has the new values and the physical id is unchanged (no replacement, so no delete)
    assert _account_attributes() == {"MonthlySpendLimit": "25", "DefaultSMSType": "Transactional"}
    assert response_server.answer["Status"] == "SUCCESS"
    assert response_server.answer["PhysicalResourceId"] == "sns-sms-attributes-eu-west-1"


def test_delete_leaves_the_account_settings_in_place(aws: None, response_server: ResponseServer) -> None:
    # GIVEN settings in the account
    settings = {"MonthlySpendLimit": "10", "DefaultSMSType": "Transactional"}
    boto3.client("sns", region_name=REGION).set_sms_attributes(attributes=settings)
    # WHEN the resource is deleted
    event = _event(response_server, "Delete", settings, PhysicalResourceId="sns-sms-attributes-eu-west-1")
    sms.handler(event, None)
    # THEN nothing changed and CloudFormation is told SUCCESS
    assert _account_attributes() == settings
    assert response_server.answer["Status"] == "SUCCESS"
    assert response_server.answer["PhysicalResourceId"] == "sns-sms-attributes-eu-west-1"


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        (None, "property Attributes is missing"),
        ({"DefaultSMSType": "Transactional"}, "MonthlySpendLimit is required"),
        ({"MonthlySpendLimit": "0"}, "MonthlySpendLimit 0"),
        ({"MonthlySpendLimit": "ten"}, "MonthlySpendLimit 'ten' is not an integer"),
        ({"MonthlySpendLimit": "5", "DefaultSMSType": "Bulk"}, "DefaultSMSType 'Bulk'"),
        ({"MonthlySpendLimit": "5", "DefaultSenderID": "12345"}, "at least one letter"),
        ({"MonthlySpendLimit": "5", "DeliveryStatusIAMRole": "my-role"}, "not an IAM role ARN"),
        ({"MonthlySpendLimit": "5", "DeliveryStatusSuccessSamplingRate": "150"}, "0-100"),
        ({"MonthlySpendLimit": "5", "UsageReportS3Bucket": "reports"}, "unsupported attribute"),
    ],
)
def test_an_invalid_request_is_answered_failed_without_calling_sns(
    aws: None, response_server: ResponseServer, attributes: dict[str, str] | None, reason: str
) -> None:
    # WHEN a create request breaks a rule
    sms.handler(_event(response_server, "Create", attributes), None)
    # THEN CloudFormation gets FAILED with the reason, and the account settings are untouched
    answer = response_server.answer
    assert answer["Status"] == "FAILED"
    assert reason in answer["Reason"]
    assert _account_attributes() == {}


def test_the_parsed_attributes_are_the_properties_as_strings() -> None:
    # GIVEN numbers where CloudFormation would send strings (a hand-written test event)
    parsed = sms_attributes({"Attributes": {"MonthlySpendLimit": 7, "DeliveryStatusSuccessSamplingRate": 0}})
    # THEN every value is a string, as SetSMSAttributes takes them
    assert parsed == {"MonthlySpendLimit": "7", "DeliveryStatusSuccessSamplingRate": "0"}
