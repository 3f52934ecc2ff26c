"""bulk_email_sender: 1,000 destinations at a configured rate with fakes at the SES boundary (injected
clock, no real sleeps), the real gateways against moto, and the transactional / marketing boundary."""

from __future__ import annotations

import json
from collections import Counter as Tally
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Logger
from moto.sesv2.responses import SESV2Response

from lambda_handlers.bulk_email_sender import handler as bulk
from lambda_handlers.bulk_email_sender.config import load_config
from lambda_handlers.bulk_email_sender.gateways import Claim, DynamoDbCampaignTable, SesV2ListManagedSender
from lambda_handlers.bulk_email_sender.logic import CampaignPage, EntryResult
from lambda_handlers.bulk_email_sender.service import BulkEmailService
from lambda_handlers.common.errors import PermanentError, TransientError
from lambda_handlers.common.shell import SqsRecordInfo
from lambda_handlers.order_email_sender import handler as order_sender
from tests.handlers.conftest import (
    CONFIGURATION_SET,
    REGION,
    SENDER_ADDRESS,
    FakeLambdaContext,
    FakeSesExtras,
    create_table,
    failed_ids,
    load_event,
    sent_messages,
    sqs_event,
    sqs_record,
)

TOPIC = "newsletter"
CONTACT_LIST = "shop"


@pytest.fixture(autouse=True)
def _fresh_bulk_handler() -> Iterator[None]:
    bulk.shell.reset()
    yield
    bulk.shell.reset()


def request(campaign_id: str = "spring-2025", **changes: Any) -> str:
    return json.dumps(
        {
            "event_type": "campaign.send",
            "schema_version": "1.0",
            "campaign_id": campaign_id,
            "template_name": "spring-sale",
            "topic": TOPIC,
            "template_data": {"headline": "Spring"},
            **changes,
        }
    )


def environment(**overrides: str) -> dict[str, str]:
    return {
        "SENDER_ADDRESS": SENDER_ADDRESS,
        "CONFIGURATION_SET_NAME": CONFIGURATION_SET,
        "CONTACT_LIST_NAME": CONTACT_LIST,
        "SUPPRESSION_TABLE_NAME": "suppression",
        "CAMPAIGN_TABLE_NAME": "campaigns",
        "CAMPAIGN_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/campaigns",
        "SEND_RATE_PER_SECOND": "20",
        "CONTACTS_PAGE_SIZE": "100",
        **overrides,
    }


# --- fakes at the boundaries ---------------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeContacts:
    contacts: list[dict[str, Any]]
    default: str = "OPT_OUT"

    def topic_default(self, topic: str) -> str:
        return self.default

    def page(self, topic: str, token: str | None, page_size: int) -> tuple[list[dict[str, Any]], str | None]:
        start = int(token or 0)  # like moto: no server-side filter, so the handler's own filter decides
        end = start + page_size
        return self.contacts[start:end], (str(end) if end < len(self.contacts) else None)


@dataclass
class FakeSuppressions:
    addresses: set[str]
    calls: list[int] = field(default_factory=list)

    def suppressed(self, addresses: Sequence[str]) -> set[str]:
        self.calls.append(len(addresses))
        return {a.lower() for a in addresses} & self.addresses


@dataclass
class FakeCampaignTable:
    clock: FakeClock
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    pages: set[tuple[str, int]] = field(default_factory=set)

    def claim(self, campaign_id: str, address: str, *, seconds: float) -> Claim:
        key = f"{campaign_id}#{address.lower()}"
        item = self.items.get(key)
        if item is None or (item["status"] == "sending" and item["claimed_until"] < self.clock.now):
            self.items[key] = {"status": "sending", "claimed_until": self.clock.now + seconds}
            return Claim.CLAIMED
        return Claim.BUSY if item["status"] == "sending" else Claim.DONE

    def record(self, campaign_id: str, result: EntryResult, *, sent: bool) -> None:
        self.items[f"{campaign_id}#{result.address.lower()}"] = {
            "status": "sent" if sent else "failed",
            "ses_status": result.status,
        }

    def release(self, campaign_id: str, address: str) -> None:
        key = f"{campaign_id}#{address.lower()}"
        if self.items.get(key, {}).get("status") == "sending":
            del self.items[key]

    def page_queued(self, campaign_id: str, page_number: int) -> bool:
        return (campaign_id, page_number) in self.pages

    def mark_page_queued(self, campaign_id: str, page_number: int) -> None:
        self.pages.add((campaign_id, page_number))


