"""EmailConfigurationSet: an SES configuration set with secure defaults and event destinations."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Annotations, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct

from ._defaults import SES_SERVICE_PRINCIPAL, source_conditions
from ._validation import Problems, is_token, is_valid_domain
from .notification_topic import NotificationTopic

__all__ = ["CONFIGURATION_SET_DIMENSION", "DEFAULT_EVENT_TYPES", "EmailConfigurationSet"]

#: Events that need action or show whether mail reaches people. Send/Open/Click/Subscription are opt-in.
DEFAULT_EVENT_TYPES: tuple[ses.EmailSendingEvent, ...] = (
    ses.EmailSendingEvent.BOUNCE,
    ses.EmailSendingEvent.COMPLAINT,
    ses.EmailSendingEvent.DELIVERY,
    ses.EmailSendingEvent.REJECT,
    ses.EmailSendingEvent.RENDERING_FAILURE,
    ses.EmailSendingEvent.DELIVERY_DELAY,
)

#: The SES auto-tag naming the configuration set of every message sent with one. As the dimension of a
#: CloudWatch event destination (source MESSAGE_TAG) it makes SES publish this set's event counts, which
#: the ``metric_*`` methods read:
#: https://docs.aws.amazon.com/ses/latest/dg/event-publishing-add-event-destination-cloudwatch.html
CONFIGURATION_SET_DIMENSION = "ses:configuration-set"

_NAMESPACE = "AWS/SES"
_EVENT_COUNT_PERIOD = Duration.minutes(5)
_REPUTATION_PERIOD = Duration.hours(1)


def _check_events(problems: Problems, label: str, events: Sequence[ses.EmailSendingEvent]) -> None:
    # aws-cdk-lib passes an empty list on (CloudFormation then rejects it) and does not look for duplicates.
    problems.check(len(events) > 0, f"{label}: choose at least one event type")
    problems.check(len(set(events)) == len(events), f"{label}: contains duplicates")


class EmailConfigurationSet(ses.ConfigurationSet):
    """An SES configuration set that is safe by default.

    - TLS required for delivery (``REQUIRE``).
    - Reputation metrics explicitly on (aws-cdk-lib documents them as on by default, but CloudFormation
      leaves them off unless the property is set).
    - Account suppression list used for BOUNCE and COMPLAINT.
    - Event destination to an SNS topic for ``event_types``; SES may publish to the topic (and use its
      KMS key) for this configuration set only.
    - Optional CloudWatch dimension destination; ``metric_*`` read the counts it publishes.

    It *is* an ``ses.ConfigurationSet`` (an ``ses.IConfigurationSet``), so aws-cdk-lib APIs take it as is:
    ``ses.EmailIdentity(..., configuration_set=this)``, ``ses.ConfigurationSetEventDestination(...,
    configuration_set=this)``, ``this.add_event_destination(...)``. An existing configuration set:
    ``ses.ConfigurationSet.from_configuration_set_name(...)``, accepted wherever this library takes a
    configuration set.

    Construct ids (a public contract): the configuration set is ``id`` itself (its
    ``AWS::SES::ConfigurationSet`` is the child ``Resource``, as for any ``ses.ConfigurationSet``); its
    event destinations are the children ``TopicDestination`` and ``CloudWatchDestination``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        configuration_set_name: str | None = None,
        topic: sns.ITopic | None = None,
        event_types: Sequence[ses.EmailSendingEvent] = DEFAULT_EVENT_TYPES,
        tls_required: bool = True,
        reputation_metrics: bool = True,
        suppression_reasons: ses.SuppressionReasons | None = ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
        cloudwatch_dimensions: Sequence[ses.CloudWatchDimension] | None = None,
        cloudwatch_event_types: Sequence[ses.EmailSendingEvent] | None = None,
        sending_enabled: bool = True,
        dedicated_ip_pool: ses.IDedicatedIpPool | None = None,
        vdm_engagement_metrics: bool | None = None,
        vdm_optimized_shared_delivery: bool | None = None,
        custom_tracking_redirect_domain: str | None = None,
        custom_tracking_https_policy: ses.HttpsPolicy | None = None,
        max_delivery_duration: Duration | None = None,
    ) -> None:
        """
        :param configuration_set_name: Default: - a generated name. (Checked by aws-cdk-lib's template
            validation against ``^[a-zA-Z0-9_-]{1,64}$``.)
        :param topic: Where SES publishes ``event_types`` (any standard ``sns.ITopic``; see
            :meth:`add_topic_destination`). Default: - no SNS destination (add one later with
            :meth:`add_topic_destination`).
        :param event_types: Default: bounce, complaint, delivery, reject, rendering failure, delivery delay.
        :param tls_required: Refuse delivery over plaintext SMTP. Default: True.
        :param reputation_metrics: Publish Reputation.BounceRate/ComplaintRate for this set. Default: True.
        :param suppression_reasons: Account-level suppression reasons applied. Default: BOUNCE and COMPLAINT.
        :param cloudwatch_dimensions: Publish event counts to CloudWatch with these dimensions; include
            ``ses.CloudWatchDimension(name=CONFIGURATION_SET_DIMENSION, source=MESSAGE_TAG, ...)`` for the
            ``metric_*`` event counts. Default: - no CloudWatch destination.
        :param cloudwatch_event_types: Events for the CloudWatch destination. Default: - ``event_types``.
        :param sending_enabled: Default: True.
        :param dedicated_ip_pool: Send through these dedicated IPs (``ses.DedicatedIpPool``, scaling mode
            ``STANDARD`` - IPs you lease and warm up - or ``MANAGED`` - SES leases, warms and scales them).
            Dedicated IPs are billed per IP per month (managed: per pool, plus per message). Default: - the
            shared pool of the account's region.
        :param vdm_engagement_metrics: Virtual Deliverability Manager engagement tracking (opens and clicks
            in the VDM dashboard) for this set; overrides the account-level VDM setting, which must be on
            (``ses.VdmAttributes``; VDM is billed per message). Default: - the account's VDM setting.
        :param vdm_optimized_shared_delivery: VDM's optimized delivery over the shared pool (SES picks IPs
            by the recipient's mailbox provider). Default: - the account's VDM setting.
        :param custom_tracking_redirect_domain: A subdomain of a verified identity for open and click
            tracking links (its CNAME must point to the region's SES tracking domain; for HTTPS, to a
            CloudFront distribution with your certificate). Default: - SES's own tracking domain.
        :param custom_tracking_https_policy: ``REQUIRE`` (HTTPS for opens and clicks), ``REQUIRE_OPEN_ONLY``
            or ``OPTIONAL``. Only with ``custom_tracking_redirect_domain``. Default: - ``REQUIRE`` when a
            tracking domain is given (an HTTP link leaks the recipient's click to the network).
        :param max_delivery_duration: How long SES keeps retrying a message before it counts as a bounce
            (5 minutes to 14 hours). Default: - 14 hours (SES's default).
        """
        # Checked before the configuration set exists, so errors name the path it would have.
        problems = Problems(scope, id)
        _check_events(problems, "event_types", event_types)
        if cloudwatch_event_types is not None:
            _check_events(problems, "cloudwatch_event_types", cloudwatch_event_types)
        problems.check(
            cloudwatch_dimensions is None or len(cloudwatch_dimensions) > 0,
            "cloudwatch_dimensions: pass at least one dimension or None",
        )
        if topic is not None:
            problems.check(not topic.fifo, "topic: SES cannot publish to a FIFO topic")
        if custom_tracking_redirect_domain is not None and not is_token(custom_tracking_redirect_domain):
            problems.check(
                is_valid_domain(custom_tracking_redirect_domain),
                f"custom_tracking_redirect_domain {custom_tracking_redirect_domain!r} is not a domain name "
                "(e.g. 'track.shop.example.com')",
            )
        problems.check(
            custom_tracking_https_policy is None or custom_tracking_redirect_domain is not None,
            "custom_tracking_https_policy is given without custom_tracking_redirect_domain",
        )
        problems.raise_if_any()
        vdm = (
            ses.VdmOptions(
                engagement_metrics=vdm_engagement_metrics,
                optimized_shared_delivery=vdm_optimized_shared_delivery,
            )
            if vdm_engagement_metrics is not None or vdm_optimized_shared_delivery is not None
            else None
        )
        https_policy = custom_tracking_https_policy or (
            ses.HttpsPolicy.REQUIRE if custom_tracking_redirect_domain is not None else None
        )

        super().__init__(
            scope,
            id,
            configuration_set_name=configuration_set_name,
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE
            if tls_required
            else ses.ConfigurationSetTlsPolicy.OPTIONAL,
            reputation_metrics=reputation_metrics,
            suppression_reasons=suppression_reasons,
            sending_enabled=sending_enabled,
            dedicated_ip_pool=dedicated_ip_pool,
            vdm_options=vdm,
            custom_tracking_redirect_domain=custom_tracking_redirect_domain,
            custom_tracking_https_policy=https_policy,
            max_delivery_duration=max_delivery_duration,
        )
        # One token for the ARN, so the topic policies name it once however often it is used.
        self._configuration_set_arn = Stack.of(self).format_arn(
            service="ses", resource="configuration-set", resource_name=self.configuration_set_name
        )
        self.topic_destination: ses.ConfigurationSetEventDestination | None = None
        self.cloudwatch_destination: ses.ConfigurationSetEventDestination | None = None
        if topic is not None:
            self.topic_destination = self.add_topic_destination(
                "TopicDestination", topic, event_types=event_types
            )
        if cloudwatch_dimensions:
            self.cloudwatch_destination = self.add_event_destination(
                "CloudWatchDestination",
                destination=ses.EventDestination.cloud_watch_dimensions(list(cloudwatch_dimensions)),
                events=list(cloudwatch_event_types or event_types),
            )

    @property
    def configuration_set(self) -> EmailConfigurationSet:
        """This configuration set (kept while callers move from ``.configuration_set`` to the construct)."""
        return self

    @property
    def configuration_set_arn(self) -> str:
        """``arn:<partition>:ses:<region>:<account>:configuration-set/<name>`` (the ``aws:SourceArn`` of
        the events SES publishes for this set, and a resource of ``ses:SendEmail``)."""
        return self._configuration_set_arn

    def add_topic_destination(
        self,
        id: str,
        topic: sns.ITopic,
        *,
        event_types: Sequence[ses.EmailSendingEvent] = DEFAULT_EVENT_TYPES,
    ) -> ses.ConfigurationSetEventDestination:
        """Publish ``event_types`` to ``topic`` (a child ``id`` of this configuration set).

        aws-cdk-lib's event destination adds the topic-policy statement letting ``ses.amazonaws.com``
        publish for this configuration set. An encrypted topic also needs SES in its *key* policy:

        - a :class:`NotificationTopic`: the ``ses.amazonaws.com`` statements of its key policy and topic
          policy are scoped to this configuration set (``aws:SourceArn`` = :attr:`configuration_set_arn`):
          added if SES was not allowed yet, narrowed from the account-wide default
          ``...:ses:<region>:<account>:*`` if it was, and extended if the topic already serves another
          configuration set;
        - any other topic with a ``master_key`` created in this app: a key-policy statement allowing
          ``kms:GenerateDataKey*`` and ``kms:Decrypt`` to ``ses.amazonaws.com`` with ``aws:SourceAccount``
          and ``aws:SourceArn`` (this configuration set) conditions;
        - an imported key (or an imported topic, whose key CDK does not know): allow SES in its key policy
          yourself (a synth warning says so when the key is known).
        """
        problems = Problems(self)
        _check_events(problems, "event_types", event_types)
        problems.check(not topic.fifo, "topic: SES cannot publish to a FIFO topic")
        problems.raise_if_any()
        if isinstance(topic, NotificationTopic):
            # Replaces the topic's account-wide default for SES (if it has one) by this configuration set.
            topic.allow_service_publish(SES_SERVICE_PRINCIPAL, source_arns=[self.configuration_set_arn])
        elif topic.master_key is not None:
            self._allow_ses_to_use_key(id, topic.master_key)
        return self.add_event_destination(
            id, destination=ses.EventDestination.sns_topic(topic), events=list(event_types)
        )

    def _allow_ses_to_use_key(self, id: str, key: kms.IKey) -> None:
        result = key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(SES_SERVICE_PRINCIPAL)],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions=source_conditions(self, [self.configuration_set_arn]),
            )
        )
        if not result.statement_added:
            Annotations.of(self).add_warning_v2(
                "notification-constructs:ImportedTopicKey",
                f"{id}: the topic's KMS key is imported, so its key policy cannot be changed here; allow "
                f"{SES_SERVICE_PRINCIPAL} kms:GenerateDataKey* and kms:Decrypt on it (aws:SourceArn = this "
                "configuration set), or SES cannot publish to the topic.",
            )

    # --- metrics ----------------------------------------------------------------------------------------

    def metric(
        self,
        metric_name: str,
        *,
        period: Duration = _EVENT_COUNT_PERIOD,
        statistic: str = "Sum",
        label: str | None = None,
    ) -> cloudwatch.Metric:
        """An ``AWS/SES`` event-count metric of this configuration set: dimension
        ``ses:configuration-set`` = :attr:`configuration_set_name`.

        SES publishes it only through a CloudWatch event destination of this configuration set that has
        the ``ses:configuration-set`` message-tag dimension (see :data:`CONFIGURATION_SET_DIMENSION` and
        ``cloudwatch_dimensions``) and that includes the metric's event type; otherwise it has no data.
        Metric names: https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-cloudwatch.html

        :param period: Default: 5 minutes.
        :param statistic: Default: Sum (a count per period). Anything else: ``metric.with_(...)``.
        """
        return cloudwatch.Metric(
            namespace=_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={CONFIGURATION_SET_DIMENSION: self.configuration_set_name},
            period=period,
            statistic=statistic,
            label=label,
        )

    def metric_send(
        self, *, period: Duration = _EVENT_COUNT_PERIOD, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Messages SES accepted for delivery (``Send``; needs the SEND event type). See :meth:`metric`."""
        return self.metric("Send", period=period, statistic=statistic, label=label)

    def metric_delivery(
        self, *, period: Duration = _EVENT_COUNT_PERIOD, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Messages the recipient's mail server accepted (``Delivery``). See :meth:`metric`."""
        return self.metric("Delivery", period=period, statistic=statistic, label=label)

    def metric_bounce(
        self, *, period: Duration = _EVENT_COUNT_PERIOD, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Hard bounces (``Bounce``). See :meth:`metric`."""
        return self.metric("Bounce", period=period, statistic=statistic, label=label)

    def metric_complaint(
        self, *, period: Duration = _EVENT_COUNT_PERIOD, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Messages recipients marked as spam (``Complaint``). See :meth:`metric`."""
        return self.metric("Complaint", period=period, statistic=statistic, label=label)

    def metric_reject(
        self, *, period: Duration = _EVENT_COUNT_PERIOD, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Messages SES rejected (virus) after accepting the call (``Reject``). See :meth:`metric`."""
        return self.metric("Reject", period=period, statistic=statistic, label=label)

    def metric_rendering_failure(
        self, *, period: Duration = _EVENT_COUNT_PERIOD, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        """Templated messages not sent for a rendering problem (``RenderingFailure``). See :meth:`metric`."""
        return self.metric("RenderingFailure", period=period, statistic=statistic, label=label)

    def metric_reputation_bounce_rate(
        self, *, period: Duration = _REPUTATION_PERIOD, statistic: str = "Maximum", label: str | None = None
    ) -> cloudwatch.Metric:
        """``AWS/SES`` ``Reputation.BounceRate``: the account's bounce rate (0-1), which SES reviews
        accounts by (5%). Account-level: SES publishes it without dimensions, whichever configuration set
        the mail was sent with.

        :param period: Default: 1 hour.
        :param statistic: Default: Maximum.
        """
        return self._reputation_metric("Reputation.BounceRate", period, statistic, label)

    def metric_reputation_complaint_rate(
        self, *, period: Duration = _REPUTATION_PERIOD, statistic: str = "Maximum", label: str | None = None
    ) -> cloudwatch.Metric:
        """``AWS/SES`` ``Reputation.ComplaintRate``: the account's complaint rate (0-1), which SES reviews
        accounts by (0.1%). Account-level: SES publishes it without dimensions, whichever configuration set
        the mail was sent with.

        :param period: Default: 1 hour.
        :param statistic: Default: Maximum.
        """
        return self._reputation_metric("Reputation.ComplaintRate", period, statistic, label)

    @staticmethod
    def _reputation_metric(
        metric_name: str, period: Duration, statistic: str, label: str | None
    ) -> cloudwatch.Metric:
        # SES publishes the reputation rates for the whole account, without dimensions ("Amazon SES
        # automatically publishes two reputation-related metrics to Amazon CloudWatch", the rates of the
        # messages "sent from your account"), and they are what its review and automatic pausing act on:
        # https://docs.aws.amazon.com/ses/latest/dg/reputationdashboard-cloudwatch-alarm.html
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/ses-metricscollected.html
        return cloudwatch.Metric(
            namespace=_NAMESPACE, metric_name=metric_name, period=period, statistic=statistic, label=label
        )
