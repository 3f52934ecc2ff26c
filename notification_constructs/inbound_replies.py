"""InboundReplies: mail to the reply address stored in S3, classified, human replies forwarded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import jsii
from aws_cdk import Annotations, ArnFormat, CustomResource, Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces import aws_ses as ses_refs
from constructs import Construct

from lambda_handlers import contracts

from ._defaults import SES_SERVICE_PRINCIPAL, handler_metric, new_cmk
from ._functions import custom_resource_function
from ._validation import Problems, acknowledge, is_token
from .notification_topic import NotificationTopic
from .processing_queue import ProcessingQueue
from .queue_consumer_function import QueueConsumerFunction

__all__ = ["InboundReplies"]

#: ``POWERTOOLS_SERVICE_NAME`` of the classifier: the ``service`` dimension of its metrics.
CLASSIFIER_SERVICE = "reply_classifier"
_ACTIVATION_TYPE = "Custom::SesActiveReceiptRuleSet"
#: Regions with an SES email-receiving endpoint (``inbound-smtp.<region>.amazonaws.com``), as listed under
#: "Email receiving" in https://docs.aws.amazon.com/general/latest/gr/ses.html. AWS adds regions over time,
#: so another region is a synth warning, not an error.
RECEIVING_REGIONS = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-2",
        "ca-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-central-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-northeast-1",
    }
)
#: SES accepts at most 100 recipients (addresses or domains) per receipt rule.
MAX_RECIPIENTS = 100
DEFAULT_RETENTION = Duration.days(30)


@jsii.implements(ses.IReceiptRuleAction)
class _StoreInBucket:
    """The S3 action without aws-cdk-lib's ``ses_actions.S3`` bucket-policy statement (which names only the
    account): :class:`InboundReplies` writes its own, scoped to the receipt rule's ARN."""

    def __init__(self, bucket: s3.IBucket, prefix: str, topic: sns.ITopic) -> None:
        self._action = ses.S3ActionConfig(
            bucket_name=bucket.bucket_name, object_key_prefix=prefix, topic_arn=topic.topic_arn
        )

    def bind(self, receipt_rule: ses_refs.IReceiptRuleRef) -> ses.ReceiptRuleActionConfig:
        return ses.ReceiptRuleActionConfig(s3_action=self._action)


def _domain_of(recipient: str) -> str:
    return recipient.rpartition("@")[2].lower()


