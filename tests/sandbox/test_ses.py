"""SES in the sandbox: identities, configuration sets and event destinations (API and CloudFormation),
sending to the mailbox simulator, event records on an SNS -> SQS subscription, templates, the suppression
list and the send-rate quota."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from notification_constructs.testing.sandbox import Sandbox

SENDER = "Example Shop <orders@example.com>"
SIM = "simulator.amazonses.com"
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="module")
def ses_setup(sandbox: Sandbox) -> dict[str, Any]:
    """GIVEN a domain identity, a configuration set publishing every event type to a topic with a raw SQS
    subscription, and a template."""
    sns, sqs, sesv2, ses = (sandbox.client(s) for s in ("sns", "sqs", "sesv2", "ses"))
    topic = sns.create_topic(Name="ses-events")["TopicArn"]
    queue = sqs.create_queue(QueueName="ses-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    sesv2.create_email_identity(EmailIdentity="example.com")
    sesv2.create_configuration_set(ConfigurationSetName="order-emails")
    sesv2.create_configuration_set_event_destination(
        ConfigurationSetName="order-emails",
        EventDestinationName="to-sns",
        EventDestination={
            "Enabled": True,
            "MatchingEventTypes": ["SEND", "DELIVERY", "BOUNCE", "COMPLAINT", "RENDERING_FAILURE"],
            "SnsDestination": {"TopicArn": topic},
        },
    )
    ses.create_template(
        Template={
            "TemplateName": "order-confirmation",
            "SubjectPart": "Your order {{order.id}} is confirmed",
            "TextPart": "Hello {{name}},\n{{#each items}}- {{quantity}} x {{name}} for {{../name}}\n{{/each}}"
            "{{#if gift}}Gift wrapped{{else}}No gift{{/if}}",
            "HtmlPart": "<p>Hello {{name}}</p>",
        }
    )
    return {"topic": topic, "queue": queue}


def drain(sandbox: Sandbox, queue: str) -> list[dict[str, Any]]:
    sqs = sandbox.client("sqs")
    events: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return events
        for message in batch:
            events.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


def send(sandbox: Sandbox, to: str, **content: Any) -> str:
    body = content or {"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hello"}}}}
    response = sandbox.client("sesv2").send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": [to]},
        Content=body,
        ConfigurationSetName="order-emails",
        EmailTags=[{"Name": "order_id", "Value": "ord-1"}],
    )
    return str(response["MessageId"])


@pytest.fixture(autouse=True)
def _clean(sandbox: Sandbox, ses_setup: dict[str, Any]) -> Iterator[None]:
    drain(sandbox, ses_setup["queue"])
    sandbox.control("DELETE", "outbox")
    yield
    sandbox.control("PUT", "config", {"ses_max_send_rate": None})


def test_delivery_to_success_address_publishes_send_and_delivery(
    sandbox: Sandbox, ses_setup: dict[str, Any]
) -> None:
    # WHEN an e-mail goes to the success simulator address
    message_id = send(sandbox, f"success@{SIM}")
    # THEN Send and Delivery reach the queue, in SES's event-publishing format
    events = drain(sandbox, ses_setup["queue"])
    assert [e["eventType"] for e in events] == ["Send", "Delivery"]
    mail = events[1]["mail"]
    assert mail["messageId"] == message_id
    assert mail["source"] == SENDER
    assert mail["sourceArn"] == "arn:aws:ses:us-east-1:123456789012:identity/example.com"
    assert mail["sendingAccountId"] == "123456789012"
    assert mail["destination"] == [f"success@{SIM}"]
    assert mail["headersTruncated"] is False
    assert {"name": "Subject", "value": "Hi"} in mail["headers"]
    assert mail["commonHeaders"] == {
        "from": [SENDER],
        "to": [f"success@{SIM}"],
        "messageId": message_id,
        "subject": "Hi",
    }
    assert mail["tags"]["ses:configuration-set"] == ["order-emails"]
    assert mail["tags"]["ses:from-domain"] == ["example.com"]
    assert mail["tags"]["order_id"] == ["ord-1"]
    assert {"ses:source-ip", "ses:caller-identity"} <= set(mail["tags"])
    assert events[0]["send"] == {}
    delivery = events[1]["delivery"]
    assert delivery["recipients"] == [f"success@{SIM}"]
    assert delivery["smtpResponse"] == "250 2.6.0 Message received"
    assert {"timestamp", "processingTimeMillis", "reportingMTA"} <= set(delivery)
    # AND the e-mail is in the outbox
    [entry] = sandbox.control("GET", "outbox", query={"kind": "email"})
    assert entry["message_id"] == message_id
    assert entry["to"] == [f"success@{SIM}"]
    assert entry["configuration_set"] == "order-emails"
    assert entry["tags"] == {"order_id": "ord-1"}


def test_bounce_address_publishes_permanent_general_bounce(
    sandbox: Sandbox, ses_setup: dict[str, Any]
) -> None:
    send(sandbox, f"bounce@{SIM}")
    events = drain(sandbox, ses_setup["queue"])
    assert [e["eventType"] for e in events] == ["Send", "Bounce"]
    bounce = events[1]["bounce"]
    assert (bounce["bounceType"], bounce["bounceSubType"]) == ("Permanent", "General")
    assert bounce["bouncedRecipients"] == [
        {
            "emailAddress": f"bounce@{SIM}",
            "action": "failed",
            "status": "5.1.1",
            "diagnosticCode": "smtp; 550 5.1.1 user unknown",
        }
    ]
    assert bounce["feedbackId"].endswith("-000000")


def test_complaint_address_publishes_delivery_then_complaint(
    sandbox: Sandbox, ses_setup: dict[str, Any]
) -> None:
    send(sandbox, f"complaint@{SIM}")
    events = drain(sandbox, ses_setup["queue"])
    assert [e["eventType"] for e in events] == ["Send", "Delivery", "Complaint"]
    complaint = events[2]["complaint"]
    assert complaint["complaintFeedbackType"] == "abuse"
    assert complaint["complainedRecipients"] == [{"emailAddress": f"complaint@{SIM}"}]


def test_suppressionlist_address_bounces_on_account_suppression_list(
    sandbox: Sandbox, ses_setup: dict[str, Any]
) -> None:
    send(sandbox, f"suppressionlist@{SIM}")
    events = drain(sandbox, ses_setup["queue"])
    assert [e["eventType"] for e in events] == ["Send", "Bounce"]
    assert events[1]["bounce"]["bounceSubType"] == "OnAccountSuppressionList"


def test_ooto_and_ordinary_addresses_are_delivered(sandbox: Sandbox, ses_setup: dict[str, Any]) -> None:
    send(sandbox, f"ooto@{SIM}")
    send(sandbox, "jane@example.net")
    events = drain(sandbox, ses_setup["queue"])
    assert [e["eventType"] for e in events] == ["Send", "Delivery", "Send", "Delivery"]


def test_template_renders_nested_each_if_without_html_escaping(
    sandbox: Sandbox, ses_setup: dict[str, Any]
) -> None:
    data = {
        "name": "<Jane>",
        "order": {"id": "ord-7"},
        "gift": False,
        "items": [{"name": "Mug", "quantity": 2}, {"name": "Tea", "quantity": 1}],
    }
    send(
        sandbox,
        "jane@example.net",
        Template={"TemplateName": "order-confirmation", "TemplateData": json.dumps(data)},
    )
    [entry] = sandbox.control("GET", "outbox", query={"kind": "email"})
    assert entry["subject"] == "Your order ord-7 is confirmed"
    assert entry["text"] == "Hello <Jane>,\n- 2 x Mug for <Jane>\n- 1 x Tea for <Jane>\nNo gift"
    assert entry["html"] == "<p>Hello <Jane></p>"
    assert entry["template"] == "order-confirmation"


def test_missing_template_data_is_a_rendering_failure_and_nothing_is_sent(
    sandbox: Sandbox, ses_setup: dict[str, Any]
) -> None:
    # WHEN the data lacks a variable (the API call itself succeeds)
    message_id = send(
        sandbox,
        "jane@example.net",
        Template={"TemplateName": "order-confirmation", "TemplateData": json.dumps({"name": "J"})},
    )
    # THEN only a Rendering Failure event, and no e-mail
    events = drain(sandbox, ses_setup["queue"])
    assert [e["eventType"] for e in events] == ["Rendering Failure"]
    assert events[0]["mail"]["messageId"] == message_id
    assert events[0]["failure"] == {
        "errorMessage": "Attribute 'id' is not present in the rendering data.",
        "templateName": "order-confirmation",
    }
    assert sandbox.control("GET", "outbox", query={"kind": "email"}) == []


def test_suppressed_recipient_bounces_and_is_not_delivered(
    sandbox: Sandbox, ses_setup: dict[str, Any]
) -> None:
    sesv2 = sandbox.client("sesv2")
    # GIVEN an address on the account suppression list
    sesv2.put_suppressed_destination(EmailAddress="Gone@Example.net", Reason="BOUNCE")
    got = sesv2.get_suppressed_destination(EmailAddress="gone@example.net")["SuppressedDestination"]
    assert (got["EmailAddress"], got["Reason"]) == ("Gone@Example.net", "BOUNCE")
    listed = sesv2.list_suppressed_destinations(Reasons=["BOUNCE"])["SuppressedDestinationSummaries"]
    assert [s["EmailAddress"] for s in listed] == ["Gone@Example.net"]
    # WHEN mail goes to it
    send(sandbox, "gone@example.net")
    # THEN a suppression bounce and no e-mail
    events = drain(sandbox, ses_setup["queue"])
    assert [e["eventType"] for e in events] == ["Send", "Bounce"]
    assert events[1]["bounce"]["bounceSubType"] == "OnAccountSuppressionList"
    assert sandbox.control("GET", "outbox", query={"kind": "email"}) == []
    # AND once removed, a second removal is NotFoundException
    sesv2.delete_suppressed_destination(EmailAddress="gone@example.net")
    with pytest.raises(ClientError, match="NotFoundException"):
        sesv2.delete_suppressed_destination(EmailAddress="gone@example.net")
    with pytest.raises(ClientError, match="NotFoundException"):
        sesv2.get_suppressed_destination(EmailAddress="gone@example.net")


def test_fails_if_sender_is_not_verified(sandbox: Sandbox, ses_setup: dict[str, Any]) -> None:
    with pytest.raises(ClientError, match="MessageRejected"):
        sandbox.client("sesv2").send_email(
            FromEmailAddress="someone@unverified.example",
            Destination={"ToAddresses": ["jane@example.net"]},
            Content={"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "x"}}}},
        )


def test_fails_if_configuration_set_does_not_exist(sandbox: Sandbox, ses_setup: dict[str, Any]) -> None:
    params = {
        "FromEmailAddress": "orders@example.com",
        "Destination": {"ToAddresses": ["a@example.net"]},
        "Content": {"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "x"}}}},
        "ConfigurationSetName": "missing",
    }
    with pytest.raises(ClientError, match="NotFoundException"):
        sandbox.client("sesv2").send_email(**params)
    with pytest.raises(ClientError, match="ConfigurationSetDoesNotExist"):
        sandbox.client("ses").send_email(
            Source="orders@example.com",
            Destination={"ToAddresses": ["a@example.net"]},
            Message={"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "x"}}},
            ConfigurationSetName="missing",
        )


def test_send_rate_quota_throttles_in_recipients_per_second(
    sandbox: Sandbox, ses_setup: dict[str, Any]
) -> None:
    # GIVEN a quota of 1 e-mail per second
    sandbox.control("PUT", "config", {"ses_max_send_rate": 1})
    sesv2 = sandbox.client("sesv2", config=NO_RETRIES)
    ses = sandbox.client("ses", config=NO_RETRIES)
    assert sesv2.get_account()["SendQuota"]["MaxSendRate"] == 1.0
    assert ses.get_send_quota()["MaxSendRate"] == 1.0
    simple = {"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "x"}}}}
    # WHEN one message to three recipients uses the next two seconds' budget too
    sesv2.send_email(
        FromEmailAddress="orders@example.com",
        Destination={"ToAddresses": ["a@example.net", "b@example.net", "c@example.net"]},
        Content=simple,
    )
    # THEN the next sends are refused with each API's code, and nothing more is sent
    with pytest.raises(ClientError, match="TooManyRequestsException") as v2_error:
        sesv2.send_email(
            FromEmailAddress="orders@example.com",
            Destination={"ToAddresses": ["c@example.net"]},
            Content=simple,
        )
    assert v2_error.value.response["Error"]["Message"] == "Maximum sending rate exceeded."
    with pytest.raises(ClientError, match="Throttling"):
        ses.send_email(
            Source="orders@example.com",
            Destination={"ToAddresses": ["c@example.net"]},
            Message={"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "x"}}},
        )
    assert len(sandbox.control("GET", "outbox", query={"kind": "email"})) == 1


def test_v1_templated_and_raw_sends_are_recorded(sandbox: Sandbox, ses_setup: dict[str, Any]) -> None:
    ses = sandbox.client("ses")
    ses.send_templated_email(
        Source="orders@example.com",
        Destination={"ToAddresses": ["a@example.net"]},
        Template="order-confirmation",
        ConfigurationSetName="order-emails",
        TemplateData=json.dumps({"name": "A", "order": {"id": "1"}, "items": [], "gift": True}),
    )
    raw = "From: orders@example.com\r\nTo: b@example.net\r\nSubject: Raw\r\n\r\nBody\r\n"
    ses.send_raw_email(RawMessage={"Data": raw.encode()})
    entries = sandbox.control("GET", "outbox", query={"kind": "email"})
    assert [(e["subject"], e["to"]) for e in entries] == [
        ("Your order 1 is confirmed", ["a@example.net"]),
        ("Raw", ["b@example.net"]),
    ]
    assert entries[0]["text"].endswith("Gift wrapped")
    assert [e["eventType"] for e in drain(sandbox, ses_setup["queue"])] == ["Send", "Delivery"]


CFN_TEMPLATE = {
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "cfn-ses-events"}},
        "ConfigurationSet": {
            "Type": "AWS::SES::ConfigurationSet",
            "Properties": {
                "DeliveryOptions": {"TlsPolicy": "REQUIRE"},
                "ReputationOptions": {"ReputationMetricsEnabled": True},
                "SendingOptions": {"SendingEnabled": True},
                "SuppressionOptions": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
            },
        },
        "Destination": {
            "Type": "AWS::SES::ConfigurationSetEventDestination",
            "Properties": {
                "ConfigurationSetName": {"Ref": "ConfigurationSet"},
                "EventDestination": {
                    "Enabled": True,
                    "MatchingEventTypes": ["bounce", "delivery", "renderingFailure"],
                    "SnsDestination": {"TopicARN": {"Ref": "Topic"}},
                },
            },
        },
        "Identity": {
            "Type": "AWS::SES::EmailIdentity",
            "Properties": {
                "EmailIdentity": "cfn.example.org",
                "ConfigurationSetAttributes": {"ConfigurationSetName": {"Ref": "ConfigurationSet"}},
                "DkimAttributes": {"SigningEnabled": True},
                "DkimSigningAttributes": {"NextSigningKeyLength": "RSA_2048_BIT"},
                "MailFromAttributes": {
                    "BehaviorOnMxFailure": "USE_DEFAULT_VALUE",
                    "MailFromDomain": "mail.cfn.example.org",
                },
            },
        },
        "Template": {
            "Type": "AWS::SES::Template",
            "Properties": {
                "Template": {
                    "TemplateName": "cfn-template",
                    "SubjectPart": "Hi {{name}}",
                    "TextPart": "{{name}}",
                }
            },
        },
    },
    "Outputs": {
        "ConfigurationSetName": {"Value": {"Ref": "ConfigurationSet"}},
        "DkimName1": {"Value": {"Fn::GetAtt": ["Identity", "DkimDNSTokenName1"]}},
        "DkimValue1": {"Value": {"Fn::GetAtt": ["Identity", "DkimDNSTokenValue1"]}},
    },
}


def test_cloudformation_ses_resources_create_send_and_delete(
    sandbox: Sandbox, ses_setup: dict[str, Any]
) -> None:
    cfn, sesv2, sqs, sns = (sandbox.client(s) for s in ("cloudformation", "sesv2", "sqs", "sns"))
    # GIVEN the SES resources our constructs emit, deployed through CloudFormation
    cfn.create_stack(StackName="ses-cfn", TemplateBody=json.dumps(CFN_TEMPLATE))
    stack = cfn.describe_stacks(StackName="ses-cfn")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["DkimName1"].endswith("._domainkey.cfn.example.org")
    assert outputs["DkimValue1"].endswith(".dkim.amazonses.com")
    config_set = outputs["ConfigurationSetName"]
    identity = sesv2.get_email_identity(EmailIdentity="cfn.example.org")
    assert identity["VerifiedForSendingStatus"] is True
    [destination] = sesv2.get_configuration_set_event_destinations(ConfigurationSetName=config_set)[
        "EventDestinations"
    ]
    assert destination["MatchingEventTypes"] == ["BOUNCE", "DELIVERY", "RENDERING_FAILURE"]
    # WHEN mail is sent without a configuration set (the identity's default applies)
    topic = sns.create_topic(Name="cfn-ses-events")["TopicArn"]
    queue = sqs.create_queue(QueueName="cfn-ses-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    sesv2.send_email(
        FromEmailAddress="shop@cfn.example.org",
        Destination={"ToAddresses": [f"bounce@{SIM}"]},
        Content={"Template": {"TemplateName": "cfn-template", "TemplateData": '{"name": "x"}'}},
    )
    # THEN only the matching event types are published (no Send)
    assert [e["eventType"] for e in drain(sandbox, queue)] == ["Bounce"]
    # WHEN the template and the destination change (an update in place: names and physical ids are kept)
    before = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName="ses-cfn")["StackResources"]
    }
    changed = copy.deepcopy(CFN_TEMPLATE)
    changed["Resources"]["Template"]["Properties"]["Template"]["SubjectPart"] = "Hello {{name}}"
    changed["Resources"]["Destination"]["Properties"]["EventDestination"]["MatchingEventTypes"] = ["bounce"]
    cfn.update_stack(StackName="ses-cfn", TemplateBody=json.dumps(changed))
    # THEN the stack is updated in place with the new content
    assert cfn.describe_stacks(StackName="ses-cfn")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    after = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName="ses-cfn")["StackResources"]
    }
    assert after == before
    subject = sesv2.get_email_template(TemplateName="cfn-template")["TemplateContent"]["Subject"]
    assert subject == "Hello {{name}}"
    [destination] = sesv2.get_configuration_set_event_destinations(ConfigurationSetName=config_set)[
        "EventDestinations"
    ]
    assert destination["MatchingEventTypes"] == ["BOUNCE"]
    # AND deleting the stack removes them
    cfn.delete_stack(StackName="ses-cfn")
    with pytest.raises(ClientError, match="NotFoundException"):
        sesv2.get_email_identity(EmailIdentity="cfn.example.org")
    assert config_set not in sesv2.list_configuration_sets()["ConfigurationSets"]