@dataclass
class FakeQueue:
    bodies: list[str] = field(default_factory=list)

    def enqueue(self, page: CampaignPage) -> None:
        self.bodies.append(json.dumps(page.to_message()))


@dataclass
class FakeSes:
    """Accepts every message except: ``rejected`` for good, ``flaky`` once (transient), and throttles one call."""

    clock: FakeClock
    rejected: set[str] = field(default_factory=set)
    flaky: set[str] = field(default_factory=set)
    throttle_call: int = 3
    delivered: Tally[str] = field(default_factory=Tally)
    calls: list[tuple[float, int]] = field(default_factory=list)

    def send(self, page: CampaignPage, addresses: Sequence[str]) -> list[EntryResult]:
        self.calls.append((self.clock.now, len(addresses)))
        if len(self.calls) == self.throttle_call:
            return [EntryResult(a, "ACCOUNT_THROTTLED") for a in addresses]
        results = []
        for address in addresses:
            if address in self.rejected:
                results.append(EntryResult(address, "MESSAGE_REJECTED"))
            elif address in self.flaky:
                self.flaky.discard(address)
                results.append(EntryResult(address, "TRANSIENT_FAILURE"))
            else:
                self.delivered[address] += 1
                results.append(EntryResult(address, "SUCCESS", f"msg-{address}"))
        return results


def _contact(i: int) -> dict[str, Any]:
    address = f"user{i:04d}@example.net"
    if i % 10 == 3:  # an explicit opt-out of the topic
        return {
            "EmailAddress": address,
            "TopicPreferences": [{"TopicName": TOPIC, "SubscriptionStatus": "OPT_OUT"}],
        }
    if i % 25 == 7:  # unsubscribed from everything
        return {"EmailAddress": address, "UnsubscribeAll": True}
    return {
        "EmailAddress": address,
        "TopicPreferences": [{"TopicName": TOPIC, "SubscriptionStatus": "OPT_IN"}],
    }