class InboundReplies(Construct):
    """Receive mail sent to the reply address(es), keep it in S3 and forward the human replies.

    - A receipt rule (``recipients``: addresses and/or domains) in :attr:`rule_set` - a new rule set, or
      an existing one (e.g. the account's active set) - with spam/virus scanning and TLS required by default.
      Its one action stores the raw mail under ``inbound/`` in :attr:`bucket` and notifies :attr:`topic`
      with the object key (the S3 action's notification: a mail of up to 40 MB; the SNS action would carry
      the content itself, but only up to 150 KB, larger mail bounces).
    - :attr:`bucket`: SSE-KMS with :attr:`encryption_key` (bucket key on), TLS only, public access blocked,
      objects expire after ``retention``. SES may ``s3:PutObject`` under ``inbound/`` only for this rule
      (``aws:SourceAccount`` and ``aws:SourceArn`` =
      ``arn:<partition>:ses:<region>:<account>:receipt-rule-set/<set>:receipt-rule/<rule>``), and use the key
      only through S3 (``kms:ViaService``). The S3 action's own "encrypt message" option is not used: SES then
      encrypts client-side with the Amazon S3 encryption client, which the Python classifier does not have.
    - :attr:`topic` -> :attr:`queue` -> :attr:`classifier` (``lambda_handlers.reply_classifier``): reads the
      object (at most ``max_message_bytes``), classifies it - automatic responses (``Auto-Submitted``
      other than ``no``, ``X-Autoreply``, ``Precedence: bulk|junk|auto_reply``, out-of-office subjects, ...)
      and bounces are counted (``AutoResponseReceived``, ``InboundBounceReceived``), never forwarded - and
      forwards human replies to ``forward_to`` (SESv2 raw ``SendEmail`` ``From`` ``forward_from`` with
      ``Reply-To`` the customer: a ``From`` in the customer's domain would fail its DMARC check) and/or
      to ``forward_queue`` (JSON with bucket, key, sender, subject; no body). Missing objects and malformed
      mail go to the queue's DLQ with a reason.
    - With ``hosted_zone``: an MX record ``10 inbound-smtp.<region>.amazonaws.com`` for each recipient
      domain (only regions with an email-receiving endpoint receive mail, see :data:`RECEIVING_REGIONS`).

    Activation is account-wide: SES uses one active receipt rule set per account and region, and
    CloudFormation cannot choose it. ``activate=True`` makes :attr:`rule_set` the active set with a custom
    resource (:attr:`activation`) - whatever set was active before stops receiving mail - and deactivates
    it on delete only if it is still the active set (the previous set is not restored). Without
    ``activate``, activate the set yourself, or pass the active set as ``rule_set``.

    Child ids (a public contract): ``DataKey`` (without ``encryption_key``), ``Bucket``, ``Notifications``
    (+ ``NotificationsKey`` with an imported ``encryption_key``), ``RuleSet`` (without ``rule_set``),
    ``Rule``, ``Queue``, ``Classifier``, ``MxRecord``, ``MxRecord2``, ... (with ``hosted_zone``),
    ``ActivationProvider`` and ``Activation`` (with ``activate``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        recipients: Sequence[str],
        forward_to: str | None = None,
        forward_from: str | None = None,
        forward_queue: sqs.IQueue | None = None,
        rule_set: ses.IReceiptRuleSet | None = None,
        activate: bool = False,
        hosted_zone: route53.IHostedZone | None = None,
        scan_enabled: bool = True,
        require_tls: bool = True,
        retention: Duration = DEFAULT_RETENTION,
        max_message_bytes: int = contracts.DEFAULT_MAX_INBOUND_MESSAGE_BYTES,
        encryption_key: kms.IKey | None = None,
        alarm_topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """
        :param recipients: Reply addresses (``replies@shop.example.com``) and/or domains
            (``reply.shop.example.com``) the rule receives for; each must belong to a verified SES identity.
        :param forward_to: Forward human replies to this address. Default: - no e-mail forward.
        :param forward_from: ``From`` of the forwards, an address of a verified sending identity
            (``Shop <replies@shop.example.com>``); required with ``forward_to``. Default: - none.
        :param forward_queue: Also (or only) send each human reply's coordinates to this queue.
            Default: - none. At least one of ``forward_to`` / ``forward_queue`` is required.
        :param rule_set: An existing receipt rule set to add the rule to. Default: - a new rule set.
        :param activate: Make the rule set the account's active one (a custom resource; account-wide, see
            above). Only for the rule set created here. Default: False.
        :param hosted_zone: Publish the MX record(s) for the recipient domains in this zone. Default: - no
            DNS records (publish ``10 inbound-smtp.<region>.amazonaws.com`` yourself).
        :param scan_enabled: SES spam and virus scanning. Default: True.
        :param require_tls: Reject mail not delivered over TLS. Default: True.
        :param retention: Stored mail expires after this many days (whole days). Default: 30 days.
        :param max_message_bytes: The classifier reads at most this much of a stored mail; larger mail goes
            to the DLQ. Default: 10485760 (10 MiB); at most 40 MiB.
        :param encryption_key: Key of the bucket, topic, queues and log groups. Default: - a new
            customer-managed key (``DataKey``). An imported key's policy cannot be changed here: it must let
            ``ses.amazonaws.com`` use it through S3, and the topic and queues get keys of their own.
        :param alarm_topic: Notified by the queue's and the classifier's alarms. Default: - alarms without
            actions.
        :param removal_policy: Of the bucket and the key. Default: RETAIN.
        """
        super().__init__(scope, id)
        stack = Stack.of(self)
        self._validate(
            recipients=recipients,
            forward_to=forward_to,
            forward_from=forward_from,
            forward_queue=forward_queue,
            rule_set=rule_set,
            activate=activate,
            hosted_zone=hosted_zone,
            retention=retention,
            max_message_bytes=max_message_bytes,
        )
        if not is_token(stack.region) and stack.region not in RECEIVING_REGIONS:
            Annotations.of(self).add_warning_v2(
                "notification-constructs:NoEmailReceiving",
                f"SES email receiving is not documented for {stack.region} (receiving regions: "
                f"{', '.join(sorted(RECEIVING_REGIONS))}); the rule would receive nothing there.",
            )

        prefix = contracts.INBOUND_OBJECT_PREFIX
        self.encryption_key: kms.IKey = encryption_key or new_cmk(
            self,
            "DataKey",
            description=f"Encrypts the stored mail, topic, queues and log groups of {self.node.path}",
            removal_policy=removal_policy,
        )
        shared_key = self.encryption_key if isinstance(self.encryption_key, kms.Key) else None
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.encryption_key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireStoredMail",
                    expiration=retention,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "Holds raw inbound mail for at most the retention period: the bucket policy lets only SES (for "
            "this receipt rule) write and the classifier's role read; object-level access is audited with "
            "CloudTrail data events rather than a second, unencrypted (SSE-S3) access-log bucket.",
        )

        self.rule_set: ses.IReceiptRuleSet = rule_set or ses.ReceiptRuleSet(self, "RuleSet")
        # A name of our own: the bucket policy names the rule, and the rule depends on that policy.
        self.rule_name = Names.unique_resource_name(self, max_length=63, separator="-")
        self.rule_arn = stack.format_arn(
            service="ses",
            resource="receipt-rule-set",
            resource_name=f"{self.rule_set.receipt_rule_set_name}:receipt-rule/{self.rule_name}",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        # https://docs.aws.amazon.com/ses/latest/dg/receiving-email-permissions.html (write to an S3 bucket)
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowSesPutsForThisRule",
                principals=[iam.ServicePrincipal(SES_SERVICE_PRINCIPAL)],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(f"{prefix}*")],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account, "aws:SourceArn": self.rule_arn}
                },
            )
        )
        if shared_key is not None:
            # SSE-KMS: S3 asks KMS for a data key on behalf of the writer (SES). Only through S3; the
            # confused-deputy conditions are on the bucket policy (naming the bucket here would be a
            # dependency cycle: the bucket's encryption references the key).
            shared_key.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal(SES_SERVICE_PRINCIPAL)],
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=["*"],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
                )
            )

        self.topic = NotificationTopic(
            self, "Notifications", encryption_key=shared_key, publishing_services=()
        )
        self.topic.allow_service_publish(SES_SERVICE_PRINCIPAL, source_arns=[self.rule_arn])
        self.rule = ses.ReceiptRule(
            self,
            "Rule",
            rule_set=self.rule_set,
            receipt_rule_name=self.rule_name,
            recipients=list(recipients),
            scan_enabled=scan_enabled,
            tls_policy=ses.TlsPolicy.REQUIRE if require_tls else ses.TlsPolicy.OPTIONAL,
            enabled=True,
            actions=[_StoreInBucket(self.bucket, prefix, self.topic)],
        )
        # SES writes a test object and checks the topic when the rule is created: policies first.
        for dependency in (self.bucket.policy, self.topic, self.topic.encryption_key):
            if dependency is not None:
                self.rule.node.add_dependency(dependency)

        self.queue = ProcessingQueue(self, "Queue", alarm_topic=alarm_topic, encryption_key=shared_key)
        self.queue.subscribe_to(self.topic)
        environment = {
            contracts.INBOUND_BUCKET_NAME_ENV: self.bucket.bucket_name,
            contracts.MAX_INBOUND_MESSAGE_BYTES_ENV: str(max_message_bytes),
        }
        if forward_to is not None and forward_from is not None:
            environment[contracts.FORWARD_TO_ADDRESS_ENV] = forward_to
            environment[contracts.FORWARD_FROM_ADDRESS_ENV] = forward_from
        if forward_queue is not None:
            environment[contracts.FORWARD_QUEUE_URL_ENV] = forward_queue.queue_url
        self.classifier = QueueConsumerFunction(
            self,
            "Classifier",
            queue=self.queue,
            handler="lambda_handlers.reply_classifier.handler.handler",
            description="Classifies mail to the reply address; forwards human replies.",
            environment=environment,
            memory_size=512,
            service_name=CLASSIFIER_SERVICE,
            encryption_key=self.encryption_key,
            alarm_topic=alarm_topic,
        )
        self._grant_classifier(forward_to, forward_from, forward_queue)

        self.mx_records: list[route53.MxRecord] = []
        if hosted_zone is not None:
            domains = dict.fromkeys(_domain_of(r) for r in recipients if not is_token(r))
            for index, domain in enumerate(domains):
                self.mx_records.append(
                    route53.MxRecord(
                        self,
                        "MxRecord" if index == 0 else f"MxRecord{index + 1}",
                        zone=hosted_zone,
                        record_name=f"{domain}.",
                        values=[
                            route53.MxRecordValue(
                                host_name=f"inbound-smtp.{stack.region}.amazonaws.com", priority=10
                            )
                        ],
                    )
                )

        self.activation: CustomResource | None = None
        self.activation_provider: lambda_.Function | None = None
        if activate:
            self._activate(shared_key, removal_policy)

        #: The queue's and the classifier's alarms.
        self.all_alarms: list[cloudwatch.Alarm] = [*self.queue.alarms, *self.classifier.alarms]

    def _validate(
        self,
        *,
        recipients: Sequence[str],
        forward_to: str | None,
        forward_from: str | None,
        forward_queue: sqs.IQueue | None,
        rule_set: ses.IReceiptRuleSet | None,
        activate: bool,
        hosted_zone: route53.IHostedZone | None,
        retention: Duration,
        max_message_bytes: int,
    ) -> None:
        problems = Problems(self)
        problems.check(
            0 < len(recipients) <= MAX_RECIPIENTS,
            f"recipients: give 1-{MAX_RECIPIENTS} reply addresses or domains (got {len(recipients)})",
        )
        for recipient in recipients:
            if is_token(recipient):
                continue
            problems.check(
                contracts.is_valid_email(recipient) or contracts.is_valid_domain(recipient),
                f"recipients: {recipient!r} is neither an e-mail address nor a domain",
            )
        problems.check(
            forward_to is not None or forward_queue is not None,
            "forward_to / forward_queue: give at least one; human replies need somewhere to go",
        )
        if forward_to is not None and not is_token(forward_to):
            problems.check(
                contracts.is_valid_email(forward_to), f"forward_to {forward_to!r} is not an e-mail address"
            )
        if forward_to is not None:
            problems.check(
                forward_from is not None,
                "forward_from: required with forward_to (an address of a verified sending identity)",
            )
        if forward_from is not None and not is_token(forward_from):
            problems.check(
                contracts.sender_address(forward_from) is not None,
                f"forward_from {forward_from!r}: use 'replies@example.com' or 'Shop <replies@example.com>'",
            )
        problems.check(
            not (activate and rule_set is not None),
            "activate=True only activates the rule set this construct creates; an existing rule_set is "
            "activated (or already active) outside it",
        )
        days = retention.to_days(integral=False)
        problems.check(
            is_token(days) or (days >= 1 and float(days).is_integer()),
            f"retention: a whole number of days, at least 1 (got {retention.to_human_string()})",
        )
        low, high = contracts.MIN_INBOUND_MESSAGE_BYTES, contracts.MAX_INBOUND_MESSAGE_BYTES
        problems.check(
            is_token(max_message_bytes) or low <= max_message_bytes <= high,
            f"max_message_bytes {max_message_bytes}: must be {low}-{high}",
        )
        if hosted_zone is not None and not is_token(hosted_zone.zone_name):
            zone = hosted_zone.zone_name.rstrip(".").lower()
            for recipient in recipients:
                if is_token(recipient):
                    continue
                domain = _domain_of(recipient)
                problems.check(
                    domain == zone or domain.endswith(f".{zone}"),
                    f"hosted_zone {zone}: recipient domain {domain} is not in this zone (no MX record possible)",
                )
        problems.raise_if_any()

    def _grant_classifier(
        self, forward_to: str | None, forward_from: str | None, forward_queue: sqs.IQueue | None
    ) -> None:
        function = self.classifier.function
        prefix = contracts.INBOUND_OBJECT_PREFIX
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[self.bucket.arn_for_objects(f"{prefix}*")]
            )
        )
        # With ListBucket a missing object answers 404 NoSuchKey (dead-lettered), not 403 AccessDenied.
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": f"{prefix}*"}},
            )
        )
        self.encryption_key.grant_decrypt(function)
        bucket_id = Stack.of(self).resolve(self.bucket.bucket_arn)["Fn::GetAtt"][0]
        acknowledge(
            cast(Construct, self.classifier.role),
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{prefix}*]",
            "SES names each stored object after its message id: the classifier may read any object under "
            "the inbound/ prefix of this bucket, nothing else.",
        )
        if forward_to is not None and forward_from is not None:
            # The address identity or its domain's identity, whichever is verified.
            address = forward_from if is_token(forward_from) else contracts.sender_address(forward_from)
            address = address or forward_from
            stack = Stack.of(self)
            identities = [address] if is_token(address) else [address, address.rpartition("@")[2]]
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["ses:SendEmail", "ses:SendRawEmail"],
                    resources=[
                        stack.format_arn(service="ses", resource="identity", resource_name=name)
                        for name in identities
                    ],
                    conditions={"StringEquals": {"ses:FromAddress": address}},
                )
            )
        if forward_queue is not None:
            # Not grant_send_messages: its key actions are wildcards (kms:GenerateDataKey*, kms:ReEncrypt*).
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[forward_queue.queue_arn])
            )
            if forward_queue.encryption_master_key is not None:
                forward_queue.encryption_master_key.grant(function, "kms:GenerateDataKey", "kms:Decrypt")

    def _activate(self, shared_key: kms.IKey | None, removal_policy: RemovalPolicy) -> None:
        provider = custom_resource_function(
            self,
            "ActivationProvider",
            handler="lambda_handlers.reply_classifier.activation.handler",
            description=f"Activates the receipt rule set of {self.node.path} (deactivates it on delete).",
            encryption_key=shared_key,
            removal_policy=removal_policy,
        )
        provider.add_to_role_policy(
            iam.PolicyStatement(
                actions=["ses:SetActiveReceiptRuleSet", "ses:DescribeActiveReceiptRuleSet"], resources=["*"]
            )
        )
        acknowledge(
            cast(Construct, provider.role),
            "AwsSolutions-IAM5[Resource::*]",
            "SetActiveReceiptRuleSet and DescribeActiveReceiptRuleSet act on the account's one active rule "
            "set and support no resource-level permissions.",
        )
        self.activation_provider = provider
        self.activation = CustomResource(
            self,
            "Activation",
            service_token=provider.function_arn,
            resource_type=_ACTIVATION_TYPE,
            properties={"RuleSetName": self.rule_set.receipt_rule_set_name},
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.activation.node.add_dependency(self.rule)

    # --- metrics ------------------------------------------------------------------------------------------
    def metric_auto_responses(
        self, *, period: Duration | None = None, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Automatic responses received and dropped (``AutoResponseReceived``). Period 5 minutes, Sum."""
        return handler_metric(
            contracts.METRIC_AUTO_RESPONSE_RECEIVED,
            service=CLASSIFIER_SERVICE,
            period=period,
            statistic=statistic,
            label=label,
        )

    def metric_forwarded_replies(
        self, *, period: Duration | None = None, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Human replies forwarded by e-mail (``ReplyForwardedByEmail``). Period 5 minutes, Sum."""
        return handler_metric(
            contracts.METRIC_REPLY_FORWARDED_BY_EMAIL,
            service=CLASSIFIER_SERVICE,
            period=period,
            statistic=statistic,
            label=label,
        )
