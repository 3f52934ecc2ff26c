"""BulkEmailSender wiring (environment, scoped grants, queue) and the sender's pure decisions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from lambda_handlers.bulk_email_sender.logic import (
    CampaignSettings,
    Outcome,
    bulk_request,
    chunks,
    is_subscribed,
    list_managed_request,
    outcome_of,
    parse_campaign_page,
    select_recipients,
)
from lambda_handlers.common.errors import SchemaError, UnsupportedSchemaVersionError
from lambda_handlers.common.send_rate import TokenBucket
from notification_constructs import (
    BounceHandlingPipeline,
    EmailConfigurationSet,
    NotificationConfigError,
    SenderIdentity,
)
from notification_constructs.pipelines.bulk_email_sender import BulkEmailSender
from notification_constructs.subscription_management import ContactListTopic, SubscriptionManagement
from tests.unit.pipeline_stack import actions_on, statements_of

SETTINGS = CampaignSettings(
    from_address="Shop <news@example.com>", configuration_set_name="marketing", contact_list_name="shop"
)


def _build(**overrides: Any) -> tuple[BulkEmailSender, Template]:
    stack = Stack(App(), "Campaigns")
    config = EmailConfigurationSet(stack, "Config", configuration_set_name="marketing")
    sender = SenderIdentity(stack, "Sender", domain="example.com")
    bounces = BounceHandlingPipeline(stack, "Bounces", configuration_set=config)
    subscriptions = SubscriptionManagement(
        stack, "Subscriptions", topics=[ContactListTopic(name="newsletter", display_name="Newsletter")]
    )
    props: dict[str, Any] = {
        "sender": sender,
        "configuration_set": config,
        "from_address": "Shop <news@example.com>",
        "subscriptions": subscriptions,
        "suppression_table": bounces.suppression_table,
        "max_send_rate": 14,
        "max_concurrency": 2,
        **overrides,
    }
    pipeline = BulkEmailSender(stack, "Bulk", **props)
    return pipeline, Template.from_stack(stack)


@pytest.fixture(scope="module")
def built() -> tuple[BulkEmailSender, Template]:
    return _build(templates=["spring-sale"])


def _environment(template: Template) -> dict[str, Any]:
    [function] = [
        f["Properties"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "lambda_handlers.bulk_email_sender.handler.handler"
    ]
    return dict(function["Environment"]["Variables"]) | {"_timeout": function["Timeout"]}


def test_the_rate_is_split_over_the_concurrency_and_pages_fit_the_timeout(
    built: tuple[BulkEmailSender, Template],
) -> None:
    # GIVEN 14 messages/s over 2 concurrent invocations
    _, template = built
    environment = _environment(template)
    # THEN each execution environment paces itself at 7/s and a page is 7/s x 60 s = 420 contacts
    assert environment["SEND_RATE_PER_SECOND"] == "7"
    assert environment["CONTACTS_PAGE_SIZE"] == "420"
    assert environment["ONE_CLICK_UNSUBSCRIBE"] == "true"
    assert environment["_timeout"] == 120
    # AND the event source feeds one page per invocation with at most 2 concurrent invocations
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"BatchSize": 1, "ScalingConfig": {"MaximumConcurrency": 2}}
    )


def test_grants_are_scoped_to_the_list_tables_queue_and_template(
    built: tuple[BulkEmailSender, Template],
) -> None:
    # GIVEN the default one-click-unsubscribe sender
    _, template = built
    statements = statements_of(template, "BulkSender")
    # THEN it reads the contact list, batch-reads the suppression table, claims / records in its table
    assert actions_on(statements, "contact-list/") >= {
        "ses:GetContactList",
        "ses:ListContacts",
        "ses:SendEmail",
    }
    assert "dynamodb:BatchGetItem" in actions_on(statements, "BouncesSuppression")
    assert actions_on(statements, "BulkCampaignTable") >= {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
    }
    # AND it sends only the named template from the sender address, never SendBulkEmail
    send = [
        s for s in statements if s["Action"] == "ses:SendEmail" and "template/spring-sale" in json.dumps(s)
    ]
    assert send and send[0]["Condition"] == {"StringEquals": {"ses:FromAddress": "news@example.com"}}
    assert not any("ses:SendBulkEmail" in json.dumps(s["Action"]) for s in statements)


def test_bulk_mode_grants_send_bulk_email_instead() -> None:
    # GIVEN one_click_unsubscribe=False and no template names
    _, template = _build(one_click_unsubscribe=False)
    statements = statements_of(template, "BulkSender")
    # THEN SendBulkEmail is granted on the identity, config set and any template, with the From condition
    [bulk] = [s for s in statements if s["Action"] == "ses:SendBulkEmail"]
    assert "template/*" in json.dumps(bulk["Resource"])
    assert bulk["Condition"] == {"StringEquals": {"ses:FromAddress": "news@example.com"}}
    assert _environment(template)["ONE_CLICK_UNSUBSCRIBE"] == "false"


def test_fails_if_rate_concurrency_or_page_size_do_not_fit() -> None:
    # WHEN the pages cannot be sent within the budget, or the settings are out of range
    with pytest.raises(NotificationConfigError) as caught:
        _build(
            max_concurrency=1,
            max_send_rate=4,
            contacts_page_size=1000,
            from_address="not an address",
            templates=["bad name"],
        )
    problems = "\n".join(caught.value.problems)
    # THEN every problem is listed
    assert "max_concurrency 1: must be 2-1000" in problems
    assert "contacts_page_size 1000" in problems and "more than 90 s" in problems
    assert "from_address 'not an address'" in problems
    assert "templates: 'bad name'" in problems


# --- pure logic ---------------------------------------------------------------------------------------
def _request(**changes: Any) -> dict[str, Any]:
    return {
        "event_type": "campaign.send",
        "schema_version": "1.0",
        "campaign_id": "spring-2025",
        "template_name": "spring-sale",
        "topic": "newsletter",
        "template_data": {"headline": "Spring", "discount": 10},
        **changes,
    }


def test_parses_a_request_and_round_trips_the_next_page() -> None:
    # GIVEN a campaign request WHEN it is parsed and its next page built
    page = parse_campaign_page(_request())
    following = page.next_page("token-1")
    # THEN the template data is compact JSON and the next page parses back to the same value
    assert page.page_number == 0 and page.page_token is None
    assert json.loads(page.template_data) == {"discount": 10, "headline": "Spring"}
    assert parse_campaign_page(following.to_message()) == following
    assert following.page_number == 1


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"event_type": "order.placed"}, "event_type"),
        ({"schema_version": "1"}, "schema_version"),
        ({"campaign_id": "has space"}, "campaign_id"),
        ({"topic": None}, "topic"),
        ({"template_data": []}, "template_data"),
        ({"page_number": 2}, "page_token"),
        ({"page_number": -1}, "page_number"),
    ],
)
def test_fails_if_the_request_is_invalid(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(SchemaError, match=match):
        parse_campaign_page(_request(**changes))


def test_fails_if_the_major_version_is_unsupported() -> None:
    with pytest.raises(UnsupportedSchemaVersionError, match="major version 2"):
        parse_campaign_page(_request(schema_version="2.0"))


def test_subscription_follows_preference_then_topic_default_and_unsubscribe_all() -> None:
    opted_in = {
        "EmailAddress": "a@example.com",
        "TopicPreferences": [{"TopicName": "n", "SubscriptionStatus": "OPT_IN"}],
    }
    opted_out = {
        "EmailAddress": "b@example.com",
        "TopicPreferences": [{"TopicName": "n", "SubscriptionStatus": "OPT_OUT"}],
    }
    no_preference = {"EmailAddress": "c@example.com", "TopicPreferences": []}
    everything_off = {**opted_in, "UnsubscribeAll": True}
    assert is_subscribed(opted_in, "n", "OPT_OUT")
    assert not is_subscribed(opted_out, "n", "OPT_IN")
    assert is_subscribed(no_preference, "n", "OPT_IN") and not is_subscribed(no_preference, "n", "OPT_OUT")
    assert not is_subscribed(everything_off, "n", "OPT_IN")


def test_select_recipients_drops_opt_outs_invalid_addresses_and_duplicates() -> None:
    contacts = [
        {"EmailAddress": "Jane@Example.com"},
        {"EmailAddress": "jane@example.com"},
        {"EmailAddress": "not-an-address"},
        {"EmailAddress": "joe@example.com", "UnsubscribeAll": True},
    ]
    recipients = select_recipients(contacts, "n", "OPT_IN")
    assert recipients.addresses == ("Jane@Example.com",)
    assert (recipients.opted_out, recipients.invalid) == (1, 1)


def test_requests_carry_list_management_only_where_ses_supports_it() -> None:
    page = parse_campaign_page(_request())
    single = list_managed_request(SETTINGS, page, "a@example.com")
    assert single["ListManagementOptions"] == {"ContactListName": "shop", "TopicName": "newsletter"}
    assert {"Name": "campaign_id", "Value": "spring-2025"} in single["EmailTags"]
    bulk = bulk_request(SETTINGS, page, [f"u{i}@example.com" for i in range(50)])
    assert len(bulk["BulkEmailEntries"]) == 50 and "ListManagementOptions" not in bulk
    with pytest.raises(ValueError, match="1-50 destinations"):
        bulk_request(SETTINGS, page, [f"u{i}@example.com" for i in range(51)])
    assert [len(c) for c in chunks([str(i) for i in range(120)], 50)] == [50, 50, 20]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("SUCCESS", Outcome.SENT),
        ("MESSAGE_REJECTED", Outcome.FAILED),
        ("ACCOUNT_THROTTLED", Outcome.RETRY),
        ("FAILED", Outcome.RETRY),
        ("TEMPLATE_NOT_FOUND", Outcome.ABORT),
        ("SOMETHING_NEW", Outcome.UNCERTAIN),
    ],
)
def test_statuses_map_to_outcomes(status: str, outcome: Outcome) -> None:
    assert outcome_of(status) is outcome


def test_token_bucket_paces_to_the_rate_after_the_initial_burst() -> None:
    # GIVEN 3.5 messages/s (burst 3)
    bucket = TokenBucket(3.5)
    assert bucket.capacity == 3
    # WHEN 3 go at t=0 THEN the next 3 must wait 3/3.5 s
    assert bucket.delay(3, 0.0) == 0.0
    bucket.take(3, 0.0)
    assert bucket.delay(3, 0.0) == pytest.approx(3 / 3.5)
    with pytest.raises(ValueError, match="at most 3"):
        bucket.delay(4, 10.0)