def test_thousand_destinations_are_each_sent_once_at_the_configured_rate() -> None:
    # GIVEN 1,000 contacts (opt-outs among them), 20 suppressed, 5 rejected for good, 30 flaky once and one
    # throttled call; a rate of 20 messages/s and pages of 100 contacts
    clock = FakeClock()
    contacts = [_contact(i) for i in range(1000)]
    opted_out = {c["EmailAddress"] for c in contacts if c.get("UnsubscribeAll") or "OPT_OUT" in json.dumps(c)}
    subscribed = [c["EmailAddress"] for c in contacts if c["EmailAddress"] not in opted_out]
    suppressed = set(subscribed[::40])
    rejected = set(subscribed[5:10])
    ses = FakeSes(clock, rejected=rejected, flaky=set(subscribed[100:130]))
    table = FakeCampaignTable(clock)
    queue = FakeQueue()
    suppressions = FakeSuppressions(suppressed)
    service = BulkEmailService(
        load_config(environment()),
        Logger(service="bulk-test"),
        lambda name: None,
        contacts=FakeContacts(contacts),  # type: ignore[arg-type]
        suppressions=suppressions,  # type: ignore[arg-type]
        campaigns=table,  # type: ignore[arg-type]
        pages=queue,  # type: ignore[arg-type]
        sender=ses,
        clock=clock,
        sleep=clock.sleep,
    )

    # WHEN the request and every queued page are processed like SQS would: a failing record comes back
    pending, receives = [request()], 0
    while pending:
        body = pending.pop(0)
        receives += 1
        try:
            service.process(
                SqsRecordInfo(message_id=f"m{receives}", body=body, message_group_id=None, receive_count=1)
            )
        except TransientError:
            pending.append(body)  # redelivered after the visibility timeout
        pending.extend(queue.bodies)
        queue.bodies.clear()
        assert receives < 50, "the campaign does not converge"

    # THEN every subscribed, unsuppressed, accepted address got exactly one message; nobody else got one
    expected = set(subscribed) - suppressed - rejected
    assert set(ses.delivered) == expected
    assert set(ses.delivered.values()) == {1}
    assert not set(ses.delivered) & (opted_out | suppressed)
    # AND the rejected ones are recorded as failed, the rest as sent: nothing is lost or left claimed
    statuses = Tally(item["status"] for key, item in table.items.items())
    assert statuses == {"sent": len(expected), "failed": len(rejected)}
    assert len(table.pages) == 9  # pages 1-9 of 10, each queued once
    # AND no call had more than 20 destinations, and the bucket invariant held at every call:
    # destinations sent by time t <= burst (20) + 20/s x (t - start)
    assert max(n for _, n in ses.calls) <= 20
    start, total = ses.calls[0][0], 0
    for at, n in ses.calls:
        total += n
        assert total <= 20 + 20 * (at - start) + 1e-6
    assert clock.now - start >= (total - 20) / 20
    assert max(suppressions.calls) <= 100


def test_a_campaign_wide_refusal_dead_letters_the_page_and_releases_the_claims() -> None:
    # GIVEN SES answering TEMPLATE_NOT_FOUND for every destination
    clock = FakeClock()
    table = FakeCampaignTable(clock)

    class MissingTemplate:
        def send(self, page: CampaignPage, addresses: Sequence[str]) -> list[EntryResult]:
            return [EntryResult(a, "TEMPLATE_NOT_FOUND") for a in addresses]

    service = BulkEmailService(
        load_config(environment()),
        Logger(service="bulk-test"),
        lambda name: None,
        contacts=FakeContacts([_contact(0), _contact(1)]),  # type: ignore[arg-type]
        suppressions=FakeSuppressions(set()),  # type: ignore[arg-type]
        campaigns=table,  # type: ignore[arg-type]
        pages=FakeQueue(),  # type: ignore[arg-type]
        sender=MissingTemplate(),
        clock=clock,
        sleep=clock.sleep,
    )
    # WHEN the page is processed THEN it fails permanently and nobody stays claimed
    with pytest.raises(PermanentError, match="TEMPLATE_NOT_FOUND"):
        service.process(SqsRecordInfo(message_id="m", body=request(), message_group_id=None, receive_count=1))
    assert table.items == {}


# --- the real gateways against moto ---------------------------------------------------------------------
@dataclass
class BulkCalls:
    params: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def moto_bulk(aws: None, monkeypatch: pytest.MonkeyPatch) -> BulkCalls:
    """moto's SESv2 with ``SendBulkEmail`` (moto 5.2 has none): every entry succeeds."""
    calls = BulkCalls()

    def send_bulk_email(self: SESV2Response) -> str:
        params = json.loads(self.body)
        calls.params.append(params)
        results = [
            {"Status": "SUCCESS", "MessageId": f"m-{i}"} for i, _ in enumerate(params["BulkEmailEntries"])
        ]
        return json.dumps({"BulkEmailEntryResults": results})

    monkeypatch.setattr(SESV2Response, "send_bulk_email", send_bulk_email, raising=False)
    sesv2 = boto3.client("sesv2", region_name=REGION)
    sesv2.create_contact_list(
        ContactListName=CONTACT_LIST,
        Topics=[{"TopicName": TOPIC, "DisplayName": "Newsletter", "DefaultSubscriptionStatus": "OPT_OUT"}],
    )
    create_table("suppression", "address")
    create_table("campaigns", "id", ttl_attribute="expires_at")
    return calls


