"""EmailConfigurationSet and SenderIdentity as first-class CDK citizens: they are an ses.ConfigurationSet and
an ses.EmailIdentity, so aws-cdk-lib APIs take them; plain and imported aws-cdk-lib configuration sets,
topics and hosted zones work where ours are; deploy-time values (tokens) pass every check."""

import json
from typing import Any

import jsii
import pytest
from aws_cdk import App, CfnElement, CfnParameter, Environment, Fn, IStableStringProducer, Lazy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template
from constructs import Construct

from notification_constructs import (
    EmailConfigurationSet,
    NotificationConfigError,
    NotificationTopic,
    SenderIdentity,
)

IMPORTED_TOPIC_ARN = "arn:aws:sns:eu-west-1:111111111111:ses-events"


def _ref(construct: Construct) -> dict[str, str]:
    """``{"Ref": <logical id>}`` of a construct's CloudFormation resource."""
    child = construct.node.default_child
    assert isinstance(child, CfnElement)
    return {"Ref": Stack.of(construct).get_logical_id(child)}


def _statements(template: Template) -> list[dict[str, Any]]:
    return [
        s
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


@jsii.implements(IStableStringProducer)
class _LazyName:
    """A value produced at synth time, after construction (what ``Lazy.string`` wraps)."""

    def produce(self) -> str:
        return "lazy-orders"


def _role(stack: Stack, id: str) -> iam.Role:
    return iam.Role(stack, id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))


# --- ours handed to aws-cdk-lib APIs -------------------------------------------------------------------


@pytest.fixture(scope="module")
def ours_in_aws_cdk_lib() -> tuple[EmailConfigurationSet, SenderIdentity, Template]:
    # GIVEN our configuration set and identity, each handed to aws-cdk-lib's own APIs
    stack = Stack(App(), "OursInCdk")
    config = EmailConfigurationSet(stack, "Config")
    sender = SenderIdentity(stack, "Sender", domain="example.com")
    ses.EmailIdentity(
        stack, "PlainIdentity", identity=ses.Identity.domain("other.example"), configuration_set=config
    )
    ses.ConfigurationSetEventDestination(
        stack,
        "PlainDestination",
        configuration_set=config,
        destination=ses.EventDestination.sns_topic(sns.Topic(stack, "PlainTopic")),
        events=[ses.EmailSendingEvent.OPEN],
    )
    config.add_event_destination(
        "InheritedDestination",
        destination=ses.EventDestination.sns_topic(sns.Topic(stack, "OtherTopic")),
        events=[ses.EmailSendingEvent.CLICK],
    )
    sender.grant(_role(stack, "Bouncer"), "ses:SendBounce")  # inherited from ses.EmailIdentity
    sender.grant_send_email(_role(stack, "Sender Role"))  # what aws-cdk-lib code calls: grantee only
    return config, sender, Template.from_stack(stack)


def test_an_aws_cdk_lib_identity_takes_our_configuration_set(
    ours_in_aws_cdk_lib: tuple[EmailConfigurationSet, SenderIdentity, Template],
) -> None:
    config, _, template = ours_in_aws_cdk_lib
    template.has_resource_properties(
        "AWS::SES::EmailIdentity",
        {
            "EmailIdentity": "other.example",
            "ConfigurationSetAttributes": {"ConfigurationSetName": _ref(config)},
        },
    )


@pytest.mark.parametrize("event", ["open", "click"])
def test_aws_cdk_lib_event_destinations_attach_to_our_configuration_set(
    ours_in_aws_cdk_lib: tuple[EmailConfigurationSet, SenderIdentity, Template], event: str
) -> None:
    config, _, template = ours_in_aws_cdk_lib
    template.has_resource_properties(
        "AWS::SES::ConfigurationSetEventDestination",
        {
            "ConfigurationSetName": _ref(config),
            "EventDestination": Match.object_like({"MatchingEventTypes": [event]}),
        },
    )


