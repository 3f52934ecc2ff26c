"""FanOutTopic: a NotificationTopic that delivers to people and systems - SMS, e-mail, HTTPS, SQS, Lambda and
mobile push - with a dead-letter queue per subscription, delivery-status logs and failure alarms."""

from __future__ import annotations

import json as jsonlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lambda_handlers import contracts

from ._defaults import DEFAULT_DLQ_RETENTION, allow_sns_to_use_key, at_or_above_alarm, new_cmk
from ._validation import (
    MAX_FILTER_POLICY_COMBINATIONS,
    MAX_FILTER_POLICY_KEYS,
    Problems,
    acknowledge,
    filter_policy_stats,
    is_token,
    is_valid_email,
)
from .notification_topic import NotificationTopic

__all__ = ["DEFAULT_HTTPS_DELIVERY_POLICY", "FanOutTopic", "delivery_policy_problems"]

#: What the HTTPS subscriptions get unless told otherwise: 30 retries over about 35-55 minutes (1 at once,
#: 2 at 5 s, 10 backing off exponentially to 120 s, 17 at 120 s; within SNS's 3,600 s cap on the total retry
#: time), and at most 10 deliveries per second so a burst cannot flood the receiver. SNS's own default is 3
#: retries 20 s apart, which a receiver's one-minute restart already outlasts.
DEFAULT_HTTPS_DELIVERY_POLICY: Mapping[str, Any] = {
    "healthyRetryPolicy": {
        "minDelayTarget": 5,
        "maxDelayTarget": 120,
        "numRetries": 30,
        "numNoDelayRetries": 1,
        "numMinDelayRetries": 2,
        "numMaxDelayRetries": 17,
        "backoffFunction": "exponential",
    },
    "throttlePolicy": {"maxReceivesPerSecond": 10},
}

# HTTP/S delivery policy limits (https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html,
# "Creating an HTTP/S delivery policy"): delays 1-3,600 s, at most 100 retries, the whole retry schedule at
# most 3,600 s (a hard limit), at least one delivery per second; the same checks as aws-cdk-lib's
# sns.Subscription for its DeliveryPolicy struct.
_MAX_DELAY_SECONDS = 3600
_MAX_RETRIES = 100
_MAX_TOTAL_RETRY_SECONDS = 3600
_BACKOFF_FUNCTIONS = ("linear", "arithmetic", "geometric", "exponential")
_RETRY_KEYS = (
    "minDelayTarget",
    "maxDelayTarget",
    "numRetries",
    "numNoDelayRetries",
    "numMinDelayRetries",
    "numMaxDelayRetries",
    "backoffFunction",
)
_POLICY_KEYS = ("healthyRetryPolicy", "throttlePolicy", "requestPolicy")
# A platform endpoint: arn:<partition>:sns:<region>:<account>:endpoint/<PLATFORM>/<application>/<id>.
_ENDPOINT_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:endpoint/([A-Z_]+)/([^/]+)/[^/]+$")
_RESERVED_IDS = ("Resource", "Policy", "DeliveryStatusRole", "DeadLetterQueueKey", "NotificationsFailedAlarm")


