"""The sandbox's moto speed-ups answer what moto answers: retention, visibility, transaction rollback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from notification_constructs.testing import _moto_speedups

REGION = "us-east-1"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        _moto_speedups.install()
        yield


def _table(ddb: Any, name: str, *, range_key: bool = False) -> None:
    keys = [{"AttributeName": "k", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "k", "AttributeType": "S"}]
    if range_key:
        keys.append({"AttributeName": "r", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "r", "AttributeType": "S"})
    ddb.create_table(
        TableName=name, KeySchema=keys, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST"
    )


def test_a_cancelled_transaction_leaves_every_touched_item_as_it_was(aws: None) -> None:
    # GIVEN a hash-key table with one item and a hash + range table with one item
    ddb = boto3.client("dynamodb", region_name=REGION)
    _table(ddb, "plain")
    _table(ddb, "ranged", range_key=True)
    ddb.put_item(TableName="plain", Item={"k": {"S": "a"}, "v": {"S": "old"}})
    ddb.put_item(TableName="ranged", Item={"k": {"S": "a"}, "r": {"S": "1"}, "v": {"S": "old"}})

    # WHEN a transaction writes a new item, updates both existing ones and then fails a condition
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as cancelled:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "plain", "Item": {"k": {"S": "new"}}}},
                {"Put": {"TableName": "ranged", "Item": {"k": {"S": "a"}, "r": {"S": "2"}}}},
                {
                    "Update": {
                        "TableName": "ranged",
                        "Key": {"k": {"S": "a"}, "r": {"S": "1"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "changed"}},
                    }
                },
                {
                    "Put": {
                        "TableName": "plain",
                        "Item": {"k": {"S": "a"}, "v": {"S": "changed"}},
                        "ConditionExpression": "attribute_not_exists(k)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )

    # THEN the reasons are moto's (the failed one with the old item) and nothing was written
    reasons = cancelled.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "None", "None", "ConditionalCheckFailed"]
    assert reasons[3]["Item"] == {"k": {"S": "a"}, "v": {"S": "old"}}
    assert ddb.scan(TableName="plain")["Items"] == [{"k": {"S": "a"}, "v": {"S": "old"}}]
    assert ddb.scan(TableName="ranged")["Items"] == [{"k": {"S": "a"}, "r": {"S": "1"}, "v": {"S": "old"}}]


def test_a_transaction_that_succeeds_writes_everything(aws: None) -> None:
    ddb = boto3.client("dynamodb", region_name=REGION)
    _table(ddb, "plain")
    ddb.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": "plain",
                    "Item": {"k": {"S": f"item-{i}"}},
                    "ConditionExpression": "attribute_not_exists(k)",
                }
            }
            for i in range(3)
        ]
    )
    assert sorted(i["k"]["S"] for i in ddb.scan(TableName="plain")["Items"]) == ["item-0", "item-1", "item-2"]


def test_received_messages_keep_visibility_timeout_and_retention(aws: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
    assert sorted(m["Body"] for m in first) == ["0", "1", "2"]
    # in flight: not received again, but counted as not visible
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "3"


def test_a_message_past_its_retention_period_is_not_returned(aws: None) -> None:
    from moto.sqs.models import sqs_backends

    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="old", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="stale")
    queue = sqs_backends["123456789012"][REGION].queues["old"]
    queue._messages[0].sent_timestamp = int((time.time() - 120) * 1000)
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
