"""Deliverability parts of the example: the event archive, per-flow monitoring, SMTP credentials, marketing
subscriptions and campaigns, inbound replies - and, behind context flags, what costs money or switches
something account-wide.

A second stack next to ``OrderNotificationsStack`` (``examples/app.py``), built on its sender identity,
configuration set and suppression table (cross-stack references: deploy the order stack first, the CDK CLI
does so when you deploy this one)::

    npx cdk deploy Deliverability -c dedicated_ips=managed -c vdm=true -c activate_receipt_rule_set=true

Context (all optional):

- ``dedicated_ips`` = ``standard`` | ``managed``: a dedicated IP pool (billed per IP, or per pool and
  message) for the campaign configuration set. Default: - shared IPs.
- ``vdm`` = ``true``: Virtual Deliverability Manager for the account (engagement metrics, optimized shared
  delivery; billed per message). Default: off.
- ``activate_receipt_rule_set`` = ``true``: make the reply rule set the account's active one (account-wide:
  whatever set was active stops receiving mail). Default: off (activate it yourself).
- ``reply_forward_to``: where human replies are forwarded. Default: ``support@<domain>``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_cdk import Acknowledgment, App, CfnOutput, Environment, Stack, Token, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from notification_constructs import EmailConfigurationSet, SenderIdentity, SmtpCredentials
from notification_constructs.delivery_monitoring import DeliveryMonitoring
from notification_constructs.email_event_archive import EmailEventArchive
from notification_constructs.inbound_replies import InboundReplies
from notification_constructs.pipelines.bounce_handling_pipeline import BounceHandlingPipeline
from notification_constructs.pipelines.bulk_email_sender import BulkEmailSender
from notification_constructs.subscription_management import ContactListTopic, SubscriptionManagement

if TYPE_CHECKING:  # examples.app imports this module: no import of it at run time
    from examples.app import OrderNotificationsStack

__all__ = [
    "CAMPAIGN_TOPIC",
    "DEDICATED_IP_MODES",
    "REGISTRATION_FLOW",
    "DeliverabilityStack",
    "add_deliverability_stack",
]

#: The flow tag (``EmailTags=[{"Name": "flow", "Value": "registration"}]``) the monitoring alarms on.
REGISTRATION_FLOW = "registration"
#: The contact-list topic campaigns go to in the example (opt-out: subscribed unless the contact opted out).
CAMPAIGN_TOPIC = "newsletter"
#: ``-c dedicated_ips=...`` values.
DEDICATED_IP_MODES: dict[str, ses.ScalingMode] = {
    "standard": ses.ScalingMode.STANDARD,
    "managed": ses.ScalingMode.MANAGED,
}
_BOOLEANS = {"true": True, "false": False}


class DeliverabilityStack(Stack):
    """Archive + monitoring of the example configuration set, SMTP credentials for the sender, a contact
    list with campaigns, inbound replies; a dedicated IP pool and VDM when asked for.

    - :attr:`archive` (``EmailEventArchive``) and :attr:`monitoring` (``DeliveryMonitoring``, flow
      ``registration``) on ``configuration_set``: every event archived in S3 under
      ``events/event_type=<type>/dt=<day>/``, alarms when registration mail is rejected, fails to render or
      is delayed (to ``alarm_topic``).
    - :attr:`smtp` (``SmtpCredentials``): an IAM user that may send from ``orders@`` / ``no-reply@`` of the
      sender's domain through the configuration set; its credentials in a secret.
    - :attr:`subscriptions` (``SubscriptionManagement``: ``newsletter`` opt-out, ``product-updates`` opt-in)
      and :attr:`campaigns` (``BulkEmailSender``, template :attr:`campaign_template_name`, from ``news@``)
      on their own configuration set :attr:`campaign_configuration_set` - marketing mail keeps its
      reputation (and its IPs, with ``dedicated_ips``) apart from the transactional mail - whose bounces and
      complaints :attr:`campaign_bounces` writes to the same ``suppression_table``.
    - :attr:`replies` (``InboundReplies``) for ``replies@<domain>``: automatic responses dropped, human
      replies forwarded to ``reply_forward_to`` from ``replies@``; the rule set is activated only with
      ``activate_receipt_rule_set``.
    - ``dedicated_ips``: :attr:`dedicated_ip_pool` (``ses.DedicatedIpPool``) as the campaign set's sending
      pool. ``vdm``: :attr:`vdm_attributes` (account-level VDM: engagement metrics and optimized shared
      delivery) and the same options set on the campaign configuration set.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        sender: SenderIdentity,
        configuration_set: ses.IConfigurationSet,
        suppression_table: dynamodb.ITable,
        alarm_topic: sns.ITopic | None = None,
        reply_forward_to: str | None = None,
        dedicated_ips: ses.ScalingMode | None = None,
        vdm: bool = False,
        activate_receipt_rule_set: bool = False,
        **kwargs: Any,
    ) -> None:
        """
        :param sender: The example's domain identity (``OrderNotificationsStack``'s ``Sender``).
        :param configuration_set: The example's configuration set (archived and monitored).
        :param suppression_table: The bounce pipeline's suppression table (campaigns skip it; campaign
            bounces and complaints are written to it).
        :param alarm_topic: Where the alarms notify. Default: - the campaign bounce pipeline's alert topic.
        :param reply_forward_to: Where human replies go. Default: ``support@<domain>``.
        :param dedicated_ips: Scaling mode of a dedicated IP pool for campaigns. Default: - shared IPs.
        :param vdm: Virtual Deliverability Manager for the account. Default: False.
        :param activate_receipt_rule_set: Make the reply rule set the account's active one. Default: False.
        """
        super().__init__(scope, id, **kwargs)
        domain = sender.domain
        if not domain:
            raise ValueError(
                f"{self.node.path}: sender must be a domain identity (SenderIdentity(domain=...))"
            )
        self.domain = domain

        # -- SMTP for applications that cannot call the SES API ---------------------------------------------
        self.smtp_from_addresses = (f"orders@{domain}", f"no-reply@{domain}")
        self.smtp = SmtpCredentials(
            self,
            "SmtpCredentials",
            identities=[sender],
            from_addresses=self.smtp_from_addresses,
            configuration_sets=[configuration_set],
        )

        # -- marketing: its own configuration set (dedicated IPs, VDM), contact list, campaigns ------------
        self.dedicated_ip_pool = (
            ses.DedicatedIpPool(self, "DedicatedIpPool", scaling_mode=dedicated_ips)
            if dedicated_ips is not None
            else None
        )
        self.vdm_attributes = (
            ses.VdmAttributes(self, "Vdm", engagement_metrics=True, optimized_shared_delivery=True)
            if vdm
            else None
        )
        self.campaign_configuration_set = EmailConfigurationSet(
            self,
            "CampaignConfigurationSet",
            dedicated_ip_pool=self.dedicated_ip_pool,
            vdm_engagement_metrics=True if vdm else None,
            vdm_optimized_shared_delivery=True if vdm else None,
        )
        self.campaign_bounces = BounceHandlingPipeline(
            self,
            "CampaignBounces",
            configuration_set=self.campaign_configuration_set,
            suppression_table=suppression_table,
            alert_topic=alarm_topic,
        )
        alerts = self.campaign_bounces.alert_topic

        # -- the transactional configuration set: archive and per-flow monitoring -----------------------
        self.archive = EmailEventArchive(self, "EventArchive", configuration_set=configuration_set)
        self.monitoring = DeliveryMonitoring(
            self,
            "DeliveryMonitoring",
            configuration_set=configuration_set,
            flows=[REGISTRATION_FLOW],
            alarm_topic=alerts,
        )

        self.subscriptions = SubscriptionManagement(
            self,
            "Subscriptions",
            topics=[
                ContactListTopic(
                    name=CAMPAIGN_TOPIC,
                    display_name="Monthly newsletter",
                    description="News from the shop, once a month",
                    default_opt_in=True,
                ),
                ContactListTopic(
                    name="product-updates",
                    display_name="Product updates",
                    description="When a product you follow changes",
                ),
            ],
        )
        self.campaign_template_name = f"{self.stack_name}-newsletter"
        self.campaign_template = ses.CfnTemplate(
            self,
            "NewsletterTemplate",
            template=ses.CfnTemplate.TemplateProperty(
                template_name=self.campaign_template_name,
                subject_part="{{headline}}",
                text_part="{{headline}}\n\n{{body}}\n\nUnsubscribe: see the List-Unsubscribe link.",
                html_part="<h1>{{headline}}</h1><p>{{body}}</p>",
            ),
        )
        self.campaigns = BulkEmailSender(
            self,
            "Campaigns",
            sender=sender,
            configuration_set=self.campaign_configuration_set,
            from_address=f"Shop news <news@{domain}>",
            subscriptions=self.subscriptions,
            suppression_table=suppression_table,
            templates=[self.campaign_template_name],
            alarm_topic=alerts,
        )
        self.campaigns.node.add_dependency(self.campaign_template)

        # -- replies --------------------------------------------------------------------------------------
        self.reply_address = f"replies@{domain}"
        self.reply_forward_to = reply_forward_to or f"support@{domain}"
        self.replies = InboundReplies(
            self,
            "Replies",
            recipients=[self.reply_address],
            forward_to=self.reply_forward_to,
            forward_from=f"Shop replies <{self.reply_address}>",
            activate=activate_receipt_rule_set,
            alarm_topic=alerts,
        )

        self._acknowledge_findings()

        # What an operator or the scenario (notification_constructs.testing.deliverability_scenario) needs,
        # beside the order stack's outputs (ConfigurationSetName, SuppressionTableName: not re-exported).
        for output_id, value in {
            "RegistrationFlow": REGISTRATION_FLOW,
            "RegistrationSenderAddress": f"no-reply@{domain}",
            "ArchiveBucketName": self.archive.bucket.bucket_name,
            "ArchiveDatabaseName": self.archive.database_name,
            "ArchiveTableName": self.archive.table_name,
            "SmtpUserName": self.smtp.user.user_name,
            "SmtpCredentialsSecretArn": self.smtp.secret.secret_arn,
            "ContactListName": self.subscriptions.contact_list_name,
            "CampaignTopic": CAMPAIGN_TOPIC,
            "CampaignTemplateName": self.campaign_template_name,
            "CampaignQueueUrl": self.campaigns.queue.queue_url,
            "CampaignTableName": self.campaigns.campaign_table.table_name,
            "CampaignDeadLetterQueueUrl": self.campaigns.queue.dead_letter_queue.queue_url,
            "CampaignConfigurationSetName": self.campaign_configuration_set.configuration_set_name,
            "ReplyAddress": self.reply_address,
            "ReplyForwardTo": self.reply_forward_to,
            "ReceiptRuleSetName": self.replies.rule_set.receipt_rule_set_name,
            "ReplyDeadLetterQueueUrl": self.replies.queue.dead_letter_queue.queue_url,
            "DedicatedIpPoolName": self.dedicated_ip_pool.dedicated_ip_pool_name
            if self.dedicated_ip_pool is not None
            else "-",
            "VdmEnabled": "true" if vdm else "false",
        }.items():
            CfnOutput(self, output_id, value=value)

    def _acknowledge_findings(self) -> None:
        """The HIPAA / NIST 800-53 R5 / PCI DSS 3.2.1 findings (and one AwsSolutions finding) the parts raise
        in this example, each with why the example accepts it."""
        packs = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
        archive, replies = self.archive, self.replies
        buckets = (archive.bucket, archive.access_logs_bucket, replies.bucket)
        reasons: list[tuple[IConstruct, str, str]] = []
        for bucket in buckets:
            reasons += [
                (
                    bucket,
                    "S3BucketReplicationEnabled",
                    "One-Region example: the archived events and stored replies stay in this Region; a "
                    "deployment that needs a second copy adds replication to a bucket it owns elsewhere.",
                ),
                (
                    bucket,
                    "S3BucketVersioningEnabled",
                    "Objects are written once under unique keys (Firehose, SES, S3 log delivery never "
                    "overwrite) and expire by lifecycle; versions would only keep expired copies.",
                ),
            ]
        reasons += [
            (
                archive.access_logs_bucket,
                "S3DefaultEncryptionKMS",
                "S3 server access logs can only be delivered to a bucket encrypted with SSE-S3.",
            ),
            (
                replies.bucket,
                "S3BucketLoggingEnabled",
                "Raw inbound mail for at most the retention period, written only by SES for this rule and "
                "read only by the classifier; object access is audited with CloudTrail data events.",
            ),
            (
                archive.delivery_stream,
                "CloudWatchLogGroupEncrypted",
                "The log group aws-cdk-lib's DeliveryStream creates for Firehose delivery errors: error "
                "messages and codes, never the event records.",
            ),
            (
                archive.delivery_stream,
                "IAMNoInlinePolicy",
                "The Firehose roles' policies are created and deleted with them and name only this stream, "
                "bucket and key.",
            ),
            (
                archive.ses_role,
                "IAMNoInlinePolicy",
                "The SES role's one policy allows only firehose:PutRecord(Batch) on the archive's stream.",
            ),
        ]
        for scope, rule, reason in reasons:
            for pack in packs:
                Validations.of(scope).acknowledge(Acknowledgment(id=f"{pack}-{rule}", reason=reason))


