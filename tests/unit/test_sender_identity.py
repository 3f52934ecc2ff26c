"""SenderIdentity: Easy DKIM 2048, MAIL FROM MX + SPF, DMARC; Route 53 records or outputs; scoped send grant."""

import pytest
from aws_cdk import App, SecretValue, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from aws_cdk.assertions import Match, Template

from notification_constructs import (
    ByoDkimKey,
    EmailConfigurationSet,
    NotificationConfigError,
    SenderIdentity,
)


@pytest.fixture(scope="module")
def zoned() -> Template:
    stack = Stack(App(), "Zoned")
    zone = route53.PublicHostedZone(stack, "Zone", zone_name="example.com")
    SenderIdentity(
        stack,
        "Sender",
        domain="shop.example.com",
        hosted_zone=zone,
        dmarc_policy="quarantine",
        dmarc_report_address="dmarc@example.com",
    )
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def unzoned() -> tuple[SenderIdentity, Template]:
    stack = Stack(App(), "Unzoned")
    identity = SenderIdentity(stack, "Sender", domain="example.org")
    config = EmailConfigurationSet(stack, "Config")
    identity.grant_send_email(
        iam.Role(stack, "Sender Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")),
        configuration_set=config,
        from_address="orders@example.org",
        templates=["order-confirmation"],
    )
    return identity, Template.from_stack(stack)


def test_identity_uses_easy_dkim_rsa_2048_and_custom_mail_from(zoned: Template) -> None:
    zoned.has_resource_properties(
        "AWS::SES::EmailIdentity",
        {
            "EmailIdentity": "shop.example.com",
            "DkimSigningAttributes": {"NextSigningKeyLength": "RSA_2048_BIT"},
            "MailFromAttributes": {
                "MailFromDomain": "mail.shop.example.com",
                "BehaviorOnMxFailure": "USE_DEFAULT_VALUE",
            },
        },
    )


@pytest.mark.parametrize("index", [1, 2, 3])
def test_dkim_cnames_use_the_token_names_verbatim(zoned: Template, index: int) -> None:
    # The Route 53 L2 would append the zone to these already fully qualified names.
    zoned.has_resource_properties(
        "AWS::Route53::RecordSet",
        {
            "Type": "CNAME",
            "Name": {"Fn::GetAtt": [Match.string_like_regexp("^Sender"), f"DkimDNSTokenName{index}"]},
            "ResourceRecords": [
                {"Fn::GetAtt": [Match.string_like_regexp("^Sender"), f"DkimDNSTokenValue{index}"]}
            ],
        },
    )


def test_mail_from_mx_and_spf_records(zoned: Template) -> None:
    zoned.has_resource_properties(
        "AWS::Route53::RecordSet",
        {
            "Name": "mail.shop.example.com.",
            "Type": "MX",
            "ResourceRecords": [
                {"Fn::Join": ["", ["10 feedback-smtp.", {"Ref": "AWS::Region"}, ".amazonses.com"]]}
            ],
        },
    )
    zoned.has_resource_properties(
        "AWS::Route53::RecordSet",
        {
            "Name": "mail.shop.example.com.",
            "Type": "TXT",
            "ResourceRecords": ['"v=spf1 include:amazonses.com ~all"'],
        },
    )


def test_dmarc_record(zoned: Template) -> None:
    zoned.has_resource_properties(
        "AWS::Route53::RecordSet",
        {
            "Name": "_dmarc.shop.example.com.",
            "Type": "TXT",
            "ResourceRecords": ['"v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"'],
        },
    )
    zoned.resource_count_is("AWS::Route53::RecordSet", 6)


def test_without_a_zone_records_become_outputs(unzoned: tuple[SenderIdentity, Template]) -> None:
    identity, template = unzoned
    template.resource_count_is("AWS::Route53::RecordSet", 0)
    outputs = template.find_outputs("*")
    assert len(outputs) == 6
    values = [o["Value"] for o in outputs.values()]
    assert '_dmarc.example.org TXT "v=DMARC1; p=none"' in values
    assert 'mail.example.org TXT "v=spf1 include:amazonses.com ~all"' in values
    assert [(r.type, r.purpose) for r in identity.dns_records] == [
        ("CNAME", "Dkim1"),
        ("CNAME", "Dkim2"),
        ("CNAME", "Dkim3"),
        ("MX", "MailFromMx"),
        ("TXT", "MailFromSpf"),
        ("TXT", "Dmarc"),
    ]