def test_handler_pages_through_moto_and_skips_opt_outs_and_suppressions(
    moto_bulk: BulkCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN 60 contacts in moto (every 4th opted out, some without preference = topic default OPT_OUT),
    # one suppressed address, pages of 25 and SendBulkEmail mode
    sesv2 = boto3.client("sesv2", region_name=REGION)
    expected = set()
    for i in range(60):
        address = f"reader{i:02d}@example.net"
        if i % 4 == 0:
            sesv2.create_contact(
                ContactListName=CONTACT_LIST,
                EmailAddress=address,
                TopicPreferences=[{"TopicName": TOPIC, "SubscriptionStatus": "OPT_OUT"}],
            )
        elif i % 7 == 0:
            sesv2.create_contact(ContactListName=CONTACT_LIST, EmailAddress=address)
        else:
            sesv2.create_contact(
                ContactListName=CONTACT_LIST,
                EmailAddress=address,
                TopicPreferences=[{"TopicName": TOPIC, "SubscriptionStatus": "OPT_IN"}],
            )
            expected.add(address)
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName="suppression", Item={"address": {"S": "reader01@example.net"}}
    )
    expected.discard("reader01@example.net")
    queue_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="campaigns")["QueueUrl"]
    for name, value in environment(
        CAMPAIGN_QUEUE_URL=queue_url, CONTACTS_PAGE_SIZE="25", ONE_CLICK_UNSUBSCRIBE="false"
    ).items():
        monkeypatch.setenv(name, value)

    clock = FakeClock()  # the token bucket waits on this clock: no real sleeps
    bulk.shell.reset(
        BulkEmailService(load_config(), bulk.shell.logger, bulk.shell.count, clock=clock, sleep=clock.sleep)
    )

    # WHEN the request goes through the real entry point (moto ignores ListContacts' Filter and PageSize,
    # so the handler's own filter decides) and is delivered twice
    first = bulk.handler(sqs_event(sqs_record(request())), FakeLambdaContext())
    second = bulk.handler(sqs_event(sqs_record(request())), FakeLambdaContext())

    # THEN every subscribed, unsuppressed address got exactly one entry, with the config set and tags
    assert failed_ids(first) == [] and failed_ids(second) == []
    sent = [e["Destination"]["ToAddresses"][0] for p in moto_bulk.params for e in p["BulkEmailEntries"]]
    assert sorted(sent) == sorted(expected)
    assert clock.now > 1_000.0  # 38 messages at 20/s with a burst of 20: the bucket made it wait
    assert all(len(p["BulkEmailEntries"]) <= 20 for p in moto_bulk.params)
    assert moto_bulk.params[0]["ConfigurationSetName"] == CONFIGURATION_SET
    assert {"Name": "campaign_id", "Value": "spring-2025"} in moto_bulk.params[0]["DefaultEmailTags"]
    # AND the results are recorded per address in the campaign table
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName="campaigns", Key={"id": {"S": f"spring-2025#{sorted(expected)[0]}"}}
    )["Item"]
    assert item["status"]["S"] == "sent" and item["ses_status"]["S"] == "SUCCESS"


def test_campaign_table_claims_are_exclusive_until_they_expire(aws: None) -> None:
    # GIVEN the real campaign table in moto and a clock we move
    create_table("campaigns", "id", ttl_attribute="expires_at")
    now = [1_000_000.0]
    table = DynamoDbCampaignTable(table_name="campaigns", ttl_days=90, clock=lambda: now[0])
    # WHEN two deliveries claim the same address THEN only the first may send
    assert table.claim("c1", "A@example.com", seconds=60) is Claim.CLAIMED
    assert table.claim("c1", "a@example.com", seconds=60) is Claim.BUSY
    # AND after the claim expired it may be claimed again; once recorded it is done for good
    now[0] += 120
    assert table.claim("c1", "a@example.com", seconds=60) is Claim.CLAIMED
    table.record("c1", EntryResult("a@example.com", "SUCCESS", "m-1"), sent=True)
    now[0] += 10_000
    assert table.claim("c1", "a@example.com", seconds=60) is Claim.DONE
    # AND a released claim can be taken at once
    assert table.claim("c1", "b@example.com", seconds=60) is Claim.CLAIMED
    table.release("c1", "b@example.com")
    assert table.claim("c1", "b@example.com", seconds=60) is Claim.CLAIMED


