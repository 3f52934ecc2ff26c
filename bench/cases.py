"""The handler cases the cold-start and warm benchmarks share: for each handler its environment, one SQS
record body (``body(i)`` makes record ``i`` of a batch distinct where the handler keys on ids), the AWS
requests it makes for one record against :mod:`_fake_aws`, and its *floor*: the least code that does the
same job - parse the same JSON (the record body: the pipelines subscribe their queues with raw message
delivery, so the body *is* the SNS message) and make the same AWS requests with plain
``boto3.client(...)`` clients.

A floor is two snippets: ``clients`` (run once, creates the clients) and ``calls`` (run per record with
``message``, the parsed body, ``i``, the record's index, and ``last``, whether it is the batch's last
record, in scope).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "tests" / "events"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
DLQ_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/dlq"
ALERT_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"
PARTNER_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:partners"
ON_CALL_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:on-call"
DEADLINE_QUEUE = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/ack-deadlines"
CAMPAIGN_QUEUE = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/campaigns"
FORWARD_QUEUE = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/human-replies"
BUCKET = "inbound-mail"


def _event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


def _sns_envelope(message: dict[str, Any], topic: str) -> str:
    """The body of an SQS record fed by an SNS subscription without raw message delivery."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic}",
            "Message": json.dumps(message),
            "Timestamp": "2024-05-01T12:00:00.000Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertURL": "https://sns.example.com/cert.pem",
            "UnsubscribeURL": "https://sns.example.com/unsubscribe",
        }
    )


@dataclass(frozen=True)
class Case:
    env: dict[str, str]
    body: Callable[[int], str]
    """The body of record ``i``."""
    calls: list[str]
    """``service:Operation`` of every AWS request for one record, in order."""
    floor_clients: str
    floor_calls: str
    per_batch_calls: list[str] = field(default_factory=list)
    """Requests made once per batch (after its records)."""
    batch_calls: Callable[[int], list[str]] | None = None
    """Every request of a batch of ``n`` >= 2 records, for a handler that batches requests across records
    (default: ``calls`` per record, then ``per_batch_calls``)."""

    def requests(self, n: int) -> list[str]:
        """The requests of a batch of ``n`` records, in order."""
        if n > 1 and self.batch_calls is not None:
            return self.batch_calls(n)
        return self.calls * n + self.per_batch_calls


def _order(i: int) -> str:
    order = _event("order_placed_v1.json")
    order["order_id"] = f"{order['order_id']}-{i}"
    return json.dumps(order)


def _complaint(i: int) -> str:
    return (EVENTS / "ses_event_complaint.json").read_text()


def _shipment(i: int) -> str:
    update = _event("shipment_updated_v1.json")
    update["order_id"] = f"{update['order_id']}-{i}"
    return json.dumps(update)


def _incident(i: int) -> str:
    incident = _event("incident_open_v1.json")
    incident["incident_id"] = f"{incident['incident_id']}-{i}"
    incident["event_id"] = f"{incident['event_id']}-{i}"
    return json.dumps(incident)


def _campaign(i: int) -> str:
    request = {
        "event_type": "campaign.send",
        "schema_version": "1.0",
        "campaign_id": f"spring-{i}",
        "template_name": "spring-sale",
        "topic": "offers",
        "template_data": {"headline": "Spring"},
    }
    return json.dumps(request)


def _received(i: int) -> str:
    notification = {
        "notificationType": "Received",
        "receipt": {
            "timestamp": "2026-11-30T09:12:00.500Z",
            "processingTimeMillis": 320,
            "recipients": ["replies@example.com"],
            "spamVerdict": {"status": "PASS"},
            "virusVerdict": {"status": "PASS"},
            "spfVerdict": {"status": "PASS"},
            "dkimVerdict": {"status": "PASS"},
            "dmarcVerdict": {"status": "PASS"},
            "action": {
                "type": "S3",
                "topicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:inbound",
                "bucketName": BUCKET,
                "objectKeyPrefix": "inbound/",
                "objectKey": f"inbound/reply{i:04d}",
            },
        },
        "mail": {
            "timestamp": "2026-11-30T09:12:00.180Z",
            "source": "jane.doe@example.net",
            "messageId": f"reply{i:04d}",
            "destination": ["replies@example.com"],
            "headersTruncated": False,
        },
    }
    return json.dumps(notification)