def test_the_inherited_grant_names_our_identity(
    ours_in_aws_cdk_lib: tuple[EmailConfigurationSet, SenderIdentity, Template],
) -> None:
    _, sender, template = ours_in_aws_cdk_lib
    stack = Stack.of(sender)
    (statement,) = [s for s in _statements(template) if s["Action"] == "ses:SendBounce"]
    assert statement["Resource"] == stack.resolve(sender.email_identity_arn)
    assert ":identity/" in json.dumps(statement["Resource"])


def test_grant_send_email_with_only_a_grantee_grants_send_email_on_the_identity(
    ours_in_aws_cdk_lib: tuple[EmailConfigurationSet, SenderIdentity, Template],
) -> None:
    # THEN ses:SendEmail only (the ses.IEmailIdentity contract), no ses:SendRawEmail, no condition
    _, sender, template = ours_in_aws_cdk_lib
    stack = Stack.of(sender)
    send = [s for s in _statements(template) if s["Action"] != "ses:SendBounce"]
    assert send == [
        {"Action": "ses:SendEmail", "Effect": "Allow", "Resource": stack.resolve(sender.identity_arn)}
    ]


def test_ours_are_the_aws_cdk_lib_types_with_their_old_attribute_names() -> None:
    # GIVEN our constructs   THEN they are the L2s, and the attributes that named the wrapped L2 are them
    stack = Stack(App(), "Types")
    config = EmailConfigurationSet(stack, "Config")
    sender = SenderIdentity(stack, "Sender", domain="example.com", configuration_set=config)
    assert isinstance(config, ses.ConfigurationSet) and config.configuration_set is config
    assert isinstance(sender, ses.EmailIdentity) and sender.email_identity is sender
    assert isinstance(sender.node.default_child, ses.CfnEmailIdentity)
    assert sender.node.default_child.node.path == "Types/Sender/Resource"
    assert stack.resolve(sender.email_identity_name) == _ref(sender)
    assert sender.identity_name == "example.com"
    assert stack.resolve(config.configuration_set_arn) == stack.resolve(
        stack.format_arn(
            service="ses", resource="configuration-set", resource_name=config.configuration_set_name
        )
    )


# --- plain and imported aws-cdk-lib resources where ours are ---------------------------------------------


@pytest.mark.parametrize("kind", ["plain", "imported"])
def test_a_sender_takes_a_plain_or_imported_configuration_set(kind: str) -> None:
    # GIVEN an aws-cdk-lib configuration set, created or imported by name
    stack = Stack(App(), "AnyConfig")
    config: ses.IConfigurationSet = (
        ses.ConfigurationSet(stack, "Config", configuration_set_name="orders")
        if kind == "plain"
        else ses.ConfigurationSet.from_configuration_set_name(stack, "Config", "orders")
    )
    # WHEN a sender uses it as default and grants sending with it
    sender = SenderIdentity(stack, "Sender", domain="example.com", configuration_set=config)
    sender.grant_send_email(_role(stack, "Role"), configuration_set=config, from_address="orders@example.com")
    # THEN the identity names it and the grant covers it
    template = Template.from_stack(stack)
    expected_name = {"Ref": Match.string_like_regexp("^Config")} if kind == "plain" else "orders"
    template.has_resource_properties(
        "AWS::SES::EmailIdentity", {"ConfigurationSetAttributes": {"ConfigurationSetName": expected_name}}
    )
    (statement,) = _statements(template)
    assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": "orders@example.com"}}
    assert ":configuration-set/" in json.dumps(statement["Resource"])


