"""SenderIdentity: a verified SES sender with Easy DKIM (or BYODKIM), custom MAIL FROM + SPF, and DMARC."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import CfnOutput, Duration, Fn, SecretValue, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_ses as ses
from constructs import Construct

from ._defaults import DEFAULT_RECORD_TTL
from ._validation import Problems, is_token, is_valid_domain, is_valid_email

__all__ = ["ByoDkimKey", "DnsRecord", "SenderIdentity", "grant_send_email"]

DMARC_POLICIES = ("none", "quarantine", "reject")
_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$")
_TXT_CHUNK = 255  # a DNS TXT character-string holds at most 255 bytes


@dataclass(frozen=True)
class DnsRecord:
    """A DNS record the sender's domain needs. ``name`` is fully qualified (no trailing dot); ``value`` is
    what to publish (TXT values unquoted). Either may be a deploy-time token (Easy DKIM tokens)."""

    name: str
    type: str
    value: str
    purpose: str


@dataclass(frozen=True)
class ByoDkimKey:
    """Bring-your-own DKIM key. ``public_key`` (base64, no PEM header) lets the construct publish the
    ``<selector>._domainkey`` TXT record; without it you publish that record yourself."""

    selector: str
    private_key: SecretValue
    public_key: str | None = None


def _known_zone_name(zone: route53.IHostedZone) -> str | None:
    """The zone's name (lower case, no trailing dot) if known at synth time, else None: a token, or a zone
    imported with ``HostedZone.from_hosted_zone_id``, whose ``zone_name`` raises."""
    try:
        name = zone.zone_name
    except RuntimeError:  # jsii: "Cannot reference `zoneName` when using `HostedZone.fromHostedZoneId()`"
        return None
    return None if is_token(name) else name.rstrip(".").lower()


def _txt(value: str) -> str:
    """Route 53 TXT value: quoted, split into 255-character strings."""
    if is_token(value):
        return Fn.join("", ['"', value, '"'])
    chunks = [value[i : i + _TXT_CHUNK] for i in range(0, len(value), _TXT_CHUNK)] or [""]
    return " ".join(f'"{c}"' for c in chunks)


class SenderIdentity(ses.EmailIdentity):
    """A verified SES identity to send from.

    For a **domain** (``domain=``): Easy DKIM with 2048-bit RSA keys (or BYODKIM), a custom MAIL FROM
    subdomain with its MX and SPF records (so SPF aligns with your domain), and a DMARC record. With
    ``hosted_zone`` every record is created in Route 53; without it each record to publish is emitted as
    a stack output ``<name> <TYPE> <value>`` and listed in :attr:`dns_records`.

    For a single **e-mail address** (``email_address=``): an address identity (SES mails a verification
    link); no DNS records.

    It *is* an ``ses.EmailIdentity`` (an ``ses.IEmailIdentity``), so aws-cdk-lib APIs take it as is and
    its inherited ``grant(grantee, *actions)`` works; :meth:`grant_send_email` is narrower than
    aws-cdk-lib's (see there). An existing identity: ``ses.EmailIdentity.from_email_identity_name(...)``.

    Construct ids (a public contract): the identity is ``id`` itself (its ``AWS::SES::EmailIdentity`` is
    the child ``Resource``, as for any ``ses.EmailIdentity``); its records are the children
    ``Record<Purpose>`` (Route 53 record sets with a zone, stack outputs without).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        domain: str | None = None,
        email_address: str | None = None,
        hosted_zone: route53.IHostedZone | None = None,
        mail_from_subdomain: str | None = "mail",
        mail_from_behavior_on_mx_failure: ses.MailFromBehaviorOnMxFailure = (
            ses.MailFromBehaviorOnMxFailure.USE_DEFAULT_VALUE
        ),
        dkim_signing_key_length: ses.EasyDkimSigningKeyLength = ses.EasyDkimSigningKeyLength.RSA_2048_BIT,
        byo_dkim: ByoDkimKey | None = None,
        dmarc_policy: str | None = "none",
        dmarc_report_address: str | None = None,
        configuration_set: ses.IConfigurationSet | None = None,
        record_ttl: Duration = DEFAULT_RECORD_TTL,
    ) -> None:
        """
        :param domain: Domain to send from, e.g. ``example.com``. Exactly one of ``domain``/``email_address``.
        :param email_address: A single address to send from (address identity, verified by e-mail link).
        :param hosted_zone: Route 53 zone of ``domain`` (or a parent): created here, imported
            (``route53.HostedZone.from_hosted_zone_attributes``/``from_hosted_zone_id``) or looked up
            (``route53.HostedZone.from_lookup``). Default: - no records are created; they are emitted as
            stack outputs instead.
        :param mail_from_subdomain: Custom MAIL FROM subdomain (domain identities). Default: ``mail``
            (``mail.<domain>``); None keeps SES's amazonses.com MAIL FROM (SPF then doesn't align).
        :param mail_from_behavior_on_mx_failure: Default: USE_DEFAULT_VALUE (fall back to amazonses.com).
        :param dkim_signing_key_length: Easy DKIM key length. Default: RSA_2048_BIT.
        :param byo_dkim: Use your own DKIM key instead of Easy DKIM. Default: - Easy DKIM.
        :param dmarc_policy: ``none``, ``quarantine`` or ``reject``; None to publish no DMARC record (e.g.
            when the organisational domain already has one). Default: ``none`` (monitor first).
        :param dmarc_report_address: Where aggregate reports go (``rua=mailto:``). Default: - no reports.
        :param configuration_set: Default configuration set of the identity (an
            :class:`EmailConfigurationSet`, an ``ses.ConfigurationSet`` or an imported one). Default: - none.
        :param record_ttl: TTL of the Route 53 records. Default: 1 hour.

        Values known only at deploy time (tokens) pass unchecked. aws-cdk-lib checks none of these values
        at synth time.
        """
        # Checked before the identity exists, so errors name the path it would have.
        problems = Problems(scope, id)
        problems.check(
            (domain is None) != (email_address is None), "pass exactly one of domain= or email_address="
        )
        if domain is not None:
            problems.check(is_valid_domain(domain), f"domain {domain!r} is not a valid domain name")
        if email_address is not None:
            problems.check(is_valid_email(email_address), f"email_address {email_address!r} is not valid")
            problems.check(hosted_zone is None, "hosted_zone applies to domain identities only")
        if mail_from_subdomain is not None and not is_token(mail_from_subdomain):
            problems.check(
                bool(_LABEL_RE.match(mail_from_subdomain)),
                f"mail_from_subdomain {mail_from_subdomain!r}: use DNS labels such as 'mail' or 'bounce.mail'",
            )
        if dmarc_policy is not None and not is_token(dmarc_policy):
            problems.check(
                dmarc_policy in DMARC_POLICIES,
                f"dmarc_policy {dmarc_policy!r}: one of {', '.join(DMARC_POLICIES)} (or None for no record)",
            )
        if dmarc_report_address is not None:
            problems.check(
                is_valid_email(dmarc_report_address),
                f"dmarc_report_address {dmarc_report_address!r} is not a valid e-mail address",
            )
            problems.check(dmarc_policy is not None, "dmarc_report_address needs a dmarc_policy")
        if byo_dkim is not None:
            if not is_token(byo_dkim.selector):
                problems.check(
                    bool(_LABEL_RE.match(byo_dkim.selector)),
                    f"byo_dkim.selector {byo_dkim.selector!r}: must be a DNS label",
                )
            if byo_dkim.public_key is not None and not is_token(byo_dkim.public_key):
                problems.check(
                    "BEGIN" not in byo_dkim.public_key and " " not in byo_dkim.public_key.strip(),
                    "byo_dkim.public_key: pass the base64 body only, without PEM header/footer or spaces",
                )
        if hosted_zone is not None and domain is not None and not is_token(domain):
            zone = _known_zone_name(hosted_zone)
            if zone is not None:
                problems.check(
                    domain.lower() == zone or domain.lower().endswith("." + zone),
                    f"hosted_zone {zone!r} cannot hold records for domain {domain!r}",
                )
        problems.raise_if_any()

        identity_name: str = domain if domain is not None else email_address  # type: ignore[assignment]
        mail_from_domain = (
            f"{mail_from_subdomain}.{domain}" if domain is not None and mail_from_subdomain else None
        )
        if byo_dkim is not None:
            dkim = ses.DkimIdentity.byo_dkim(
                private_key=byo_dkim.private_key, selector=byo_dkim.selector, public_key=byo_dkim.public_key
            )
        else:
            dkim = ses.DkimIdentity.easy_dkim(dkim_signing_key_length)
        super().__init__(
            scope,
            id,
            # Identity.domain (not public_hosted_zone): this construct writes the records itself, with
            # names taken verbatim (Route 53 L2 records would append the zone to the DKIM token names).
            identity=ses.Identity.domain(identity_name)
            if domain is not None
            else ses.Identity.email(identity_name),
            dkim_identity=dkim if domain is not None else None,
            dkim_signing=True,
            mail_from_domain=mail_from_domain,
            mail_from_behavior_on_mx_failure=mail_from_behavior_on_mx_failure if mail_from_domain else None,
            configuration_set=configuration_set,
        )
        self.domain = domain
        self.email_address = email_address
        #: The domain or address as given (``email_identity_name`` is the same value, as a CloudFormation
        #: reference to the identity).
        self.identity_name = identity_name
        self.mail_from_domain = mail_from_domain
        #: ``arn:<partition>:ses:<region>:<account>:identity/<identity_name>``, built from the name as
        #: given, so policies show it (``email_identity_arn`` is the same ARN through a reference).
        self.identity_arn = Stack.of(self).format_arn(
            service="ses", resource="identity", resource_name=identity_name
        )

        self.dns_records: list[DnsRecord] = []
        if domain is not None:
            self.dns_records = self._records(domain, byo_dkim, dmarc_policy, dmarc_report_address)
        for record in self.dns_records:
            if hosted_zone is not None:
                route53.CfnRecordSet(
                    self,
                    f"Record{record.purpose}",
                    hosted_zone_id=hosted_zone.hosted_zone_id,
                    name=record.name if is_token(record.name) else f"{record.name}.",
                    type=record.type,
                    ttl=str(int(record_ttl.to_seconds())),
                    resource_records=[_txt(record.value) if record.type == "TXT" else record.value],
                )
            else:
                shown = (
                    f'"{record.value}"'
                    if record.type == "TXT" and not is_token(record.value)
                    else record.value
                )
                CfnOutput(
                    self,
                    f"Record{record.purpose}",
                    description=f"Publish this DNS record ({record.purpose}) for {domain}: name type value",
                    value=Fn.join(" ", [record.name, record.type, shown]),
                )

    @property
    def email_identity(self) -> SenderIdentity:
        """This identity (kept while callers move from ``.email_identity`` to the construct itself)."""
        return self

    def _records(
        self,
        domain: str,
        byo_dkim: ByoDkimKey | None,
        dmarc_policy: str | None,
        dmarc_report_address: str | None,
    ) -> list[DnsRecord]:
        records: list[DnsRecord] = []
        if byo_dkim is None:
            pairs = [
                (self.dkim_dns_token_name1, self.dkim_dns_token_value1),
                (self.dkim_dns_token_name2, self.dkim_dns_token_value2),
                (self.dkim_dns_token_name3, self.dkim_dns_token_value3),
            ]
            records += [DnsRecord(n, "CNAME", v, f"Dkim{i}") for i, (n, v) in enumerate(pairs, start=1)]
        elif byo_dkim.public_key is not None:
            records.append(
                DnsRecord(
                    f"{byo_dkim.selector}._domainkey.{domain}",
                    "TXT",
                    f"v=DKIM1; k=rsa; p={byo_dkim.public_key}",
                    "Dkim",
                )
            )
        if self.mail_from_domain is not None:
            region = Stack.of(self).region
            records.append(
                DnsRecord(
                    self.mail_from_domain, "MX", f"10 feedback-smtp.{region}.amazonses.com", "MailFromMx"
                )
            )
            records.append(
                DnsRecord(self.mail_from_domain, "TXT", "v=spf1 include:amazonses.com ~all", "MailFromSpf")
            )
        if dmarc_policy is not None:
            value = f"v=DMARC1; p={dmarc_policy}"
            if dmarc_report_address:
                value += f"; rua=mailto:{dmarc_report_address}"
            records.append(DnsRecord(f"_dmarc.{domain}", "TXT", value, "Dmarc"))
        return records

    def grant_send_email(
        self,
        grantee: iam.IGrantable,
        *,
        configuration_set: ses.IConfigurationSet | None = None,
        from_address: str | None = None,
        templates: Sequence[str] = (),
        raw: bool = False,
    ) -> iam.Grant:
        """Grant what SESv2 ``SendEmail`` needs to send from this identity, and nothing else.

        SES authorizes a v2 ``SendEmail`` call by the content it sends: ``Simple`` and ``Template`` content
        by the ``ses:SendEmail`` action (resources: the identity, the configuration set and the template),
        ``Raw`` MIME content by ``ses:SendRawEmail`` (identity and configuration set; a raw message has no
        template). See "Actions, resources, and condition keys for Amazon Simple Email Service v2":
        https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsimpleemailservicev2.html

        Overrides ``ses.EmailIdentity.grant_send_email``, which grants ``ses:SendEmail`` and
        ``ses:SendRawEmail`` on the identity alone: called with only ``grantee`` (as aws-cdk-lib code
        would), this grants ``ses:SendEmail`` on the identity, the interface's documented action.

        :param configuration_set: The configuration set the sender uses (SES authorises it too): any
            ``ses.IConfigurationSet``. Default: - none (then the call must not name one).
        :param from_address: Restrict the grant with an ``ses:FromAddress`` condition. Default: - any
            address of the identity.
        :param templates: SES template names sent with (each is a resource of the call). Default: - none.
        :param raw: Also grant ``ses:SendRawEmail``, for callers that send ``Content.Raw`` (MIME, e.g. with
            attachments) or use the v1 ``SendRawEmail`` API. Default: False - only ``ses:SendEmail``.
        """
        return grant_send_email(
            self,
            grantee,
            identity_arn=self.identity_arn,
            configuration_set=configuration_set,
            from_address=from_address,
            templates=templates,
            raw=raw,
        )