def add_deliverability_stack(
    app: App,
    orders_stack: OrderNotificationsStack,
    ctx: Callable[[str], str | None],
    *,
    id: str = "Deliverability",
) -> DeliverabilityStack:
    """Add :class:`DeliverabilityStack` to ``app``, on ``orders_stack``'s ``Sender``, ``ConfigurationSet`` and
    suppression table, configured by the context ``ctx`` reads (``dedicated_ips``, ``vdm``,
    ``activate_receipt_rule_set``, ``reply_forward_to``); in the order stack's environment."""
    sender = orders_stack.node.find_child("Sender")
    configuration_set = orders_stack.node.find_child("ConfigurationSet")
    if not isinstance(sender, SenderIdentity) or not isinstance(configuration_set, EmailConfigurationSet):
        raise TypeError(f"{orders_stack.node.path}: expected the example's Sender and ConfigurationSet")
    mode = (ctx("dedicated_ips") or "").strip().lower()
    if mode not in ("", "none", *DEDICATED_IP_MODES):
        raise ValueError(
            f"context dedicated_ips: {mode!r}; use {' or '.join(DEDICATED_IP_MODES)} (or leave unset)"
        )
    env = (
        Environment(account=orders_stack.account, region=orders_stack.region)
        if not Token.is_unresolved(orders_stack.account) and not Token.is_unresolved(orders_stack.region)
        else None
    )
    return DeliverabilityStack(
        app,
        id,
        sender=sender,
        configuration_set=configuration_set,
        suppression_table=orders_stack.bounces.suppression_table,
        alarm_topic=orders_stack.bounces.alert_topic,
        reply_forward_to=ctx("reply_forward_to"),
        dedicated_ips=DEDICATED_IP_MODES.get(mode),
        vdm=_flag(ctx, "vdm"),
        activate_receipt_rule_set=_flag(ctx, "activate_receipt_rule_set"),
        env=env,
        description=(
            "notification-constructs example: event archive, delivery monitoring, SMTP credentials, "
            "subscriptions and campaigns, inbound replies"
        ),
    )


def _flag(ctx: Callable[[str], str | None], key: str) -> bool:
    value = (ctx(key) or "false").strip().lower()
    if value not in _BOOLEANS:
        raise ValueError(f"context {key}: {value!r}; use true or false")
    return _BOOLEANS[value]