def test_plain_and_imported_topics_are_event_destinations() -> None:
    # GIVEN a plain sns.Topic and an imported one
    stack = Stack(App(), "AnyTopic")
    plain = sns.Topic(stack, "Plain")
    imported = sns.Topic.from_topic_arn(stack, "Imported", IMPORTED_TOPIC_ARN)
    # WHEN one configuration set publishes to both
    config = EmailConfigurationSet(stack, "Config", topic=plain)
    config.add_topic_destination("ImportedDestination", imported, event_types=[ses.EmailSendingEvent.BOUNCE])
    # THEN each is an SNS destination of the set
    template = Template.from_stack(stack)
    for topic_arn in (_ref(plain), IMPORTED_TOPIC_ARN):
        template.has_resource_properties(
            "AWS::SES::ConfigurationSetEventDestination",
            {"EventDestination": Match.object_like({"SnsDestination": {"TopicARN": topic_arn}})},
        )


def test_a_notification_topic_is_an_sns_topic_destination_too() -> None:
    # GIVEN our NotificationTopic passed as the sns.ITopic it is
    stack = Stack(App(), "OurTopic")
    topic: sns.ITopic = NotificationTopic(stack, "Events")
    EmailConfigurationSet(stack, "Config", topic=topic)
    Template.from_stack(stack).has_resource_properties(
        "AWS::SES::ConfigurationSetEventDestination",
        {
            "EventDestination": Match.object_like(
                {"SnsDestination": {"TopicARN": {"Ref": Match.string_like_regexp("^Events")}}}
            )
        },
    )


def test_fails_if_a_plain_topic_is_fifo() -> None:
    stack = Stack(App(), "FifoTopic")
    fifo = sns.Topic(stack, "Fifo", fifo=True)
    with pytest.raises(
        NotificationConfigError, match=r"\[FifoTopic/Config\] topic: SES cannot publish to a FIFO"
    ):
        EmailConfigurationSet(stack, "Config", topic=fifo)


@pytest.mark.parametrize("kind", ["attributes", "lookup"])
def test_a_sender_writes_its_records_into_an_imported_or_looked_up_zone(kind: str) -> None:
    # GIVEN a hosted zone that is not created in this app
    stack = Stack(App(), "AnyZone", env=Environment(account="111111111111", region="eu-west-1"))
    zone = (
        route53.HostedZone.from_hosted_zone_attributes(
            stack, "Zone", hosted_zone_id="Z0123", zone_name="example.com"
        )
        if kind == "attributes"
        else route53.HostedZone.from_lookup(stack, "Zone", domain_name="example.com")
    )
    # WHEN a sender for a subdomain uses it
    SenderIdentity(stack, "Sender", domain="shop.example.com", hosted_zone=zone)
    # THEN every record goes into that zone
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Route53::RecordSet", 6)
    template.all_resources_properties(
        "AWS::Route53::RecordSet", {"HostedZoneId": stack.resolve(zone.hosted_zone_id)}
    )
    template.has_resource_properties(
        "AWS::Route53::RecordSet", {"Name": "_dmarc.shop.example.com.", "Type": "TXT"}
    )


@pytest.mark.parametrize("kind", ["attributes", "lookup"])
def test_fails_if_an_imported_or_looked_up_zone_cannot_hold_the_domain(kind: str) -> None:
    stack = Stack(App(), "WrongZone", env=Environment(account="111111111111", region="eu-west-1"))
    zone = (
        route53.HostedZone.from_hosted_zone_attributes(
            stack, "Zone", hosted_zone_id="Z0123", zone_name="example.net."
        )
        if kind == "attributes"
        else route53.HostedZone.from_lookup(stack, "Zone", domain_name="example.net")
    )
    with pytest.raises(
        NotificationConfigError, match=r"hosted_zone 'example\.net' cannot hold records for domain"
    ):
        SenderIdentity(stack, "Sender", domain="example.com", hosted_zone=zone)


