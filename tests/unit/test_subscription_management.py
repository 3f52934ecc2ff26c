"""SubscriptionManagement: the contact list and its topics, validation, and the contact grants."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from notification_constructs import NotificationConfigError
from notification_constructs.subscription_management import ContactListTopic, SubscriptionManagement
from tests.unit.pipeline_stack import actions_on, statements_of

NEWSLETTER = ContactListTopic(name="newsletter", display_name="Newsletter", description="Monthly news")
OFFERS = ContactListTopic(name="offers", display_name="Offers", default_opt_in=True)


@pytest.fixture(scope="module")
def built() -> tuple[SubscriptionManagement, Template]:
    stack = Stack(App(), "Marketing", env={"account": "111111111111", "region": "eu-west-1"})
    subscriptions = SubscriptionManagement(
        stack, "Subscriptions", topics=[NEWSLETTER, OFFERS], contact_list_name="shop-marketing"
    )
    signup = iam.Role(stack, "SignupRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    subscriptions.grant_manage_contacts(signup)
    return subscriptions, Template.from_stack(stack)


def test_creates_one_contact_list_with_the_topics_and_their_defaults(
    built: tuple[SubscriptionManagement, Template],
) -> None:
    # GIVEN a list with an opt-in-only topic and a default-opt-in topic
    subscriptions, template = built
    # THEN the contact list carries both topics with the matching DefaultSubscriptionStatus
    template.resource_count_is("AWS::SES::ContactList", 1)
    template.has_resource_properties(
        "AWS::SES::ContactList",
        {
            "ContactListName": "shop-marketing",
            "Topics": [
                {
                    "TopicName": "newsletter",
                    "DisplayName": "Newsletter",
                    "Description": "Monthly news",
                    "DefaultSubscriptionStatus": "OPT_OUT",
                },
                {"TopicName": "offers", "DisplayName": "Offers", "DefaultSubscriptionStatus": "OPT_IN"},
            ],
        },
    )
    assert subscriptions.topic_names == ("newsletter", "offers")
    assert (
        "contact-list/" in Stack.of(subscriptions).resolve(subscriptions.contact_list_arn)["Fn::Join"][1][-2]
    )


def test_grant_manage_contacts_is_scoped_to_the_contact_list(
    built: tuple[SubscriptionManagement, Template],
) -> None:
    # GIVEN the signup role granted contact management
    _, template = built
    statements = statements_of(template, "SignupRole")
    # THEN it may create, update and read contacts of this list only
    assert actions_on(statements, "contact-list/") == {
        "ses:CreateContact",
        "ses:UpdateContact",
        "ses:GetContact",
    }
    assert all("*" not in str(statement["Resource"]).replace("contact-list/", "") for statement in statements)


def test_fails_if_topics_are_invalid() -> None:
    # GIVEN duplicate, badly named and empty display-name topics and a bad list name
    stack = Stack(App(), "Bad")
    topics = [
        ContactListTopic(name="news", display_name="News"),
        ContactListTopic(name="news", display_name="News again"),
        ContactListTopic(name="bad name!", display_name=" "),
    ]
    # WHEN the construct is created THEN one error lists every problem
    with pytest.raises(NotificationConfigError) as caught:
        SubscriptionManagement(stack, "Subscriptions", topics=topics, contact_list_name="no spaces")
    problems = "\n".join(caught.value.problems)
    assert "duplicate names ['news']" in problems
    assert "topic name 'bad name!'" in problems
    assert "display_name must be 1-128" in problems
    assert "contact_list_name 'no spaces'" in problems


def test_fails_if_there_is_no_topic_or_too_many() -> None:
    stack = Stack(App(), "Counts")
    with pytest.raises(NotificationConfigError, match=r"topics: 0 given, 1-20 allowed"):
        SubscriptionManagement(stack, "None", topics=[])
    many = [ContactListTopic(name=f"t{i}", display_name=f"T{i}") for i in range(21)]
    with pytest.raises(NotificationConfigError, match=r"topics: 21 given, 1-20 allowed"):
        SubscriptionManagement(stack, "Many", topics=many)
