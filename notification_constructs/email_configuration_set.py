"""EmailConfigurationSet: an SES configuration set with secure defaults and event destinations."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct

from ._defaults import SES_SERVICE_PRINCIPAL
from ._validation import Problems, is_token
from .notification_topic import NotificationTopic

__all__ = ["DEFAULT_EVENT_TYPES", "EmailConfigurationSet"]

#: Events that need action or show whether mail reaches people. Send/Open/Click/Subscription are opt-in.
DEFAULT_EVENT_TYPES: tuple[ses.EmailSendingEvent, ...] = (
    ses.EmailSendingEvent.BOUNCE,
    ses.EmailSendingEvent.COMPLAINT,
    ses.EmailSendingEvent.DELIVERY,
    ses.EmailSendingEvent.REJECT,
    ses.EmailSendingEvent.RENDERING_FAILURE,
    ses.EmailSendingEvent.DELIVERY_DELAY,
)
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class EmailConfigurationSet(Construct):
    """An SES configuration set that is safe by default.

    - TLS required for delivery (``REQUIRE``).
    - Reputation metrics explicitly on (aws-cdk-lib documents them as on by default, but CloudFormation
      leaves them off unless the property is set).
    - Account suppression list used for BOUNCE and COMPLAINT.
    - Event destination to a :class:`NotificationTopic` for ``event_types``; the topic's key and topic
      policies let SES publish for this configuration set only.
    - Optional CloudWatch dimension destination.

    Child ids (a public contract): ``ConfigurationSet``, ``TopicDestination``, ``CloudWatchDestination``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        configuration_set_name: str | None = None,
        topic: NotificationTopic | None = None,
        event_types: Sequence[ses.EmailSendingEvent] = DEFAULT_EVENT_TYPES,
        tls_required: bool = True,
        reputation_metrics: bool = True,
        suppression_reasons: ses.SuppressionReasons | None = ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
        cloudwatch_dimensions: Sequence[ses.CloudWatchDimension] | None = None,
        cloudwatch_event_types: Sequence[ses.EmailSendingEvent] | None = None,
        sending_enabled: bool = True,
    ) -> None:
        """
        :param configuration_set_name: Default: - a generated name.
        :param topic: Where SES publishes ``event_types``. Default: - no SNS destination (add one later with
            :meth:`add_topic_destination`).
        :param event_types: Default: bounce, complaint, delivery, reject, rendering failure, delivery delay.
        :param tls_required: Refuse delivery over plaintext SMTP. Default: True.
        :param reputation_metrics: Publish Reputation.BounceRate/ComplaintRate for this set. Default: True.
        :param suppression_reasons: Account-level suppression reasons applied. Default: BOUNCE and COMPLAINT.
        :param cloudwatch_dimensions: Publish event counts to CloudWatch with these dimensions.
            Default: - no CloudWatch destination.
        :param cloudwatch_event_types: Events for the CloudWatch destination. Default: - ``event_types``.
        :param sending_enabled: Default: True.
        """
        super().__init__(scope, id)
        problems = Problems(self)
        if configuration_set_name is not None and not is_token(configuration_set_name):
            problems.check(
                bool(_NAME_RE.match(configuration_set_name)),
                f"configuration_set_name {configuration_set_name!r}: 1-64 characters a-z, A-Z, 0-9, '_', '-'",
            )
        self._check_events(problems, "event_types", event_types)
        if cloudwatch_event_types is not None:
            self._check_events(problems, "cloudwatch_event_types", cloudwatch_event_types)
        problems.check(
            cloudwatch_dimensions is None or len(cloudwatch_dimensions) > 0,
            "cloudwatch_dimensions: pass at least one dimension or None",
        )
        if topic is not None:
            problems.check(not topic.topic.fifo, "topic: SES cannot publish to a FIFO topic")
        problems.raise_if_any()

        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name=configuration_set_name,
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE
            if tls_required
            else ses.ConfigurationSetTlsPolicy.OPTIONAL,
            reputation_metrics=reputation_metrics,
            suppression_reasons=suppression_reasons,
            sending_enabled=sending_enabled,
        )
        self.configuration_set_name = self.configuration_set.configuration_set_name
        self.configuration_set_arn = Stack.of(self).format_arn(
            service="ses", resource="configuration-set", resource_name=self.configuration_set_name
        )
        self.topic_destination: ses.ConfigurationSetEventDestination | None = None
        self.cloudwatch_destination: ses.ConfigurationSetEventDestination | None = None
        if topic is not None:
            self.topic_destination = self.add_topic_destination(
                "TopicDestination", topic, event_types=event_types
            )
        if cloudwatch_dimensions:
            self.cloudwatch_destination = self.configuration_set.add_event_destination(
                "CloudWatchDestination",
                destination=ses.EventDestination.cloud_watch_dimensions(list(cloudwatch_dimensions)),
                events=list(cloudwatch_event_types or event_types),
            )

    @staticmethod
    def _check_events(problems: Problems, label: str, events: Sequence[ses.EmailSendingEvent]) -> None:
        problems.check(len(events) > 0, f"{label}: choose at least one event type")
        problems.check(len(set(events)) == len(events), f"{label}: contains duplicates")

    def add_topic_destination(
        self,
        id: str,
        topic: NotificationTopic | sns.ITopic,
        *,
        event_types: Sequence[ses.EmailSendingEvent] = DEFAULT_EVENT_TYPES,
    ) -> ses.ConfigurationSetEventDestination:
        """Publish ``event_types`` to ``topic``.

        With a :class:`NotificationTopic`, the ``ses.amazonaws.com`` statements of its key policy and topic
        policy are scoped to this configuration set (``aws:SourceArn`` =
        ``arn:<partition>:ses:<region>:<account>:configuration-set/<name>``): added if SES was not
        allowed yet, narrowed from the account-wide default ``...:ses:<region>:<account>:*`` if it was, and
        extended if the topic already serves another configuration set. For a plain encrypted
        ``sns.ITopic`` you must allow SES in its key policy yourself.
        """
        sns_topic = topic.topic if isinstance(topic, NotificationTopic) else topic
        problems = Problems(self)
        self._check_events(problems, "event_types", event_types)
        problems.check(not sns_topic.fifo, "topic: SES cannot publish to a FIFO topic")
        problems.raise_if_any()
        if isinstance(topic, NotificationTopic):
            # Replaces the topic's account-wide default for SES (if it has one) by this configuration set.
            topic.allow_service_publish(SES_SERVICE_PRINCIPAL, source_arns=[self.configuration_set_arn])
        return self.configuration_set.add_event_destination(
            id, destination=ses.EventDestination.sns_topic(sns_topic), events=list(event_types)
        )