def nag_flat(scope: Construct, value: str) -> str:
    """``value`` as cdk-nag names it in a finding (its ``flattenCfnReference``: ``Ref`` -> ``<X>``,
    ``Fn::GetAtt`` -> ``<X.Y>``, ``Fn::Join`` joined), so an acknowledgment can name that exact finding."""

    def visit(node: Any) -> str:
        if isinstance(node, str):
            return node.replace("${", "<").replace("}", ">")
        if isinstance(node, Mapping):
            if "Fn::Join" in node:
                delimiter, items = node["Fn::Join"]
                return str(delimiter).join(visit(item) for item in items)
            if "Fn::GetAtt" in node:
                resource, attribute = node["Fn::GetAtt"]
                return f"<{visit(resource)}.{visit(attribute)}>"
            if "Ref" in node:
                return f"<{visit(node['Ref'])}>"
        return jsonlib.dumps(node, separators=(",", ":"))

    return visit(Stack.of(scope).resolve(value))


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def delivery_policy_problems(policy: Mapping[str, Any]) -> list[str]:
    """Every problem of an HTTP/S delivery policy document (the JSON SNS takes); values that are tokens are
    not checked (nor is the total retry time when any value it depends on is one)."""
    problems: list[str] = []
    unknown = sorted(set(policy) - set(_POLICY_KEYS))
    if unknown:
        problems.append(f"unknown key(s) {unknown}; a subscription takes {', '.join(_POLICY_KEYS)}")
    retry = policy.get("healthyRetryPolicy")
    if retry is not None and not is_token(retry):
        problems.extend(_retry_problems(retry))
    throttle = policy.get("throttlePolicy")
    if throttle is not None and not is_token(throttle):
        if not isinstance(throttle, Mapping) or set(throttle) - {"maxReceivesPerSecond"}:
            problems.append("throttlePolicy: expected {'maxReceivesPerSecond': <int >= 1>}")
        else:
            rate = throttle.get("maxReceivesPerSecond")
            if rate is not None and not is_token(rate) and not (_whole(rate) and rate >= 1):
                problems.append(f"throttlePolicy.maxReceivesPerSecond {rate!r}: a whole number >= 1")
    request = policy.get("requestPolicy")
    if request is not None and not is_token(request):
        content_type = request.get("headerContentType") if isinstance(request, Mapping) else None
        if not isinstance(request, Mapping) or set(request) - {"headerContentType"}:
            problems.append("requestPolicy: expected {'headerContentType': '<media type>'}")
        elif not is_token(content_type) and not (isinstance(content_type, str) and "/" in content_type):
            problems.append(
                f"requestPolicy.headerContentType {content_type!r}: a media type such as 'application/json'"
            )
    return problems


def _retry_problems(retry: Any) -> list[str]:
    if not isinstance(retry, Mapping):
        return ["healthyRetryPolicy: expected an object"]
    problems: list[str] = []
    unknown = sorted(set(retry) - set(_RETRY_KEYS))
    if unknown:
        problems.append(f"healthyRetryPolicy: unknown key(s) {unknown}")
    # SNS rejects a healthyRetryPolicy without these three (aws-cdk-lib fills them in for the same reason).
    missing = [k for k in ("minDelayTarget", "maxDelayTarget", "numRetries") if k not in retry]
    if missing:
        problems.append(f"healthyRetryPolicy: {', '.join(missing)} required")
    known: dict[str, int] = {}
    for key in _RETRY_KEYS[:-1]:
        value = retry.get(key)
        if value is None or is_token(value):
            continue
        if not _whole(value) or value < 0:
            problems.append(f"healthyRetryPolicy.{key} {value!r}: a whole number >= 0")
            continue
        known[key] = value
    low, high = known.get("minDelayTarget"), known.get("maxDelayTarget")
    for key, value in (("minDelayTarget", low), ("maxDelayTarget", high)):
        if value is not None and not 1 <= value <= _MAX_DELAY_SECONDS:
            problems.append(f"healthyRetryPolicy.{key} {value}: 1-{_MAX_DELAY_SECONDS} seconds")
    if low is not None and high is not None and low > high:
        problems.append(f"healthyRetryPolicy: minDelayTarget ({low}) > maxDelayTarget ({high})")
    retries = known.get("numRetries")
    if retries is not None and retries > _MAX_RETRIES:
        problems.append(f"healthyRetryPolicy.numRetries {retries}: at most {_MAX_RETRIES}")
    phases = ("numNoDelayRetries", "numMinDelayRetries", "numMaxDelayRetries")
    fixed = sum(known.get(k, 0) for k in phases)
    if retries is not None and fixed > retries:
        problems.append(
            f"healthyRetryPolicy: numNoDelayRetries + numMinDelayRetries + numMaxDelayRetries ({fixed}) > "
            f"numRetries ({retries})"
        )
    backoff = retry.get("backoffFunction")
    if not (backoff is None or is_token(backoff) or str(backoff).lower() in _BACKOFF_FUNCTIONS):
        problems.append(
            f"healthyRetryPolicy.backoffFunction {backoff!r}: one of {', '.join(_BACKOFF_FUNCTIONS)}"
        )
    all_known = all(k in known for k in ("minDelayTarget", "maxDelayTarget", "numRetries")) and all(
        retry.get(k) is None or k in known for k in phases
    )
    if all_known and low is not None and high is not None and retries is not None and fixed <= retries:
        # The shortest the schedule can be: backoff retries at no less than minDelayTarget each.
        backoff_retries = retries - fixed
        shortest = known.get("numMinDelayRetries", 0) * low + backoff_retries * low
        shortest += known.get("numMaxDelayRetries", 0) * high
        if shortest > _MAX_TOTAL_RETRY_SECONDS:
            problems.append(
                f"healthyRetryPolicy: the retries take at least {shortest} s; SNS allows at most "
                f"{_MAX_TOTAL_RETRY_SECONDS} s in all"
            )
    return problems