def test_a_zone_imported_by_id_alone_is_used_without_the_zone_name_check() -> None:
    # GIVEN a zone imported by id (its zone_name is unknown: reading it raises in aws-cdk-lib)
    stack = Stack(App(), "ZoneById")
    zone = route53.HostedZone.from_hosted_zone_id(stack, "Zone", "Z0123")
    # WHEN a sender uses it   THEN the records go into it
    SenderIdentity(stack, "Sender", domain="example.com", hosted_zone=zone)
    Template.from_stack(stack).all_resources_properties("AWS::Route53::RecordSet", {"HostedZoneId": "Z0123"})


# --- tokens ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokens() -> tuple[Stack, Template]:
    # GIVEN every checked value known only at deploy time: imports, parameters and lazy values
    stack = Stack(App(), "Tokens")
    zone = route53.PublicHostedZone(stack, "Zone", zone_name="example.com")
    config = EmailConfigurationSet(stack, "Config", configuration_set_name=Lazy.string(_LazyName()))
    sender = SenderIdentity(
        stack,
        "Sender",
        domain=Fn.import_value("SenderDomain"),
        hosted_zone=zone,
        mail_from_subdomain=CfnParameter(stack, "MailFromSubdomain").value_as_string,
        dmarc_policy="reject",
        dmarc_report_address=Fn.import_value("DmarcAddress"),
        configuration_set=config,
    )
    SenderIdentity(stack, "Address", email_address=CfnParameter(stack, "SenderAddress").value_as_string)
    sender.grant_send_email(
        _role(stack, "Role"),
        configuration_set=config,
        from_address=CfnParameter(stack, "FromAddress").value_as_string,
    )
    return stack, Template.from_stack(stack)


def test_a_lazy_configuration_set_name_is_rendered(tokens: tuple[Stack, Template]) -> None:
    _, template = tokens
    template.has_resource_properties("AWS::SES::ConfigurationSet", {"Name": "lazy-orders"})


def test_an_imported_domain_and_a_parameter_mail_from_subdomain_build_the_identity(
    tokens: tuple[Stack, Template],
) -> None:
    _, template = tokens
    domain = {"Fn::ImportValue": "SenderDomain"}
    mail_from = {"Fn::Join": ["", [{"Ref": "MailFromSubdomain"}, ".", domain]]}
    template.has_resource_properties(
        "AWS::SES::EmailIdentity",
        {"EmailIdentity": domain, "MailFromAttributes": Match.object_like({"MailFromDomain": mail_from})},
    )
    template.has_resource_properties("AWS::Route53::RecordSet", {"Name": mail_from, "Type": "MX"})


def test_an_imported_dmarc_address_is_written_into_the_record(tokens: tuple[Stack, Template]) -> None:
    _, template = tokens
    template.has_resource_properties(
        "AWS::Route53::RecordSet",
        {
            "Name": {"Fn::Join": ["", ["_dmarc.", {"Fn::ImportValue": "SenderDomain"}]]},
            "Type": "TXT",
            "ResourceRecords": [
                {
                    "Fn::Join": [
                        "",
                        ['"v=DMARC1; p=reject; rua=mailto:', {"Fn::ImportValue": "DmarcAddress"}, '"'],
                    ]
                }
            ],
        },
    )


def test_a_parameter_address_identity_and_from_address_pass(tokens: tuple[Stack, Template]) -> None:
    _, template = tokens
    template.has_resource_properties("AWS::SES::EmailIdentity", {"EmailIdentity": {"Ref": "SenderAddress"}})
    (statement,) = _statements(template)
    assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "FromAddress"}}}


def test_fails_if_a_token_address_identity_is_given_a_zone() -> None:
    # GIVEN an address identity known only at deploy time   WHEN a hosted zone is given   THEN it is refused
    stack = Stack(App(), "AddressZone")
    zone = route53.PublicHostedZone(stack, "Zone", zone_name="example.com")
    with pytest.raises(NotificationConfigError, match="hosted_zone applies to domain identities only"):
        SenderIdentity(
            stack, "Sender", email_address=CfnParameter(stack, "Address").value_as_string, hosted_zone=zone
        )