CASES: dict[str, Case] = {
    "order_email_sender": Case(
        env={
            "SENDER_ADDRESS": "Shop <orders@example.com>",
            "CONFIGURATION_SET_NAME": "order-emails",
            "TEMPLATE_NAME": "order-confirmation",
            "SUPPRESSION_TABLE_NAME": "suppression",
            "IDEMPOTENCY_TABLE_NAME": "idempotency",
            "DEAD_LETTER_QUEUE_URL": DLQ_URL,
        },
        body=_order,
        # one record: idempotency record in progress, suppression lookup, send, idempotency record completed
        calls=["dynamodb:PutItem", "dynamodb:GetItem", "sesv2:SendEmail", "dynamodb:PutItem"],
        # a batch: the claims in one transaction, the suppressions in one read, a send per record, the
        # completions in one batch write
        batch_calls=lambda n: [
            "dynamodb:TransactWriteItems",
            "dynamodb:BatchGetItem",
            *["sesv2:SendEmail"] * n,
            "dynamodb:BatchWriteItem",
        ],
        floor_clients='ddb = boto3.client("dynamodb")\nses = boto3.client("sesv2")',
        floor_calls="""
def record(m, status):
    return {"id": {"S": "order-confirmation#" + m["order_id"]}, "status": {"S": status}}
if len(messages) == 1:
    ddb.put_item(TableName="idempotency", Item=record(message, "INPROGRESS"),
        ConditionExpression="attribute_not_exists(id)")
    ddb.get_item(TableName="suppression", Key={"address": {"S": message["customer"]["email"].lower()}},
        ConsistentRead=True)
elif i == 0:
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "idempotency",
        "Item": record(m, "INPROGRESS"), "ConditionExpression": "attribute_not_exists(id)"}} for m in messages])
    ddb.batch_get_item(RequestItems={"suppression": {"ConsistentRead": True,
        "Keys": [{"address": {"S": m["customer"]["email"].lower()}} for m in messages]}})
ses.send_email(FromEmailAddress="Shop <orders@example.com>",
    Destination={"ToAddresses": [message["customer"]["email"]]}, ConfigurationSetName="order-emails",
    Content={"Template": {"TemplateName": "order-confirmation", "TemplateData": json.dumps(message)}})
if len(messages) == 1:
    ddb.put_item(TableName="idempotency", Item=record(message, "COMPLETED"))
elif last:
    ddb.batch_write_item(RequestItems={"idempotency": [{"PutRequest": {"Item": record(m, "COMPLETED")}}
        for m in messages]})
""",
    ),
    "order_writer": Case(
        env={"ORDERS_TABLE_NAME": "orders", "DEAD_LETTER_QUEUE_URL": DLQ_URL},
        body=_order,
        calls=["dynamodb:PutItem"],
        batch_calls=lambda n: ["dynamodb:TransactWriteItems"],  # the batch's conditional puts at once
        # the same item content: the order's fields, serialized by boto3's TypeSerializer
        floor_clients='ddb = boto3.client("dynamodb")\nfrom boto3.dynamodb.types import TypeSerializer\n'
        "serialize = TypeSerializer().serialize",
        floor_calls="""
def put(m):
    return {"TableName": "orders", "Item": {key: serialize(value) for key, value in m.items()},
        "ConditionExpression": "attribute_not_exists(order_id)", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
if len(messages) == 1:
    ddb.put_item(**put(message))
elif i == 0:
    ddb.transact_write_items(TransactItems=[{"Put": put(m)} for m in messages])
""",
    ),
    "bounce_processor": Case(
        env={
            "SUPPRESSION_TABLE_NAME": "suppression",
            "SOFT_BOUNCE_TABLE_NAME": "soft-bounces",
            "ALERT_TOPIC_ARN": ALERT_TOPIC,
            "DEAD_LETTER_QUEUE_URL": DLQ_URL,
        },
        body=_complaint,
        # a complaint: one suppression; one alert summary per batch
        calls=["dynamodb:PutItem"],
        per_batch_calls=["sns:Publish"],
        floor_clients='ddb = boto3.client("dynamodb")\nsns = boto3.client("sns")',
        floor_calls=f"""
address = message["complaint"]["complainedRecipients"][0]["emailAddress"].lower()
ddb.put_item(TableName="suppression", Item={{"address": {{"S": address}}, "reason": {{"S": "COMPLAINT"}}}},
    ConditionExpression="attribute_not_exists(address)")
if last:
    sns.publish(TopicArn="{ALERT_TOPIC}", Subject="SES alert: complaint suppressions", Message="summary")
""",
    ),
    "shipment_notifier": Case(
        env={
            "SENDER_ADDRESS": "Shop <orders@example.com>",
            "CONFIGURATION_SET_NAME": "order-emails",
            "TEMPLATE_NAME": "shipment-update",
            "SUPPRESSION_TABLE_NAME": "suppression",
            "SHIPMENT_STATE_TABLE_NAME": "shipment-state",
            "PARTNER_TOPIC_ARN": PARTNER_TOPIC,
            "DEAD_LETTER_QUEUE_URL": DLQ_URL,
        },
        body=_shipment,
        # accept the update; per channel (sms, email, webhook): claim, [opt-out / suppression check], send,
        # complete
        calls=[
            "dynamodb:UpdateItem",
            *(
                "dynamodb:UpdateItem",
                "sns:CheckIfPhoneNumberIsOptedOut",
                "sns:Publish",
                "dynamodb:UpdateItem",
            ),
            *("dynamodb:UpdateItem", "dynamodb:GetItem", "sesv2:SendEmail", "dynamodb:UpdateItem"),
            *("dynamodb:UpdateItem", "sns:Publish", "dynamodb:UpdateItem"),
        ],
        floor_clients='ddb = boto3.client("dynamodb")\nses = boto3.client("sesv2")\nsns = boto3.client("sns")',
        floor_calls=f"""
key = {{"order_id": {{"S": message["order_id"]}}}}
ddb.update_item(TableName="shipment-state", Key=key, UpdateExpression="SET #s = :s",
    ExpressionAttributeNames={{"#s": "status"}}, ExpressionAttributeValues={{":s": {{"S": message["status"]}}}})
for channel in message["channels"]:
    ddb.update_item(TableName="shipment-state", Key=key, UpdateExpression="SET #l = :l",
        ExpressionAttributeNames={{"#l": "lease_" + channel}}, ExpressionAttributeValues={{":l": {{"N": "1"}}}})
    text = "Order " + message["order_id"] + " " + message["status"] + ": " + message["tracking_url"]
    if channel == "sms":
        phone = message["customer"]["phone_number"]
        sns.check_if_phone_number_is_opted_out(phoneNumber=phone)
        sns.publish(PhoneNumber=phone, Message=text)
    elif channel == "email":
        ddb.get_item(TableName="suppression", Key={{"address": {{"S": message["customer"]["email"].lower()}}}})
        ses.send_email(FromEmailAddress="Shop <orders@example.com>",
            Destination={{"ToAddresses": [message["customer"]["email"]]}}, ConfigurationSetName="order-emails",
            Content={{"Template": {{"TemplateName": "shipment-update", "TemplateData": json.dumps(message)}}}})
    else:
        sns.publish(TopicArn="{PARTNER_TOPIC}", Message=json.dumps(message))
    ddb.update_item(TableName="shipment-state", Key=key, UpdateExpression="ADD done :d",
        ExpressionAttributeValues={{":d": {{"SS": [channel]}}}})
""",
    ),
    "incident_tracker": Case(
        env={
            "INCIDENTS_TABLE_NAME": "incidents",
            "ON_CALL_TOPIC_ARN": ON_CALL_TOPIC,
            "ACKNOWLEDGEMENT_DEADLINE_QUEUE_URL": DEADLINE_QUEUE,
            "INCIDENT_REPORT_RECIPIENTS": "stakeholders@example.com",
            "SENDER_ADDRESS": "Incidents <incidents@example.com>",
            "CONFIGURATION_SET_NAME": "order-emails",
            "DEAD_LETTER_QUEUE_URL": DLQ_URL,
        },
        body=_incident,
        # read the incident, claim it (new), page on call, save it, schedule the acknowledgement check,
        # save the scheduled check
        calls=[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "sns:Publish",
            "dynamodb:PutItem",
            "sqs:SendMessage",
            "dynamodb:PutItem",
        ],
        floor_clients='ddb = boto3.client("dynamodb")\nsns = boto3.client("sns")\nsqs = boto3.client("sqs")',
        floor_calls=f"""
key = {{"incident_id": {{"S": message["incident_id"]}}}}
item = {{**key, "status": {{"S": "open"}}, "severity": {{"S": message["severity"]}}}}
ddb.get_item(TableName="incidents", Key=key, ConsistentRead=True)
ddb.put_item(TableName="incidents", Item=item, ConditionExpression="attribute_not_exists(incident_id)")
sns.publish(TopicArn="{ON_CALL_TOPIC}", Subject="[critical] " + message["service"], Message=message["summary"])
ddb.put_item(TableName="incidents", Item={{**item, "paged": {{"BOOL": True}}}})
sqs.send_message(QueueUrl="{DEADLINE_QUEUE}", MessageBody=json.dumps({{"incident_id": message["incident_id"]}}),
    DelaySeconds=900)
ddb.put_item(TableName="incidents", Item={{**item, "check": {{"BOOL": True}}}})
""",
    ),
    "bulk_email_sender": Case(
        env={
            "SENDER_ADDRESS": "Shop <news@example.com>",
            "CONFIGURATION_SET_NAME": "marketing",
            "CONTACT_LIST_NAME": "shop",
            "SUPPRESSION_TABLE_NAME": "suppression",
            "CAMPAIGN_TABLE_NAME": "campaigns",
            "CAMPAIGN_QUEUE_URL": CAMPAIGN_QUEUE,
            "SEND_RATE_PER_SECOND": "10000",
            "CONTACTS_PAGE_SIZE": "10",
            "ONE_CLICK_UNSUBSCRIBE": "false",
            "DEAD_LETTER_QUEUE_URL": DLQ_URL,
        },
        body=_campaign,
        # one record = one page of 10 contacts: the topic, the page, the suppression lookup, a claim per
        # contact, one bulk send, a result per contact
        calls=[
            "sesv2:GetContactList",
            "sesv2:ListContacts",
            "dynamodb:BatchGetItem",
            *["dynamodb:PutItem"] * 10,
            "sesv2:SendBulkEmail",
            *["dynamodb:PutItem"] * 10,
        ],
        floor_clients='ddb = boto3.client("dynamodb")\nses = boto3.client("sesv2")',
        floor_calls="""
ses.get_contact_list(ContactListName="shop")
contacts = ses.list_contacts(ContactListName="shop", PageSize=10, Filter={"FilteredStatus": "OPT_IN",
    "TopicFilter": {"TopicName": message["topic"]}})["Contacts"]
addresses = [contact["EmailAddress"] for contact in contacts]
ddb.batch_get_item(RequestItems={"suppression": {"Keys": [{"address": {"S": a}} for a in addresses]}})
for address in addresses:
    ddb.put_item(TableName="campaigns", Item={"id": {"S": message["campaign_id"] + "#" + address}},
        ConditionExpression="attribute_not_exists(id)")
results = ses.send_bulk_email(FromEmailAddress="Shop <news@example.com>", ConfigurationSetName="marketing",
    DefaultContent={"Template": {"TemplateName": message["template_name"],
        "TemplateData": json.dumps(message["template_data"])}},
    BulkEmailEntries=[{"Destination": {"ToAddresses": [a]}} for a in addresses])["BulkEmailEntryResults"]
for address, result in zip(addresses, results):
    ddb.put_item(TableName="campaigns", Item={"id": {"S": message["campaign_id"] + "#" + address},
        "status": {"S": "sent"}, "ses_message_id": {"S": result["MessageId"]}})
""",
    ),
    "reply_classifier": Case(
        env={
            "INBOUND_BUCKET_NAME": BUCKET,
            "FORWARD_FROM_ADDRESS": "Shop <replies@example.com>",
            "FORWARD_TO_ADDRESS": "support@example.com",
            "DEAD_LETTER_QUEUE_URL": DLQ_URL,
        },
        body=_received,
        # read the stored mail, forward the human reply
        calls=["s3:GetObject", "sesv2:SendEmail"],
        floor_clients='s3 = boto3.client("s3")\nses = boto3.client("sesv2")',
        floor_calls="""
action = message["receipt"]["action"]
raw = s3.get_object(Bucket=action["bucketName"], Key=action["objectKey"])["Body"].read()
ses.send_email(FromEmailAddress="Shop <replies@example.com>", Destination={"ToAddresses": ["support@example.com"]},
    ReplyToAddresses=[message["mail"]["source"]], Content={"Raw": {"Data": raw}})
""",
    ),
}


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    """An SQS batch event with these record bodies."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "AQEBexample==",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1714564800000"},
                "messageAttributes": {},
                "md5OfBody": "0" * 32,
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:source-queue",
                "awsRegion": REGION,
            }
            for body in bodies
        ]
    }


class Context:
    """The Lambda context attributes Powertools and the shell read."""

    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:bench"
    aws_request_id = "bench-request"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