class FanOutTopic(NotificationTopic):
    """A :class:`NotificationTopic` (an ``sns.Topic`` on its own customer-managed key, TLS only) for fan-out
    to people and systems, with one ``add_*_subscription`` method per kind of endpoint.

    Every subscription gets

    - a filter policy checked at synth against the SNS limits (5 keys, 150 value combinations), e.g.
      ``{"channel": sns.SubscriptionFilter.string_filter(allowlist=["sms"]), "severity": ...}``,
    - a dead-letter queue of its own (``subscription_dead_letter_queues[id]``): SNS moves a message there
      when it gives up (client errors at once; server errors after the protocol's retries). The redrive
      policy is a subscription attribute of every protocol (SMS, e-mail, HTTPS, SQS, Lambda, application;
      https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html). The DLQs are encrypted with
      one customer-managed key (``DeadLetterQueueKey``) whose key policy lets SNS use it for this topic only
      (an encrypted DLQ needs exactly that, same page); each queue's policy lets SNS send from this topic
      only (``aws:SourceArn``). Each DLQ has a depth alarm (>= 1 message).

    Delivery-status logging (``delivery_status_logging``): SNS logs deliveries to CloudWatch Logs per
    topic and protocol for HTTP/S, SQS, Lambda, Firehose and platform applications only
    (https://docs.aws.amazon.com/sns/latest/dg/sns-topic-attributes.html; aws-cdk-lib's
    ``sns.LoggingProtocol``). The first subscription of such a protocol adds its ``LoggingConfig``
    (failures always, successes at ``success_sample_rate`` %), written with ``DeliveryStatusRole``, which
    may write only to this topic's log groups ``sns/<region>/<account>/<topic name>`` and ``.../Failure``.
    SMS delivery status is an account setting (``SetSMSAttributes`` ``DeliveryStatusIAMRole`` /
    ``DeliveryStatusSuccessSamplingRate``): see :class:`SmsSettings`. E-mail has none.

    Alarms (``alarms``): ``NotificationsFailedAlarm`` on the topic's ``NumberOfNotificationsFailed``
    (``AWS/SNS``, dimension ``TopicName``: every protocol, SMS and HTTPS included) >= 1 in 5 minutes; one
    ``<id>DlqDepthAlarm`` per subscription; per push platform application named by a push subscription's
    endpoint ARN, ``<id>PushFailedAlarm`` on ``NumberOfNotificationsFailed`` by ``Application`` and
    ``Platform``. The account's SMS success rate and spend alarms belong to :class:`SmsSettings`.

    Construct ids (a public contract): as for :class:`NotificationTopic`, plus these children of the topic:
    ``NotificationsFailedAlarm``, ``DeliveryStatusRole``, ``DeadLetterQueueKey`` and, per subscription
    ``id``: ``id`` (the ``sns.Subscription``), ``{id}DeadLetterQueue``, ``{id}DlqDepthAlarm`` (and
    ``{id}PushFailedAlarm``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic_name: str | None = None,
        display_name: str | None = None,
        encryption_key: kms.IKey | None = None,
        publishing_services: Sequence[str] = (),
        delivery_status_logging: bool = True,
        success_sample_rate: int = 100,
        alarm_topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """
        :param topic_name: Default: - a generated name.
        :param display_name: The sender name of SMS and the "From" of e-mail subscriptions (at most 100
            characters). Default: - none.
        :param encryption_key: Default: - a new customer-managed key (``{id}Key`` in ``scope``).
        :param publishing_services: Service principals that may publish (see :class:`NotificationTopic`).
            Default: - none: applications publish, with ``grant_publish``.
        :param delivery_status_logging: Log deliveries of the protocols SNS logs for topics (HTTP/S, SQS,
            Lambda, application). Default: True.
        :param success_sample_rate: Percentage (0-100) of successful deliveries logged; failures are always
            logged. Default: 100.
        :param alarm_topic: SNS topic notified when an alarm fires. Default: - alarms without actions.
        :param removal_policy: Of the topic's key and of the dead-letter queues' key. Default: RETAIN.
        :raises NotificationConfigError: listing every problem.
        """
        problems = Problems(scope, id)
        if not is_token(success_sample_rate):
            problems.check(
                _whole(success_sample_rate) and 0 <= success_sample_rate <= 100,
                f"success_sample_rate {success_sample_rate!r}: a whole percentage 0-100",
            )
        problems.raise_if_any()
        super().__init__(
            scope,
            id,
            topic_name=topic_name,
            display_name=display_name,
            encryption_key=encryption_key,
            publishing_services=publishing_services,
            removal_policy=removal_policy,
        )
        self._alarm_topic = alarm_topic
        self._removal_policy = removal_policy
        self._delivery_status_logging = delivery_status_logging
        self._success_sample_rate = success_sample_rate
        self._logged_protocols: set[sns.LoggingProtocol] = set()
        self._dead_letter_key: kms.Key | None = None
        self._push_alarms: dict[tuple[str, str], cloudwatch.Alarm] = {}
        #: The role SNS writes delivery-status logs with (created with the first logged subscription).
        self.delivery_status_role: iam.Role | None = None
        #: Each subscription's dead-letter queue, by subscription id.
        self.subscription_dead_letter_queues: dict[str, sqs.IQueue] = {}
        #: The subscriptions, by id.
        self.fan_out_subscriptions: dict[str, sns.Subscription] = {}
        self.notifications_failed_alarm = at_or_above_alarm(
            self,
            "NotificationsFailedAlarm",
            description=f"SNS failed to deliver notifications of {self.node.path} (any protocol): see the "
            "subscriptions' dead-letter queues and the delivery-status logs.",
            metric=self.metric_notifications_failed(),
            threshold=1,
            alarm_topic=alarm_topic,
        )
        self.alarms: list[cloudwatch.Alarm] = [self.notifications_failed_alarm]

    # --- subscriptions --------------------------------------------------------------------------------
    def add_sms_subscription(
        self, id: str, phone_number: str, *, filter_policy: Mapping[str, sns.SubscriptionFilter] | None = None
    ) -> sns.Subscription:
        """Text messages to ``phone_number`` (E.164: ``+``, country code, number; at most 15 digits).

        SMS goes only to verified numbers while the account is in the SMS sandbox; the account's spend
        limit, message type and sender id are :class:`SmsSettings`. SNS sends the topic's
        ``display_name`` as the message prefix where the country supports it."""
        problems = Problems(self)
        problems.check(
            is_token(phone_number) or bool(contracts.E164_PATTERN.match(phone_number)),
            f"add_sms_subscription({id!r}): phone_number must be E.164 ('+' then 7-15 digits, no spaces)",
        )
        return self._subscribe(
            id, sns.SubscriptionProtocol.SMS, phone_number, filter_policy=filter_policy, problems=problems
        )

    def add_email_subscription(
        self,
        id: str,
        address: str,
        *,
        json: bool = False,
        filter_policy: Mapping[str, sns.SubscriptionFilter] | None = None,
    ) -> sns.Subscription:
        """E-mail to ``address`` (``json=True``: the JSON notification, protocol ``email-json``). The
        recipient must confirm the subscription from the e-mail SNS sends; until then nothing is delivered."""
        problems = Problems(self)
        problems.check(
            is_valid_email(address), f"add_email_subscription({id!r}): {address!r} is not an e-mail address"
        )
        protocol = sns.SubscriptionProtocol.EMAIL_JSON if json else sns.SubscriptionProtocol.EMAIL
        return self._subscribe(id, protocol, address, filter_policy=filter_policy, problems=problems)

    def add_https_subscription(
        self,
        id: str,
        url: str,
        *,
        filter_policy: Mapping[str, sns.SubscriptionFilter] | None = None,
        raw_message_delivery: bool = False,
        delivery_policy: Mapping[str, Any] | None = None,
    ) -> sns.Subscription:
        """POST notifications to ``url`` (``https://`` only), which must confirm the subscription (the
        ``SubscribeURL`` of the first message).

        :param delivery_policy: The subscription's delivery policy, as SNS takes it
            (``{"healthyRetryPolicy": {...}, "throttlePolicy": {"maxReceivesPerSecond": n},
            "requestPolicy": {"headerContentType": "application/json"}}``), checked against the SNS limits.
            Default: - :data:`DEFAULT_HTTPS_DELIVERY_POLICY` (30 retries with exponential backoff, 10/s).
        """
        problems = Problems(self)
        problems.check(
            is_token(url) or (url.startswith("https://") and len(url) > len("https://") and " " not in url),
            f"add_https_subscription({id!r}): url {url!r} must be an https:// URL",
        )
        policy = dict(DEFAULT_HTTPS_DELIVERY_POLICY if delivery_policy is None else delivery_policy)
        for problem in delivery_policy_problems(policy):
            problems.add(f"add_https_subscription({id!r}): delivery_policy: {problem}")
        subscription = self._subscribe(
            id,
            sns.SubscriptionProtocol.HTTPS,
            url,
            filter_policy=filter_policy,
            raw_message_delivery=raw_message_delivery,
            problems=problems,
            logging=sns.LoggingProtocol.HTTP,
        )
        # The JSON document as given (sns.Subscription's DeliveryPolicy struct would re-shape it).
        cfn = subscription.node.default_child
        if isinstance(cfn, sns.CfnSubscription):
            cfn.delivery_policy = policy
        return subscription

    def add_queue_subscription(
        self,
        id: str,
        queue: sqs.IQueue,
        *,
        filter_policy: Mapping[str, sns.SubscriptionFilter] | None = None,
        raw_message_delivery: bool = False,
    ) -> sns.Subscription:
        """Deliver to ``queue`` (a standard queue: this topic is not FIFO). The queue policy lets SNS send
        from this topic only; for a queue on a KMS key of this app, the key policy lets SNS use it for this
        topic only. An imported queue's policies cannot be changed here: they must allow that already."""
        problems = Problems(self)
        fifo_known = isinstance(queue, sqs.Queue) or not is_token(queue.queue_arn)
        problems.check(
            not (fifo_known and queue.fifo),
            f"add_queue_subscription({id!r}): {queue.node.path} is a FIFO queue; a standard topic delivers "
            "to standard queues only",
        )
        problems.raise_if_any()
        policy = queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": self.topic_arn}},
            )
        )
        if queue.encryption_master_key is not None:
            allow_sns_to_use_key(self, queue.encryption_master_key, self.topic_arn)
        subscription = self._subscribe(
            id,
            sns.SubscriptionProtocol.SQS,
            queue.queue_arn,
            filter_policy=filter_policy,
            raw_message_delivery=raw_message_delivery,
            problems=problems,
            logging=sns.LoggingProtocol.SQS,
        )
        if policy.policy_dependable is not None:
            subscription.node.add_dependency(policy.policy_dependable)
        return subscription

    def add_lambda_subscription(
        self,
        id: str,
        function: lambda_.IFunction,
        *,
        filter_policy: Mapping[str, sns.SubscriptionFilter] | None = None,
    ) -> sns.Subscription:
        """Invoke ``function`` (asynchronously) for each notification; SNS may invoke it only for this
        topic (a resource-based permission with ``SourceArn``)."""
        function.add_permission(
            f"AllowInvoke{self.node.addr}{id}",
            principal=iam.ServicePrincipal("sns.amazonaws.com"),
            source_arn=self.topic_arn,
        )
        return self._subscribe(
            id,
            sns.SubscriptionProtocol.LAMBDA,
            function.function_arn,
            filter_policy=filter_policy,
            problems=Problems(self),
            logging=sns.LoggingProtocol.LAMBDA,
        )

    def add_push_subscription(
        self,
        id: str,
        endpoint_arn: str,
        *,
        filter_policy: Mapping[str, sns.SubscriptionFilter] | None = None,
    ) -> sns.Subscription:
        """Mobile push to a platform endpoint (``arn:<partition>:sns:<region>:<account>:endpoint/<PLATFORM>/
        <application>/<id>``) of a platform application you created (APNs, FCM, ... credentials are yours).
        Adds ``{id}PushFailedAlarm`` on that application's failed notifications (once per application and
        platform) unless the ARN is a token."""
        problems = Problems(self)
        match = None if is_token(endpoint_arn) else _ENDPOINT_ARN.match(endpoint_arn)
        problems.check(
            is_token(endpoint_arn) or match is not None,
            f"add_push_subscription({id!r}): {endpoint_arn!r} is not a platform endpoint ARN "
            "(arn:<partition>:sns:<region>:<account>:endpoint/<PLATFORM>/<application>/<id>)",
        )
        subscription = self._subscribe(
            id,
            sns.SubscriptionProtocol.APPLICATION,
            endpoint_arn,
            filter_policy=filter_policy,
            problems=problems,
            logging=sns.LoggingProtocol.APPLICATION,
        )
        if match is not None and (match[2], match[1]) not in self._push_alarms:
            platform, application = match[1], match[2]
            alarm = at_or_above_alarm(
                self,
                f"{id}PushFailedAlarm",
                description=f"SNS failed to deliver push notifications to {platform} application "
                f"{application} ({self.node.path}): check the platform credentials and endpoints.",
                metric=self.metric_push_notifications_failed(application, platform),
                threshold=1,
                alarm_topic=self._alarm_topic,
            )
            self._push_alarms[(application, platform)] = alarm
            self.alarms.append(alarm)
        return subscription

    # --- metrics --------------------------------------------------------------------------------------
    def metric_notifications_failed(self, **props: Any) -> cloudwatch.Metric:
        """``NumberOfNotificationsFailed`` of this topic (``TopicName``), Sum over 5 minutes unless
        ``props`` (``cloudwatch.MetricOptions`` keywords) say otherwise."""
        return self.metric_number_of_notifications_failed(
            **{"period": Duration.minutes(5), "statistic": "Sum", **props}
        )

    def metric_notifications_delivered(self, **props: Any) -> cloudwatch.Metric:
        """``NumberOfNotificationsDelivered`` of this topic, Sum over 5 minutes unless ``props`` say otherwise."""
        return self.metric_number_of_notifications_delivered(
            **{"period": Duration.minutes(5), "statistic": "Sum", **props}
        )

    def metric_push_notifications_failed(
        self, application: str, platform: str, **props: Any
    ) -> cloudwatch.Metric:
        """``NumberOfNotificationsFailed`` of a platform application (dimensions ``Application`` and
        ``Platform``, e.g. ``GCM``, ``APNS``), Sum over 5 minutes unless ``props`` say otherwise."""
        options: dict[str, Any] = {"period": Duration.minutes(5), "statistic": "Sum", **props}
        return cloudwatch.Metric(
            namespace="AWS/SNS",
            metric_name="NumberOfNotificationsFailed",
            dimensions_map={"Application": application, "Platform": platform},
            **options,
        )

    # --- internals ------------------------------------------------------------------------------------
    def _subscribe(
        self,
        id: str,
        protocol: sns.SubscriptionProtocol,
        endpoint: str,
        *,
        filter_policy: Mapping[str, sns.SubscriptionFilter] | None,
        problems: Problems,
        raw_message_delivery: bool = False,
        logging: sns.LoggingProtocol | None = None,
    ) -> sns.Subscription:
        taken = (
            id in _RESERVED_IDS
            or id in self.fan_out_subscriptions
            or self.node.try_find_child(id) is not None
            or self.node.try_find_child(f"{id}DeadLetterQueue") is not None
        )
        problems.check(not taken, f"subscription id {id!r} is already used in {self.node.path}")
        doc = {k: list(v.conditions) for k, v in (filter_policy or {}).items()}
        keys, combinations = filter_policy_stats(doc)
        problems.check(
            keys <= MAX_FILTER_POLICY_KEYS,
            f"subscription {id!r}: filter_policy has {keys} keys; SNS allows at most {MAX_FILTER_POLICY_KEYS}",
        )
        problems.check(
            combinations <= MAX_FILTER_POLICY_COMBINATIONS,
            f"subscription {id!r}: filter_policy has {combinations} value combinations; SNS allows at most "
            f"{MAX_FILTER_POLICY_COMBINATIONS} (the product of the number of values of each key)",
        )
        problems.raise_if_any()

        dead_letter_queue = sqs.Queue(
            self,
            f"{id}DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self._dead_letter_queue_key(),
            data_key_reuse=Duration.minutes(5),
            enforce_ssl=True,
            retention_period=DEFAULT_DLQ_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(
                dead_letter_queue,
                rule,
                "This queue is the dead-letter queue of an SNS subscription (its RedrivePolicy); messages "
                "end here and are inspected or redriven by an operator.",
            )
        # sns.Subscription adds the DLQ's queue-policy statement for SNS (aws:SourceArn = this topic).
        subscription = sns.Subscription(
            self,
            id,
            topic=self,
            protocol=protocol,
            endpoint=endpoint,
            raw_message_delivery=raw_message_delivery or None,
            filter_policy=dict(filter_policy) if filter_policy else None,
            dead_letter_queue=dead_letter_queue,
        )
        self.fan_out_subscriptions[id] = subscription
        kind = str(protocol.value).lower().replace("_", "-")
        self.subscription_dead_letter_queues[id] = dead_letter_queue
        self.alarms.append(
            at_or_above_alarm(
                self,
                f"{id}DlqDepthAlarm",
                description=f"Notifications of {self.node.path} that SNS could not deliver to subscription "
                f"{id} ({kind}): inspect and redrive its dead-letter queue.",
                metric=dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                threshold=1,
                alarm_topic=self._alarm_topic,
            )
        )
        if logging is not None:
            self._log_deliveries(logging)
        return subscription

    def _dead_letter_queue_key(self) -> kms.Key:
        if self._dead_letter_key is None:
            self._dead_letter_key = new_cmk(
                self,
                "DeadLetterQueueKey",
                description=f"Encrypts the subscription dead-letter queues of {self.node.path}",
                removal_policy=self._removal_policy,
            )
            allow_sns_to_use_key(self, self._dead_letter_key, self.topic_arn)
        return self._dead_letter_key

    def _log_deliveries(self, protocol: sns.LoggingProtocol) -> None:
        if not self._delivery_status_logging or protocol in self._logged_protocols:
            return
        if self.delivery_status_role is None:
            stack = Stack.of(self)
            group = f"sns/{stack.region}/{stack.account}/{self.topic_name}"
            arns = [
                stack.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
                for name in (group, f"{group}:*", f"{group}/Failure", f"{group}/Failure:*")
            ]
            role = iam.Role(
                self,
                "DeliveryStatusRole",
                assumed_by=iam.ServicePrincipal("sns.amazonaws.com"),
                description=f"SNS writes the delivery-status logs of {self.node.path} with this role",
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=[
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:PutMetricFilter",
                        "logs:PutRetentionPolicy",
                    ],
                    resources=arns,
                )
            )
            for arn in arns[1::2]:
                acknowledge(
                    role,
                    f"AwsSolutions-IAM5[Resource::{nag_flat(self, arn)}]",
                    "SNS creates the log streams of this topic's two delivery-status log groups (sns/<region>/"
                    "<account>/<topic name>[/Failure]) with names of its own: ':*' covers only those streams.",
                )
            for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
                acknowledge(
                    role,
                    f"{pack}-IAMNoInlinePolicy",
                    "The role's one policy is the CDK-generated AWS::IAM::Policy of this role, created and "
                    "deleted with it, limited to this topic's delivery-status log groups.",
                )
            self.delivery_status_role = role
        self.add_logging_config(
            protocol=protocol,
            failure_feedback_role=self.delivery_status_role,
            success_feedback_role=self.delivery_status_role,
            success_feedback_sample_rate=self._success_sample_rate,
        )
        self._logged_protocols.add(protocol)
