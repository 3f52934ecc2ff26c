"""NotificationTopic: an SNS topic encrypted with a customer-managed KMS key that AWS services may publish to."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Fn, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from ._defaults import SES_SERVICE_PRINCIPAL, new_cmk, source_conditions
from ._validation import Problems, child_path, is_token

__all__ = ["NotificationTopic"]

# Services that cannot publish to FIFO topics (SES event destinations and identity notifications).
_NO_FIFO_SERVICES = {SES_SERVICE_PRINCIPAL}


class NotificationTopic(sns.Topic):
    """An SNS topic encrypted at rest with its own customer-managed KMS key (rotation on).

    It *is* an ``sns.Topic``, so every aws-cdk-lib API that takes an ``sns.ITopic`` accepts it
    (``topic.add_subscription(...)``, ``cloudwatch_actions.SnsAction(topic)``,
    ``ses.EventDestination.sns_topic(topic)``, ...).

    Fixes the classic SES pitfall: SES cannot publish to a KMS-encrypted topic unless the *key policy*
    lets ``ses.amazonaws.com`` use the key. For every publishing service this construct adds

    - a key-policy statement allowing ``kms:GenerateDataKey*`` and ``kms:Decrypt``, and
    - a topic-policy statement allowing ``sns:Publish``,

    both with ``aws:SourceAccount`` and ``aws:SourceArn`` (confused-deputy) conditions. ``aws:SourceArn`` is
    every resource of that service in this account and region until the publisher is known; an
    :class:`EmailConfigurationSet` that publishes to the topic narrows SES's statements to its own ARN.
    The topic policy also denies any non-TLS request (``enforce_ssl``).

    Construct ids (a public contract): the topic is ``id`` itself (children ``Resource`` and ``Policy``, as
    for any ``sns.Topic``); unless ``encryption_key`` is given, its key is ``{id}Key``, a sibling in
    ``scope`` (it must exist before the topic).

    An existing topic: ``NotificationTopic.from_topic_attributes(scope, id, topic_arn=..., key_arn=...)``
    (inherited from ``sns.Topic``) returns a plain ``sns.ITopic``. Pass ``key_arn`` when the topic is
    encrypted: it becomes the imported topic's ``master_key``, which ``grant_publish`` then covers
    (``kms:Decrypt``/``kms:GenerateDataKey*``). An imported topic's policies are not managed here: its key
    policy must already let publishing services such as SES use the key (the statements
    :meth:`allow_service_publish` writes for a topic created here).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic_name: str | None = None,
        display_name: str | None = None,
        encryption_key: kms.IKey | None = None,
        publishing_services: Sequence[str] = (SES_SERVICE_PRINCIPAL,),
        fifo: bool = False,
        content_based_deduplication: bool = False,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """
        :param topic_name: Physical topic name. Default: - a generated name (``.fifo`` is appended for FIFO,
            also to a token, which must then resolve to the name without the suffix).
        :param display_name: Display name (used as the e-mail "From" of e-mail subscriptions), at most 100
            characters. Default: - none.
        :param encryption_key: Key to encrypt the topic with. Default: - a new customer-managed key with
            rotation on (``{id}Key`` in ``scope``). With an imported key the key policy statements are not
            added (CDK cannot change an imported key's policy): grant the publishing services yourself.
        :param publishing_services: Service principals that may publish, each scoped to its own service's
            ARNs in this account and region (``arn:<partition>:<service>:<region>:<account>:*``) until
            :meth:`allow_service_publish` names the publishing resources (as
            :meth:`EmailConfigurationSet.add_topic_destination` does with its configuration set ARN).
            Default: - ``("ses.amazonaws.com",)``; pass ``()`` for a topic only applications publish to.
        :param fifo: Create a FIFO topic. Default: False. SES cannot publish to FIFO topics.
        :param content_based_deduplication: FIFO only. Default: False.
        :param removal_policy: What happens to the key when the stack is deleted. Default: RETAIN.
        """
        # Checked before the topic exists, so errors name the path the topic would have.
        problems = Problems(scope, id)
        for service in publishing_services:
            problems.check(
                is_token(service) or (service.endswith(".amazonaws.com") and " " not in service),
                f"publishing_services: {service!r} is not a service principal (expected e.g. 'ses.amazonaws.com')",
            )
            problems.check(
                not (fifo and service in _NO_FIFO_SERVICES),
                f"fifo=True: {service} cannot publish to FIFO topics; use a standard topic",
            )
        problems.check(
            fifo or not content_based_deduplication,
            "content_based_deduplication=True requires fifo=True",
        )
        if topic_name is not None and not is_token(topic_name):
            base = topic_name.removesuffix(".fifo")
            problems.check(
                1 <= len(base) <= 251 and all(c.isalnum() or c in "-_" for c in base),
                f"topic_name {topic_name!r}: use 1-256 characters a-z, A-Z, 0-9, '-' and '_'",
            )
        if display_name is not None and not is_token(display_name):
            problems.check(
                len(display_name) <= 100,
                f"display_name: {len(display_name)} characters; SNS allows at most 100",
            )
        problems.raise_if_any()

        key = encryption_key or new_cmk(
            scope,
            f"{id}Key",
            description=f"Encrypts SNS topic {child_path(scope, id)}",
            removal_policy=removal_policy,
        )
        # sns.Topic appends ".fifo" to a FIFO topic's name when it is missing (tokens included).
        super().__init__(
            scope,
            id,
            topic_name=topic_name,
            display_name=display_name,
            master_key=key,
            enforce_ssl=True,
            fifo=fifo or None,
            content_based_deduplication=content_based_deduplication or None,
        )
        #: The key the topic is encrypted with (the same object as ``master_key``, never None).
        self.encryption_key: kms.IKey = key
        self.publishing_services: list[str] = []
        # Per service: its two statements, the aws:SourceArn patterns they carry, and whether those are
        # still the account-wide default (narrowed by the first call that names the resources).
        self._service_statements: dict[str, tuple[iam.PolicyStatement, iam.PolicyStatement]] = {}
        self._source_arns: dict[str, list[str]] = {}
        self._default_scope: dict[str, bool] = {}
        for service in publishing_services:
            self.allow_service_publish(service)

    @property
    def topic(self) -> NotificationTopic:
        """This topic (kept while callers move from ``.topic`` to the construct itself)."""
        return self

    def source_arns_of(self, service_principal: str) -> list[str]:
        """The ``aws:SourceArn`` patterns ``service_principal`` may publish for (empty if it may not)."""
        return list(self._source_arns.get(service_principal, []))

    def allow_service_publish(
        self, service_principal: str, *, source_arns: Sequence[str] | None = None
    ) -> None:
        """Let an AWS service publish to this topic (topic policy) and use its key (key policy), only on
        behalf of this account (``aws:SourceAccount``) and of ``source_arns`` (``aws:SourceArn``).

        One statement per service in each policy. Calling again for the same service adds ``source_arns``
        to it; the first call that names ``source_arns`` *replaces* the account-wide default, so a topic
        created with the default ``publishing_services`` and then given to
        :meth:`EmailConfigurationSet.add_topic_destination` ends up scoped to that configuration set.

        :param service_principal: e.g. ``ses.amazonaws.com``.
        :param source_arns: ``aws:SourceArn`` patterns the service acts for, e.g. a configuration set ARN
            ``arn:<partition>:ses:<region>:<account>:configuration-set/<name>``. Default: - every ARN of
            that service in this account and region (``arn:<partition>:<service>:<region>:<account>:*``),
            the scope used until the publishing resource is known.
        """
        if service_principal in self._service_statements:
            if source_arns is None:
                return
            arns = self._source_arns[service_principal]
            if self._default_scope[service_principal]:
                arns.clear()
                self._default_scope[service_principal] = False
            arns.extend(a for a in source_arns if a not in arns)
            for statement in self._service_statements[service_principal]:
                # add_condition merges into the existing ArnLike block, replacing its aws:SourceArn.
                statement.add_condition("ArnLike", {"aws:SourceArn": arns if len(arns) > 1 else arns[0]})
            return

        stack = Stack.of(self)
        default_scope = source_arns is None
        # "ses" of "ses.amazonaws.com"; of a principal known only at deploy time, the same taken by
        # CloudFormation (Fn::Select / Fn::Split).
        token = is_token(service_principal)
        service = Fn.select(0, Fn.split(".", service_principal)) if token else service_principal.split(".")[0]
        if source_arns is None:
            source_arns = [f"arn:{stack.partition}:{service}:{stack.region}:{stack.account}:*"]
        conditions = source_conditions(self, list(source_arns))
        principal = iam.ServicePrincipal(service_principal)
        sid_name = "Service" if token else service.capitalize()
        topic_statement = iam.PolicyStatement(
            sid=f"Allow{sid_name}Publish{len(self.publishing_services)}",
            principals=[principal],
            actions=["sns:Publish"],
            resources=[self.topic_arn],
            conditions=conditions,
        )
        key_statement = iam.PolicyStatement(
            principals=[principal],
            actions=["kms:GenerateDataKey*", "kms:Decrypt"],
            resources=["*"],
            conditions=conditions,
        )
        self.add_to_resource_policy(topic_statement)
        self.encryption_key.add_to_resource_policy(key_statement)
        self._service_statements[service_principal] = (topic_statement, key_statement)
        self._source_arns[service_principal] = list(source_arns)
        self._default_scope[service_principal] = default_scope
        self.publishing_services.append(service_principal)

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant ``sns:Publish`` on this topic plus ``kms:GenerateDataKey``/``kms:Decrypt`` on its key (what
        publishing to an encrypted topic needs; no wildcard actions, unlike ``sns.Topic.grant_publish``).

        Overrides ``sns.Topic.grant_publish``, so aws-cdk-lib code that grants publishing on the topic (an
        EventBridge target, a CodeStar notification rule) gets these permissions too. A principal of this
        account gets an identity policy; a service principal or one of another account a topic-policy
        statement (and a key-policy statement), as with ``sns.Topic.grant_publish``."""
        grant = iam.Grant.add_to_principal_or_resource(
            grantee=grantee, actions=["sns:Publish"], resource_arns=[self.topic_arn], resource=self
        )
        return grant.combine(self.encryption_key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt"))
