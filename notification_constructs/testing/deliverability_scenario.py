"""The deliverability scenario of the example (``examples/deliverability.py`` beside the order stack): the
event archive, the SMTP credentials, a campaign with opt-outs and suppressions, inbound replies.

It needs AWS clients and the outputs of both stacks merged (the order stack's ``ConfigurationSetName`` and
``SuppressionTableName``, the deliverability stack's ``ArchiveBucketName``, ``SmtpUserName``,
``CampaignQueueUrl``, ...). The replies step needs a target that can receive mail (the sandbox's
``receive_email``: SES receiving with the active receipt rule set's S3 actions); elsewhere it is left out
and the report says so. E-mail counts come from the sandbox outbox when the target has one, else from the
campaign table.

Steps:

1. a registration e-mail (``no-reply@``, tag ``flow=registration``) to the mailbox simulator through the
   example configuration set;
2. the SMTP credentials secret and the SMTP user's access keys are read;
3. four contacts on the contact list - one without a preference for the opt-out ``newsletter`` topic, one
   opted in, one opted out, one without a preference whose address is on the suppression table - and a
   ``campaign.send`` request for the topic, sent twice (a redelivered request);
4. the reply rule set made active if the stack did not (only with ``activate_rule_set=True``: an
   account-wide switch, undone at the end), then an out-of-office reply and a human reply to the reply
   address.

Expected: the e-mail's ``Send`` and ``Delivery`` events as JSON lines in the archive bucket under
``events/event_type=<type>/dt=<today>/`` with the flow tag; the secret's ``username`` is the user's one
access key with a 44-character version-4 SMTP password for port 587; the campaign mails the contact
without preference and the opted-in one, once each, and neither the opted-out nor the suppressed one, and
records exactly those two as sent; the out-of-office reply is not forwarded, the human one is forwarded
once to the forward address; nothing of the run in the campaign or reply DLQs.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ._inspect import peek_messages, scan_table
from .scenario import Check, ScenarioTarget, _mask, render_checks

__all__ = ["REQUIRED_DELIVERABILITY_OUTPUTS", "DeliverabilityReport", "DeliverabilityScenario"]

REQUIRED_DELIVERABILITY_OUTPUTS = (
    "ConfigurationSetName",
    "SuppressionTableName",
    "RegistrationFlow",
    "RegistrationSenderAddress",
    "ArchiveBucketName",
    "SmtpUserName",
    "SmtpCredentialsSecretArn",
    "ContactListName",
    "CampaignTopic",
    "CampaignTemplateName",
    "CampaignQueueUrl",
    "CampaignTableName",
    "CampaignDeadLetterQueueUrl",
    "ReplyAddress",
    "ReplyForwardTo",
    "ReceiptRuleSetName",
    "ReplyDeadLetterQueueUrl",
)
EVENTS_PREFIX = "events/"  # notification_constructs.email_event_archive.EVENTS_PREFIX (no aws_cdk here)
SMTP_PORT = 587
SMTP_PASSWORD_LENGTH = 44  # base64 of the version byte and the 32-byte signature
SMTP_PASSWORD_VERSION = 0x04
_SIMULATOR = "success@simulator.amazonses.com"


@dataclass
class DeliverabilityReport:
    run_id: str
    archived: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    smtp_user: str = ""
    smtp_keys: list[str] = field(default_factory=list)
    smtp_secret: dict[str, Any] = field(default_factory=dict)
    contacts: dict[str, str] = field(default_factory=dict)  # role -> address
    campaign_mails: Counter[str] = field(default_factory=Counter)
    campaign_records: dict[str, str] = field(default_factory=dict)  # address -> status
    rule_set_activated_here: bool = False
    replies_run: bool = False
    forwards: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: dict[str, list[str]] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def render(self) -> str:
        """A readable summary (what ``make demo`` prints)."""
        lines = [
            f"Deliverability scenario {self.run_id} - {'PASSED' if self.ok else 'FAILED'} in {self.seconds:.1f} s",
            "",
            f"Archived events of the registration e-mail ({len(self.archived)}):",
        ]
        lines += [f"  {record.get('eventType')}: {key}" for key, record in self.archived]
        password = str(self.smtp_secret.get("password", ""))
        lines.append(
            f"SMTP user {self.smtp_user}: access keys {len(self.smtp_keys)}, secret username "
            f"{'matches' if self.smtp_secret.get('username') in self.smtp_keys else 'does not match'}, "
            f"password {len(password)} characters, {self.smtp_secret.get('host')}:{self.smtp_secret.get('port')}"
        )
        lines.append("Campaign contacts:")
        for role, address in self.contacts.items():
            status = self.campaign_records.get(address, "not recorded")
            lines.append(f"  {role:<22} {_mask(address)}: {self.campaign_mails[address]} mail(s), {status}")
        if self.replies_run:
            activation = (
                " (activated by the scenario, restored after)" if self.rule_set_activated_here else ""
            )
            lines.append(f"Replies forwarded ({len(self.forwards)}){activation}:")
            lines += [
                f"  to {', '.join(_mask(a) for a in f.get('to', []))}: {_subject(f)}" for f in self.forwards
            ]
        else:
            lines.append("Replies: not run (the target cannot receive mail)")
        for name, reasons in self.dead_letters.items():
            lines.append(f"DLQ {name} ({len(reasons)}):")
            lines += [f"  {reason}" for reason in reasons]
        lines += render_checks(self.checks)
        return "\n".join(lines)


def _subject(mail: Mapping[str, Any]) -> str:
    if mail.get("subject"):
        return str(mail["subject"])
    for line in str(mail.get("raw") or "").splitlines():
        if line.lower().startswith("subject:"):
            return line.split(":", 1)[1].strip()
    return ""


class DeliverabilityScenario:
    """Run with :meth:`run`; ``outputs`` are both stacks' outputs, merged."""

    def __init__(
        self,
        target: ScenarioTarget,
        outputs: Mapping[str, str],
        *,
        run_id: str | None = None,
        activate_rule_set: bool = False,
        customer_domain: str = "example.net",
        timeout: float = 120.0,
        settle: float = 2.0,
        progress: Callable[[str], None] = lambda _: None,
    ) -> None:
        missing = [k for k in REQUIRED_DELIVERABILITY_OUTPUTS if not outputs.get(k)]
        if missing:
            raise ValueError(
                f"stack outputs missing: {', '.join(missing)} (deploy examples/deliverability.py beside "
                "the order stack and merge both stacks' outputs)"
            )
        self.target = target
        self.outputs = dict(outputs)
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.activate_rule_set = activate_rule_set
        self.customer_domain = customer_domain
        self.timeout = timeout
        self.settle = settle
        self.progress = progress
        self.campaign_id = f"scn-{self.run_id}"
        self.clients = {name: target.client(name) for name in ("sesv2", "ses", "s3", "sqs", "dynamodb")}
        self._outbox_after = 0

    # -- the run -----------------------------------------------------------------------------------------
    def run(self) -> DeliverabilityReport:
        started = time.monotonic()
        report = DeliverabilityReport(run_id=self.run_id)
        self._outbox_after = max((e.get("seq", 0) for e in self._outbox()), default=0)
        try:
            self._archive(report)
            self._smtp(report)
            self._campaign(report)
            if callable(getattr(self.target, "receive_email", None)):
                self._replies(report)
            report.dead_letters = {
                name: self._dead_letters(self.outputs[key])
                for name, key in (
                    ("campaigns", "CampaignDeadLetterQueueUrl"),
                    ("replies", "ReplyDeadLetterQueueUrl"),
                )
            }
            report.checks = self._checks(report)
        finally:
            report.seconds = time.monotonic() - started
        return report

    def _archive(self, report: DeliverabilityReport) -> None:
        flow = self.outputs["RegistrationFlow"]
        self.progress(
            f"1/4 a registration e-mail (flow={flow}) through {self.outputs['ConfigurationSetName']}"
        )
        message_id = self.clients["sesv2"].send_email(
            FromEmailAddress=self.outputs["RegistrationSenderAddress"],
            Destination={"ToAddresses": [_SIMULATOR]},
            Content={
                "Simple": {
                    "Subject": {"Data": f"Confirm your registration ({self.run_id})"},
                    "Body": {"Text": {"Data": "Follow the link to confirm your address."}},
                }
            },
            ConfigurationSetName=self.outputs["ConfigurationSetName"],
            EmailTags=[{"Name": "flow", "Value": flow}],
        )["MessageId"]
        self._wait_for(
            "the Send and Delivery events in the archive",
            lambda: {r.get("eventType") for _, r in self._archived(message_id)} >= {"Send", "Delivery"},
        )
        report.archived = self._archived(message_id)

    def _smtp(self, report: DeliverabilityReport) -> None:
        self.progress("2/4 the SMTP credentials secret and the SMTP user's access keys")
        report.smtp_user = self.outputs["SmtpUserName"]
        secret = self.target.client("secretsmanager").get_secret_value(
            SecretId=self.outputs["SmtpCredentialsSecretArn"]
        )["SecretString"]
        report.smtp_secret = dict(json.loads(secret))
        keys = self.target.client("iam").list_access_keys(UserName=report.smtp_user)["AccessKeyMetadata"]
        report.smtp_keys = [k["AccessKeyId"] for k in keys if k.get("Status", "Active") == "Active"]

    def _campaign(self, report: DeliverabilityReport) -> None:
        topic = self.outputs["CampaignTopic"]
        rid, domain = self.run_id, self.customer_domain
        contacts = {
            "no preference": f"dlv-{rid}-default@{domain}",
            "opted in": f"dlv-{rid}-in@{domain}",
            "opted out": f"dlv-{rid}-out@{domain}",
            "suppressed": f"dlv-{rid}-suppressed@{domain}",
        }
        report.contacts = contacts
        self.progress(
            f"3/4 four contacts on {self.outputs['ContactListName']}, a campaign to '{topic}' (twice)"
        )
        preferences = {"opted in": "OPT_IN", "opted out": "OPT_OUT"}
        for role, address in contacts.items():
            status = preferences.get(role)
            self.clients["sesv2"].create_contact(
                ContactListName=self.outputs["ContactListName"],
                EmailAddress=address,
                TopicPreferences=[{"TopicName": topic, "SubscriptionStatus": status}] if status else [],
                UnsubscribeAll=False,
            )
        self.clients["dynamodb"].put_item(
            TableName=self.outputs["SuppressionTableName"],
            Item={
                "address": {"S": contacts["suppressed"].lower()},
                "reason": {"S": "BOUNCE"},
                "detail": {"S": f"deliverability scenario {rid}"},
                "suppressed_at": {"S": datetime.now(UTC).isoformat(timespec="seconds")},
            },
        )
        request = {
            "event_type": "campaign.send",
            "schema_version": "1.0",
            "campaign_id": self.campaign_id,
            "template_name": self.outputs["CampaignTemplateName"],
            "topic": topic,
            "template_data": {"headline": f"News {rid}", "body": "What is new in the shop this month."},
        }
        expected = {contacts["no preference"], contacts["opted in"]}
        for _ in range(2):  # the second is a redelivered request: nobody is mailed twice
            self.clients["sqs"].send_message(
                QueueUrl=self.outputs["CampaignQueueUrl"], MessageBody=json.dumps(request)
            )
        self._wait_for(
            "the campaign sent to the subscribed contacts",
            lambda: expected <= {a for a, s in self._campaign_records().items() if s == "sent"},
        )
        self._settle()
        report.campaign_records = self._campaign_records()
        report.campaign_mails = Counter(
            address
            for mail in self._outbox("email")
            if mail.get("template") == self.outputs["CampaignTemplateName"]
            for address in mail.get("to", [])
            if address in contacts.values()
        )

    def _replies(self, report: DeliverabilityReport) -> None:
        ses = self.clients["ses"]
        rule_set = self.outputs["ReceiptRuleSetName"]
        active = (ses.describe_active_receipt_rule_set().get("Metadata") or {}).get("Name")
        if active != rule_set:
            if not self.activate_rule_set:
                self.progress(f"4/4 skipped: {rule_set} is not the active rule set (activate_rule_set=False)")
                return
            ses.set_active_receipt_rule_set(RuleSetName=rule_set)
            report.rule_set_activated_here = True
        report.replies_run = True
        self.progress(f"4/4 an out-of-office reply and a human reply to {self.outputs['ReplyAddress']}")
        try:
            customer = f"dlv-{self.run_id}-customer@{self.customer_domain}"
            receive: Callable[..., list[str]] = getattr(self.target, "receive_email")  # noqa: B009
            for raw in (self._reply(customer, automatic=True), self._reply(customer, automatic=False)):
                receive(raw, recipients=[self.outputs["ReplyAddress"]])
            self._wait_for("the human reply forwarded", lambda: bool(self._forwards()))
            self._settle()
            report.forwards = self._forwards()
        finally:
            if report.rule_set_activated_here:
                if active:
                    ses.set_active_receipt_rule_set(RuleSetName=active)
                else:
                    ses.set_active_receipt_rule_set()  # no name: no active set, as before

    def _reply(self, customer: str, *, automatic: bool) -> bytes:
        rid = self.run_id
        headers = [
            f"From: Jane Customer <{customer}>",
            f"To: {self.outputs['ReplyAddress']}",
            f"Message-ID: <{'ooo' if automatic else 'reply'}-{rid}@{self.customer_domain}>",
            f"In-Reply-To: <order-{rid}@{self.customer_domain}>",
            f"Date: {datetime.now(UTC).strftime('%a, %d %b %Y %H:%M:%S +0000')}",
        ]
        if automatic:
            headers += [f"Subject: Automatic reply: Your order {rid}", "Auto-Submitted: auto-replied"]
            body = "I am out of the office until Monday."
        else:
            headers += [f"Subject: Re: Your order {rid}"]
            body = "Could you deliver it to my office instead?"
        return (
            "\r\n".join([*headers, "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", body])
            + "\r\n"
        ).encode()

    # -- expectations ------------------------------------------------------------------------------------
    def _checks(self, report: DeliverabilityReport) -> list[Check]:
        checks: list[Check] = []

        def check(name: str, passed: bool, detail: str = "") -> None:
            checks.append(Check(name, passed, "" if passed else detail))

        today = datetime.now(UTC).strftime("%Y-%m-%d")
        flow = self.outputs["RegistrationFlow"]
        types = sorted(str(r.get("eventType")) for _, r in report.archived)
        check(
            f"the registration e-mail's events are archived as JSON under events/event_type=<type>/dt={today}/",
            types == ["Delivery", "Send"]
            and all(
                k.startswith(f"{EVENTS_PREFIX}event_type={r['eventType']}/dt={today}/")
                for k, r in report.archived
            ),
            f"events {types} at {[k for k, _ in report.archived]}",
        )
        check(
            f"the archived events carry the flow tag {flow}",
            bool(report.archived)
            and all((r.get("mail") or {}).get("tags", {}).get("flow") == [flow] for _, r in report.archived),
            "flow tags "
            + str([(r.get("mail") or {}).get("tags", {}).get("flow") for _, r in report.archived]),
        )
        password = str(report.smtp_secret.get("password", ""))
        check(
            "the SMTP secret names the user's one access key, with a 44-character version-4 password",
            len(report.smtp_keys) == 1
            and report.smtp_secret.get("username") == report.smtp_keys[0]
            and len(password) == SMTP_PASSWORD_LENGTH
            and _version(password) == SMTP_PASSWORD_VERSION,
            f"{len(report.smtp_keys)} key(s), password of {len(password)} characters",
        )
        check(
            f"the SMTP secret names the SES SMTP endpoint and port {SMTP_PORT}",
            str(report.smtp_secret.get("host", "")).startswith("email-smtp.")
            and report.smtp_secret.get("port") == SMTP_PORT,
            f"{report.smtp_secret.get('host')}:{report.smtp_secret.get('port')}",
        )
        contacts = report.contacts
        subscribed = sorted([contacts.get("no preference", ""), contacts.get("opted in", "")])
        sent = sorted(a for a, s in report.campaign_records.items() if s == "sent")
        check(
            "the campaign is recorded as sent to the subscribed contacts only (no preference + opted in)",
            sent == subscribed,
            f"sent to {[_mask(a) for a in sent]}",
        )
        if self._has_outbox():
            mails = report.campaign_mails
            check(
                "the campaign mailed each subscribed contact once (the redelivered request sent nothing more)",
                all(mails[a] == 1 for a in subscribed),
                f"mails {dict((_mask(a), n) for a, n in mails.items())}",
            )
            check(
                "no campaign mail to the contact that opted out of the topic",
                mails[contacts.get("opted out", "")] == 0,
                f"{mails[contacts.get('opted out', '')]} mail(s)",
            )
            check(
                "no campaign mail to the address on the suppression table",
                mails[contacts.get("suppressed", "")] == 0,
                f"{mails[contacts.get('suppressed', '')]} mail(s)",
            )
        if report.replies_run:
            subjects = [_subject(f) for f in report.forwards]
            forward_to = self.outputs["ReplyForwardTo"].lower()
            check(
                "the out-of-office reply is not forwarded",
                not any("Automatic reply" in s for s in subjects),
                f"forwarded subjects {subjects}",
            )
            check(
                f"the human reply is forwarded once to {_mask(forward_to)}",
                len(report.forwards) == 1
                and subjects[0] == f"Re: Your order {self.run_id}"
                and [a.lower() for a in report.forwards[0].get("to", [])] == [forward_to],
                f"{len(report.forwards)} forward(s): {subjects}",
            )
        leftovers = {name: reasons for name, reasons in report.dead_letters.items() if reasons}
        check("nothing of the run in the campaign or reply DLQs", not leftovers, f"DLQs {leftovers}")
        return checks

    # -- reading -----------------------------------------------------------------------------------------
    def _archived(self, message_id: str) -> list[tuple[str, dict[str, Any]]]:
        s3, bucket = self.clients["s3"], self.outputs["ArchiveBucketName"]
        found: list[tuple[str, dict[str, Any]]] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=EVENTS_PREFIX):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("utf-8", "replace")
                for line in body.splitlines():
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(record, dict) and (record.get("mail") or {}).get("messageId") == message_id:
                        found.append((item["Key"], record))
        return sorted(found, key=lambda kv: str(kv[1].get("eventType")))

    def _campaign_records(self) -> dict[str, str]:
        prefix = f"{self.campaign_id}#"
        return {
            str(item["id"])[len(prefix) :]: str(item.get("status"))
            for item in scan_table(self.clients["dynamodb"], self.outputs["CampaignTableName"])
            if str(item.get("id", "")).startswith(prefix) and "#page#" not in str(item["id"])
        }

    def _forwards(self) -> list[dict[str, Any]]:
        forward_to = self.outputs["ReplyForwardTo"].lower()
        return [
            mail
            for mail in self._outbox("email")
            if forward_to in (a.lower() for a in mail.get("to", [])) and self.run_id in _subject(mail)
        ]

    def _dead_letters(self, queue_url: str) -> list[str]:
        return [
            m["reason"] or "(no reason: moved by the redrive policy)"
            for m in peek_messages(self.clients["sqs"], queue_url)
            if self.run_id in m["Body"]
        ]

    # -- sandbox extras (optional on the target) --------------------------------------------------------
    def _has_outbox(self) -> bool:
        return callable(getattr(self.target, "outbox", None))

    def _outbox(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Outbox entries since the run started (none on a target without an outbox)."""
        outbox = getattr(self.target, "outbox", None)
        entries = list(outbox(kind)) if callable(outbox) else []
        return [e for e in entries if e.get("seq", 0) > self._outbox_after]

    def _settle(self) -> None:
        """Let a second mail or forward show up: the sandbox's idle wait, else a short sleep."""
        wait = getattr(self.target, "wait_until_idle", None)
        if callable(wait):
            try:
                wait(timeout=self.timeout)
            except Exception as exc:  # another stack still busy (SandboxError): the sleep still settles
                self.progress(f"   the sandbox did not go idle ({type(exc).__name__}); settling anyway")
        time.sleep(self.settle)

    def _wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.5)
        self.progress(f"   timed out after {self.timeout:.0f} s waiting for {what}; reporting what happened")


def _version(password: str) -> int | None:
    try:
        decoded = base64.b64decode(password, validate=True)
    except ValueError:
        return None
    return decoded[0] if decoded else None