def test_grant_send_email_is_scoped_to_identity_configuration_set_template_and_from_address(
    unzoned: tuple[SenderIdentity, Template],
) -> None:
    _, template = unzoned
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "ses:SendEmail",
                        "Condition": {"StringEquals": {"ses:FromAddress": "orders@example.org"}},
                        "Resource": [
                            {"Fn::Join": ["", Match.array_with([":identity/example.org"])]},
                            {
                                "Fn::Join": [
                                    "",
                                    Match.array_with(
                                        [
                                            ":configuration-set/",
                                            {"Ref": Match.string_like_regexp("^Config")},
                                        ]
                                    ),
                                ]
                            },
                            {"Fn::Join": ["", Match.array_with([":template/order-confirmation"])]},
                        ],
                    }
                ]
            }
        },
    )


def test_grant_send_email_needs_no_send_raw_email_for_simple_or_template_content(
    unzoned: tuple[SenderIdentity, Template],
) -> None:
    # GIVEN a grant without raw=True   THEN no statement allows ses:SendRawEmail
    _, template = unzoned
    actions = [
        s["Action"]
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert actions == ["ses:SendEmail"]


def test_grant_send_email_raw_adds_send_raw_email_on_identity_and_configuration_set_only() -> None:
    # GIVEN a sender that sends raw MIME
    stack = Stack(App(), "Raw")
    identity = SenderIdentity(stack, "Sender", domain="example.org")
    config = EmailConfigurationSet(stack, "Config")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    # WHEN
    identity.grant_send_email(
        role, configuration_set=config, from_address="orders@example.org", templates=["t"], raw=True
    )
    # THEN ses:SendRawEmail is granted with the same condition, but not on the template
    statements = next(iter(Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()))[
        "Properties"
    ]["PolicyDocument"]["Statement"]
    raw = next(s for s in statements if s["Action"] == "ses:SendRawEmail")
    assert raw["Condition"] == {"StringEquals": {"ses:FromAddress": "orders@example.org"}}
    assert len(raw["Resource"]) == 2
    assert ":template/" not in str(raw["Resource"])
    send = next(s for s in statements if s["Action"] == "ses:SendEmail")
    assert ":template/t" in str(send["Resource"])


def test_byo_dkim_publishes_the_selector_txt_record_split_into_255_character_strings() -> None:
    stack = Stack(App(), "Byo")
    zone = route53.PublicHostedZone(stack, "Zone", zone_name="example.com")
    public_key = "A" * 400
    SenderIdentity(
        stack,
        "Sender",
        domain="example.com",
        hosted_zone=zone,
        byo_dkim=ByoDkimKey(
            selector="s1", private_key=SecretValue.unsafe_plain_text("k"), public_key=public_key
        ),
    )
    template = Template.from_stack(stack)
    value = f"v=DKIM1; k=rsa; p={public_key}"
    template.has_resource_properties(
        "AWS::Route53::RecordSet",
        {
            "Name": "s1._domainkey.example.com.",
            "Type": "TXT",
            "ResourceRecords": [f'"{value[:255]}" "{value[255:]}"'],
        },
    )
    template.has_resource_properties(
        "AWS::SES::EmailIdentity", {"DkimSigningAttributes": {"DomainSigningSelector": "s1"}}
    )


def test_email_address_identity_has_no_dns_records() -> None:
    stack = Stack(App(), "Address")
    identity = SenderIdentity(stack, "Sender", email_address="alerts@example.com")
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SES::EmailIdentity", {"EmailIdentity": "alerts@example.com"})
    assert identity.dns_records == []
    assert template.find_outputs("*") == {}


def test_fails_listing_every_problem() -> None:
    stack = Stack(App(), "Bad")
    zone = route53.PublicHostedZone(stack, "Zone", zone_name="example.net")
    with pytest.raises(NotificationConfigError) as error:
        SenderIdentity(
            stack,
            "Sender",
            domain="example.com",
            hosted_zone=zone,
            mail_from_subdomain="bad_label!",
            dmarc_policy="block",
            dmarc_report_address="not-an-address",
        )
    text = "\n".join(error.value.problems)
    assert "mail_from_subdomain 'bad_label!'" in text
    assert "dmarc_policy 'block': one of none, quarantine, reject" in text
    assert "dmarc_report_address 'not-an-address'" in text
    assert "hosted_zone 'example.net' cannot hold records for domain 'example.com'" in text
    assert all(p.startswith("[Bad/Sender]") for p in error.value.problems)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of domain= or email_address="),
        ({"domain": "example.com", "email_address": "a@example.com"}, "exactly one of"),
        ({"domain": "-bad-.com"}, "domain '-bad-.com' is not a valid domain name"),
        ({"email_address": "two@@example.com"}, "email_address 'two@@example.com' is not valid"),
    ],
)
def test_fails_if_identity_is_invalid(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(NotificationConfigError, match=message):
        SenderIdentity(Stack(App(), "S"), "Sender", **kwargs)  # type: ignore[arg-type]
