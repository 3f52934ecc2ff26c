"""SubscriptionManagement: the SES contact list of marketing mail, its topics and who may change contacts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ses as ses
from constructs import Construct

from lambda_handlers import contracts
from notification_constructs._validation import Problems, is_token

__all__ = ["ContactListTopic", "SubscriptionManagement"]

#: What an application's signup / preference flow needs on the contact list.
MANAGE_CONTACT_ACTIONS = ("ses:CreateContact", "ses:UpdateContact", "ses:GetContact")
#: What a sender needs to read the list's topics and subscribers.
READ_CONTACT_ACTIONS = ("ses:GetContactList", "ses:ListContacts")


@dataclass(frozen=True)
class ContactListTopic:
    """One topic of the contact list (what a recipient can subscribe to and unsubscribe from).

    :param name: 1-64 characters ``A-Z a-z 0-9 _ -``; the ``topic`` of a campaign request.
    :param display_name: Shown on SES's subscription-preferences page.
    :param description: Default: - none.
    :param default_opt_in: Whether contacts without a preference for this topic receive it.
        Default: False (opt-in only: a contact receives the topic after it subscribed to it).
    """

    name: str
    display_name: str
    description: str | None = None
    default_opt_in: bool = False

    @property
    def default_subscription_status(self) -> str:
        return contracts.OPT_IN if self.default_opt_in else contracts.OPT_OUT


class SubscriptionManagement(Construct):
    """An SES contact list (``AWS::SES::ContactList``) with topics, for marketing mail.

    Marketing sends name the list and a topic (``ListManagementOptions``): SES then adds the one-click
    ``List-Unsubscribe`` / ``List-Unsubscribe-Post`` headers (RFC 8058), fills the
    ``{{amazonSESUnsubscribeUrl}}`` placeholder and records each opt-out on the contact's preference for
    that topic. Transactional mail (order confirmations) never names the list, so a marketing opt-out never
    blocks it; the suppression table (bounces, complaints) blocks both.

    SES allows one contact list per account and Region: create this construct once per environment.

    Child ids (a public contract): ``ContactList``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topics: Sequence[ContactListTopic],
        contact_list_name: str | None = None,
        description: str | None = None,
    ) -> None:
        """
        :param topics: The list's topics (1-20, unique names).
        :param contact_list_name: 1-64 characters ``A-Z a-z 0-9 _ -``. Default: - a generated name.
        :param description: Default: - none.
        """
        super().__init__(scope, id)
        problems = Problems(self)
        problems.check(
            0 < len(topics) <= contracts.MAX_CONTACT_LIST_TOPICS,
            f"topics: {len(topics)} given, 1-{contracts.MAX_CONTACT_LIST_TOPICS} allowed (SES quota)",
        )
        names = [topic.name for topic in topics]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        problems.check(not duplicates, f"topics: duplicate names {duplicates}")
        for topic in topics:
            if not is_token(topic.name):
                problems.check(
                    bool(contracts.SES_NAME_PATTERN.fullmatch(topic.name)),
                    f"topic name {topic.name!r}: 1-64 characters A-Z a-z 0-9 _ -",
                )
            if not is_token(topic.display_name):
                problems.check(
                    0 < len(topic.display_name.strip()) <= contracts.MAX_TOPIC_DISPLAY_NAME_LENGTH,
                    f"topic {topic.name!r}: display_name must be 1-{contracts.MAX_TOPIC_DISPLAY_NAME_LENGTH} "
                    "characters",
                )
        if contact_list_name is not None and not is_token(contact_list_name):
            problems.check(
                bool(contracts.CONTACT_LIST_NAME_PATTERN.fullmatch(contact_list_name)),
                f"contact_list_name {contact_list_name!r}: 1-64 characters A-Z a-z 0-9 _ -",
            )
        problems.raise_if_any()

        self.topics: tuple[ContactListTopic, ...] = tuple(topics)
        self.contact_list = ses.CfnContactList(
            self,
            "ContactList",
            contact_list_name=contact_list_name,
            description=description,
            topics=[
                ses.CfnContactList.TopicProperty(
                    topic_name=topic.name,
                    display_name=topic.display_name,
                    description=topic.description,
                    default_subscription_status=topic.default_subscription_status,
                )
                for topic in topics
            ],
        )
        self.contact_list_name: str = self.contact_list.ref
        self.contact_list_arn: str = Stack.of(self).format_arn(
            service="ses", resource="contact-list", resource_name=self.contact_list_name
        )

    @property
    def topic_names(self) -> tuple[str, ...]:
        return tuple(topic.name for topic in self.topics)

    def grant_manage_contacts(self, grantee: iam.IGrantable) -> iam.Grant:
        """For an application's signup and preference flow: ``ses:CreateContact``, ``ses:UpdateContact``
        and ``ses:GetContact`` on this contact list only."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(MANAGE_CONTACT_ACTIONS), resource_arns=[self.contact_list_arn]
        )

    def grant_read_contacts(self, grantee: iam.IGrantable) -> iam.Grant:
        """For senders: ``ses:GetContactList`` (the topics) and ``ses:ListContacts`` on this list only."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(READ_CONTACT_ACTIONS), resource_arns=[self.contact_list_arn]
        )