def test_list_managed_sends_carry_list_management_options(ses: FakeSesExtras) -> None:
    # GIVEN a campaign template in moto's SES and the one-click-unsubscribe sender
    boto3.client("ses", region_name=REGION).create_template(
        Template={"TemplateName": "spring-sale", "SubjectPart": "{{headline}}", "TextPart": "{{headline}}"}
    )
    config = load_config(environment())
    page = CampaignPage(
        campaign_id="c1", template_name="spring-sale", topic=TOPIC, template_data='{"headline":"Hi"}'
    )
    # WHEN it sends to two addresses
    results = SesV2ListManagedSender(config.campaign).send(page, ["a@example.net", "b@example.net"])
    # THEN each is its own SendEmail naming the contact list and topic (SES adds List-Unsubscribe)
    assert [r.status for r in results] == ["SUCCESS", "SUCCESS"]
    assert [s["params"]["ListManagementOptions"] for s in ses.rendered] == [
        {"ContactListName": CONTACT_LIST, "TopicName": TOPIC}
    ] * 2
    assert [s["params"]["Destination"]["ToAddresses"] for s in ses.rendered] == [
        ["a@example.net"],
        ["b@example.net"],
    ]


# --- transactional mail is not marketing mail ------------------------------------------------------------
def test_a_marketing_opt_out_does_not_block_an_order_confirmation_but_a_suppression_does(
    ses: FakeSesExtras, suppression_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the customer unsubscribed from every marketing topic of the contact list
    customer = "jane.doe@example.net"
    sesv2 = boto3.client("sesv2", region_name=REGION)
    sesv2.create_contact_list(
        ContactListName=CONTACT_LIST,
        Topics=[{"TopicName": TOPIC, "DisplayName": "Newsletter", "DefaultSubscriptionStatus": "OPT_IN"}],
    )
    sesv2.create_contact(
        ContactListName=CONTACT_LIST,
        EmailAddress=customer,
        TopicPreferences=[{"TopicName": TOPIC, "SubscriptionStatus": "OPT_OUT"}],
        UnsubscribeAll=True,
    )
    monkeypatch.setenv("SENDER_ADDRESS", SENDER_ADDRESS)
    monkeypatch.setenv("CONFIGURATION_SET_NAME", CONFIGURATION_SET)
    monkeypatch.setenv("SUPPRESSION_TABLE_NAME", suppression_table)
    monkeypatch.setenv(
        "IDEMPOTENCY_TABLE_NAME", create_table("idempotency", "id", ttl_attribute="expiration")
    )
    order = load_event("order_placed_v1.json")
    assert order["customer"]["email"] == customer

    # WHEN an order confirmation is sent THEN it goes out, without list management (transactional)
    assert (
        failed_ids(order_sender.handler(sqs_event(sqs_record(json.dumps(order))), FakeLambdaContext())) == []
    )
    [message] = sent_messages()
    assert message.destinations == {"ToAddresses": [customer]}

    # WHEN the address is then suppressed (a hard bounce) and another order is placed
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=suppression_table, Item={"address": {"S": customer}}
    )
    second = {**order, "order_id": "ord-2024-000124"}
    assert (
        failed_ids(order_sender.handler(sqs_event(sqs_record(json.dumps(second))), FakeLambdaContext())) == []
    )
    # THEN no second message is sent
    assert len(sent_messages()) == 1