def grant_send_email(
    scope: Construct,
    grantee: iam.IGrantable,
    *,
    identity_arn: str,
    configuration_set: ses.IConfigurationSet | None = None,
    from_address: str | None = None,
    templates: Sequence[str] = (),
    raw: bool = False,
) -> iam.Grant:
    """What :meth:`SenderIdentity.grant_send_email` grants, for any identity given by its ARN (e.g. the
    ``email_identity_arn`` of ``ses.EmailIdentity.from_email_identity_name(...)``).

    ``ses:SendEmail`` (with ``raw`` also ``ses:SendRawEmail``) on the identity, the configuration set and
    the templates (ARNs in the account and region of ``scope``'s stack), only with ``ses:FromAddress`` =
    ``from_address`` when it is given. See :meth:`SenderIdentity.grant_send_email` for the parameters.

    :param scope: The construct an invalid ``from_address`` is reported for (its stack formats the ARNs).
    :raises NotificationConfigError: when ``from_address`` is not a valid e-mail address.
    """
    stack = Stack.of(scope)
    resources = [identity_arn]
    if configuration_set is not None:
        name = configuration_set.configuration_set_name
        resources.append(stack.format_arn(service="ses", resource="configuration-set", resource_name=name))
    if from_address is not None and not is_valid_email(from_address):
        problems = Problems(scope)
        problems.add(f"grant_send_email: from_address {from_address!r} is not a valid e-mail address")
        problems.raise_if_any()
    conditions = {"StringEquals": {"ses:FromAddress": from_address}} if from_address else None
    template_arns = [stack.format_arn(service="ses", resource="template", resource_name=t) for t in templates]
    grant = iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["ses:SendEmail"],
        resource_arns=resources + template_arns,
        conditions=conditions,
    )
    if raw:
        grant = grant.combine(
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["ses:SendRawEmail"],
                resource_arns=resources,
                conditions=conditions,
            )
        )
    return grant
