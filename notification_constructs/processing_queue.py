"""ProcessingQueue: an encrypted SQS queue that always has a dead-letter queue and alarms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ._defaults import (
    DEFAULT_DLQ_RETENTION,
    DEFAULT_MAX_MESSAGE_AGE,
    DEFAULT_MAX_RECEIVE_COUNT,
    DEFAULT_RETENTION,
    DEFAULT_VISIBILITY_TIMEOUT,
    allow_sns_to_use_key,
    at_or_above_alarm,
    new_cmk,
)
from ._validation import (
    MAX_FILTER_POLICY_COMBINATIONS,
    MAX_FILTER_POLICY_KEYS,
    Problems,
    acknowledge,
    filter_policy_stats,
    is_token,
)
from .notification_topic import NotificationTopic

__all__ = ["ProcessingQueue"]

_MAX_QUEUE_NAME = 80


def _seconds(duration: Duration) -> float | None:
    return None if is_token(duration.to_seconds()) else duration.to_seconds()


def _body_policy_json(policy: Mapping[str, sns.FilterOrPolicy]) -> dict[str, Any]:
    """The JSON SNS receives for a message-body filter policy (used to check AWS limits)."""
    out: dict[str, Any] = {}
    for key, value in policy.items():
        if value.type == sns.FilterOrPolicyType.POLICY:
            out[key] = _body_policy_json(value.policy_doc)  # type: ignore[attr-defined]
        else:
            out[key] = list(value.filter_doc.conditions)  # type: ignore[attr-defined]
    return out


class ProcessingQueue(Construct):
    """An SQS queue for a consumer, with a dead-letter queue (always), encryption, TLS-only access and alarms.

    - Queue and DLQ are encrypted with one customer-managed KMS key (rotation on) unless you pass one.
    - Both queues deny non-TLS requests (``enforce_ssl``).
    - The DLQ's redrive-allow policy names only this queue as a source.
    - Alarms: DLQ depth >= 1 and age of the oldest message >= ``max_message_age``.
    - :meth:`subscribe_to` subscribes the queue to an SNS topic with a filter policy checked against the
      AWS limits at synth time, and an SNS subscription DLQ (the same DLQ, so one place holds everything
      that could not be processed).

    Child ids (a public contract): ``Key``, ``Queue``, ``DeadLetterQueue``, ``DlqDepthAlarm``,
    ``OldestMessageAgeAlarm``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        queue_name: str | None = None,
        visibility_timeout: Duration = DEFAULT_VISIBILITY_TIMEOUT,
        retention_period: Duration = DEFAULT_RETENTION,
        max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
        dead_letter_retention_period: Duration = DEFAULT_DLQ_RETENTION,
        max_message_age: Duration = DEFAULT_MAX_MESSAGE_AGE,
        encryption_key: kms.IKey | None = None,
        fifo: bool = False,
        alarm_topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        """
        :param queue_name: Physical name. Default: - derived from the construct path (a stable name is
            needed so the DLQ's redrive-allow policy can name this queue without a dependency cycle).
        :param visibility_timeout: Default: 180 s = 6 x the default consumer timeout (30 s). Must be at
            least 6 x the timeout of any :class:`QueueConsumerFunction` fed by this queue.
        :param retention_period: Default: 4 days (the SQS default).
        :param max_receive_count: Receives before a message moves to the DLQ. Default: 5.
        :param dead_letter_retention_period: Default: 14 days (the maximum).
        :param max_message_age: Threshold of the oldest-message-age alarm. Default: 15 minutes.
        :param encryption_key: KMS key for both queues. Default: - a new customer-managed key, rotation on.
        :param fifo: FIFO queues. Default: False.
        :param alarm_topic: SNS topic notified when an alarm fires. Default: - alarms without actions.
        :param removal_policy: What happens to queues and key when the stack is deleted. Default: DESTROY
            (queues hold in-flight work only; use RETAIN in production if you must keep DLQ contents).
        """
        super().__init__(scope, id)
        problems = Problems(self)
        vis = _seconds(visibility_timeout)
        problems.check(
            vis is None or 0 <= vis <= 43200, f"visibility_timeout {vis}s: must be 0-43200 s (12 h)"
        )
        ret = _seconds(retention_period)
        problems.check(
            ret is None or 60 <= ret <= 1209600, f"retention_period {ret}s: must be 60 s - 14 days"
        )
        dlq_ret = _seconds(dead_letter_retention_period)
        problems.check(
            dlq_ret is None or 60 <= dlq_ret <= 1209600,
            f"dead_letter_retention_period {dlq_ret}s: must be 60 s - 14 days",
        )
        problems.check(
            is_token(max_receive_count) or 1 <= max_receive_count <= 1000,
            f"max_receive_count {max_receive_count}: must be 1-1000",
        )
        if ret is not None and dlq_ret is not None:
            problems.check(
                dlq_ret >= ret,
                f"dead_letter_retention_period ({dlq_ret}s) is shorter than retention_period ({ret}s): "
                "SQS keeps a message's original enqueue time, so it would expire in the DLQ early",
            )
        suffix = ".fifo" if fifo else ""
        if queue_name is None:
            queue_name = Names.unique_resource_name(self, max_length=_MAX_QUEUE_NAME - 4 - len(suffix))
        elif not is_token(queue_name):
            base = queue_name.removesuffix(".fifo")
            problems.check(
                1 <= len(base) <= _MAX_QUEUE_NAME - 4 - len(suffix)
                and all(c.isalnum() or c in "-_" for c in base),
                f"queue_name {queue_name!r}: use up to {_MAX_QUEUE_NAME - 4 - len(suffix)} characters "
                "a-z, A-Z, 0-9, '-' and '_' (the DLQ appends '-dlq')",
            )
        problems.raise_if_any()
        queue_name = queue_name.removesuffix(".fifo")

        stack = Stack.of(self)
        self.encryption_key: kms.IKey = encryption_key or new_cmk(
            self, "Key", description=f"Encrypts SQS queues of {self.node.path}", removal_policy=removal_policy
        )
        self.queue_name = f"{queue_name}{suffix}"
        main_arn = stack.format_arn(service="sqs", resource=self.queue_name)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=f"{queue_name}-dlq{suffix}",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.encryption_key,
            data_key_reuse=Duration.minutes(5),
            enforce_ssl=True,
            retention_period=dead_letter_retention_period,
            fifo=fifo or None,
            redrive_allow_policy=sqs.RedriveAllowPolicy(
                redrive_permission=sqs.RedrivePermission.BY_QUEUE,
                source_queues=[sqs.Queue.from_queue_arn(self, "SourceQueueRef", main_arn)],
            ),
            removal_policy=removal_policy,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=self.queue_name,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.encryption_key,
            data_key_reuse=Duration.minutes(5),
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            retention_period=retention_period,
            fifo=fifo or None,
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=max_receive_count, queue=self.dead_letter_queue
            ),
            removal_policy=removal_policy,
        )
        acknowledge(
            self.dead_letter_queue,
            "Serverless-SQSRedrivePolicy",
            "This queue is the dead-letter queue; messages end here and are redriven by an operator.",
        )
        self.max_receive_count = max_receive_count
        self.visibility_timeout = visibility_timeout
        self.fifo = fifo

        self.dlq_depth_alarm = at_or_above_alarm(
            self,
            "DlqDepthAlarm",
            description=f"Messages in the dead-letter queue of {self.node.path}: inspect and redrive them.",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=1,
            alarm_topic=alarm_topic,
        )
        self.oldest_message_age_alarm = at_or_above_alarm(
            self,
            "OldestMessageAgeAlarm",
            description=f"The consumer of {self.node.path} is falling behind or failing.",
            metric=self.queue.metric_approximate_age_of_oldest_message(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=max_message_age.to_seconds(),
            evaluation_periods=5,
            alarm_topic=alarm_topic,
        )
        self.alarms: list[cloudwatch.Alarm] = [self.dlq_depth_alarm, self.oldest_message_age_alarm]
        self.subscriptions: list[sns.Subscription] = []

    def subscribe_to(
        self,
        topic: NotificationTopic | sns.ITopic,
        *,
        filter_policy: Mapping[str, sns.SubscriptionFilter] | None = None,
        message_body_filter: Mapping[str, sns.FilterOrPolicy] | None = None,
        raw_message_delivery: bool = True,
    ) -> sns.Subscription:
        """Subscribe this queue to ``topic``.

        SNS may send to the queue only from that topic (queue policy with ``aws:SourceArn``) and may use
        the queue's key only for that topic (key policy with ``aws:SourceAccount``/``aws:SourceArn``).
        Messages SNS cannot deliver go to this construct's DLQ (SNS subscription redrive policy).

        :param filter_policy: Filter on message attributes. Default: - every message is delivered.
        :param message_body_filter: Filter on the (JSON) message body instead. Default: - none.
            At most one of the two. Both are checked against the SNS limits (5 keys, 150 combinations).
        :param raw_message_delivery: Deliver the message as published (no SNS JSON envelope).
            Default: True.
        :raises NotificationConfigError: when the filter policy breaks an SNS limit.
        """
        sns_topic = topic.topic if isinstance(topic, NotificationTopic) else topic
        problems = Problems(self)
        problems.check(
            not (filter_policy and message_body_filter),
            "subscribe_to: pass filter_policy or message_body_filter, not both (SNS applies one scope)",
        )
        for label, doc in (
            ("filter_policy", {k: list(v.conditions) for k, v in (filter_policy or {}).items()}),
            ("message_body_filter", _body_policy_json(message_body_filter or {})),
        ):
            keys, combinations = filter_policy_stats(doc)
            problems.check(
                keys <= MAX_FILTER_POLICY_KEYS,
                f"subscribe_to: {label} has {keys} keys; SNS allows at most {MAX_FILTER_POLICY_KEYS}",
            )
            problems.check(
                combinations <= MAX_FILTER_POLICY_COMBINATIONS,
                f"subscribe_to: {label} has {combinations} value combinations; SNS allows at most "
                f"{MAX_FILTER_POLICY_COMBINATIONS} (the product of the number of values of each key)",
            )
        problems.check(
            not self.fifo or sns_topic.fifo,
            "subscribe_to: a FIFO queue can only subscribe to a FIFO topic",
        )
        problems.raise_if_any()

        # Built from sns.Subscription rather than SqsSubscription: the latter grants sns.amazonaws.com the
        # queue key with no condition unless a feature flag is set on the *topic's* app.
        policy = self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": sns_topic.topic_arn}},
            )
        )
        allow_sns_to_use_key(self, self.encryption_key, sns_topic.topic_arn)
        index = len(self.subscriptions)
        # sns.Subscription adds the DLQ's queue policy for SNS (aws:SourceArn = topic) itself.
        subscription = sns.Subscription(
            self,
            "Subscription" if index == 0 else f"Subscription{index + 1}",
            topic=sns_topic,
            endpoint=self.queue.queue_arn,
            protocol=sns.SubscriptionProtocol.SQS,
            raw_message_delivery=raw_message_delivery,
            filter_policy=dict(filter_policy) if filter_policy else None,
            filter_policy_with_message_body=dict(message_body_filter) if message_body_filter else None,
            dead_letter_queue=self.dead_letter_queue,
        )
        if policy.policy_dependable is not None:
            subscription.node.add_dependency(policy.policy_dependable)
        self.subscriptions.append(subscription)
        return subscription

    def grant_consume(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant receive/delete/change-visibility on the queue plus ``kms:Decrypt`` on its key."""
        return self.queue.grant_consume_messages(grantee)

    def grant_send_to_dead_letter_queue(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant ``sqs:SendMessage`` on the DLQ plus ``kms:GenerateDataKey``/``kms:Decrypt`` on its key (the
        two actions SSE-KMS needs for a send; no wildcards), so a consumer can park input it cannot process."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=["sqs:SendMessage"], resource_arns=[self.dead_letter_queue.queue_arn]
        )
        return grant.combine(self.encryption_key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt"))
