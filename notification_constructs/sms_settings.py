"""SmsSettings: the account's SNS SMS settings (spend limit, message type, sender id, delivery-status logs)."""

from __future__ import annotations

from aws_cdk import ArnFormat, CustomResource, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambda_handlers import contracts

from ._functions import custom_resource_function
from ._validation import Problems, acknowledge, is_token
from .fan_out_topic import nag_flat

__all__ = ["SmsSettings"]

#: The CloudFormation type of the custom resource (answered by ``lambda_handlers.sms_settings.handler``).
RESOURCE_TYPE = "Custom::SnsSmsAttributes"
_HANDLER = "lambda_handlers.sms_settings.handler.handler"
# What SNS needs to write delivery-status logs, as in the AWS example policy of the delivery-status role
# (https://docs.aws.amazon.com/sns/latest/dg/sms_stats_cloudwatch.html, "Viewing CloudWatch Logs").
DELIVERY_STATUS_LOG_ACTIONS = [
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "logs:PutMetricFilter",
    "logs:PutRetentionPolicy",
]


def _as_string(value: int) -> str:
    """CloudFormation hands custom resources every property as a string; a token stays a token."""
    return Token.as_string(value) if is_token(value) else str(value)


class SmsSettings(Construct):
    """The account-wide SMS preferences of Amazon SNS in this stack's account and region, set by a custom
    resource (``Custom::SnsSmsAttributes``) that calls ``SetSMSAttributes``.

    SNS keeps these settings per account and region, not per topic; getting them wrong costs money or
    deliverability, so they are decisions made in code:

    - ``MonthlySpendLimit`` (required: the SNS default is the account's maximum; SNS stops sending SMS
      within minutes once a send would exceed it, so messages after that point are lost, and sends during
      those minutes can still exceed it),
    - ``DefaultSMSType`` (Transactional: highest reliability, for OTPs and notifications people asked for;
      Promotional is cheaper and may be delayed or dropped),
    - ``DefaultSenderID`` (an alphanumeric sender, only where the destination country supports one),
    - delivery-status logging (``DeliveryStatusIAMRole`` + ``DeliveryStatusSuccessSamplingRate``): SMS has
      no per-topic delivery-status setting; the account setting covers every SMS (topic subscriptions and
      direct publishes) and SNS writes the logs to groups it names ``sns/<region>/<account>/...``.

    Not set here (they cannot be, or should not be, from a stack): the spend limit above the account's
    quota (a Service Quotas / support request), leaving the SMS sandbox (a support request; until then SMS
    goes only to verified destination numbers), origination numbers / toll-free registration (AWS End
    User Messaging SMS), and per-country sender-id registration.

    Deleting the resource leaves the settings in place (see ``lambda_handlers.sms_settings.handler``): they
    belong to the account, and other applications may send under them. One ``SmsSettings`` per account and
    region: two stacks setting them would overwrite each other (a second one in the same stack is rejected).

    Construct ids (a public contract): ``Resource`` (the custom resource), ``Function`` with its siblings
    ``FunctionRole``, ``FunctionLogGroup`` and, unless ``encryption_key`` is given, ``FunctionLogKey``;
    ``DeliveryStatusRole`` (with ``delivery_status_logging``), ``SpendAlarm`` and ``SuccessRateAlarm``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        monthly_spend_limit: int,
        default_sms_type: str = "Transactional",
        default_sender_id: str | None = None,
        delivery_status_logging: bool = True,
        success_sampling_rate: int = 100,
        spend_alarm_percent: int = 80,
        success_rate_alarm_threshold: float = 0.9,
        alarm_topic: sns.ITopic | None = None,
        encryption_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        """
        :param monthly_spend_limit: USD per month SNS may spend on SMS in this account and region (a whole
            number > 0, at most the account's quota - SNS rejects more). Required: a decision, not a default.
        :param default_sms_type: ``"Transactional"`` or ``"Promotional"``. Default: Transactional.
        :param default_sender_id: Alphanumeric sender id, 1-11 letters and digits with at least one letter.
            Default: - none (SNS sends from a number; many countries ignore or forbid sender ids).
        :param delivery_status_logging: Create the role SNS writes SMS delivery-status logs with and set it.
            Default: True.
        :param success_sampling_rate: Percentage (0-100) of successful SMS deliveries that are logged (all
            failures are). Default: 100.
        :param spend_alarm_percent: Alarm when ``SMSMonthToDateSpentUSD`` reaches this percentage of
            ``monthly_spend_limit`` (1-100). Default: 80. No alarm when the limit is a token.
        :param success_rate_alarm_threshold: Alarm when the account's ``SMSSuccessRate`` (a fraction, 1 =
            every SMS delivered) averages below this over 15 minutes (0-1). Default: 0.9.
        :param alarm_topic: SNS topic notified when an alarm fires. Default: - alarms without actions.
        :param encryption_key: KMS key of the function's log group. Default: - a new customer-managed key.
        :param removal_policy: Of the function's log group and key. Default: DESTROY.
        :raises NotificationConfigError: listing every problem.
        """
        problems = Problems(scope, id)
        if not is_token(monthly_spend_limit):
            problems.check(
                isinstance(monthly_spend_limit, int) and monthly_spend_limit > 0,
                f"monthly_spend_limit {monthly_spend_limit!r}: a whole number of USD > 0",
            )
        if not is_token(default_sms_type):
            problems.check(
                default_sms_type in contracts.SMS_TYPES,
                f"default_sms_type {default_sms_type!r}: one of {', '.join(contracts.SMS_TYPES)}",
            )
        if default_sender_id is not None and not is_token(default_sender_id):
            problems.check(
                bool(contracts.SENDER_ID_PATTERN.match(default_sender_id)),
                f"default_sender_id {default_sender_id!r}: 1-11 letters and digits, at least one letter",
            )
        if not is_token(success_sampling_rate):
            problems.check(
                0 <= success_sampling_rate <= 100, f"success_sampling_rate {success_sampling_rate}: 0-100"
            )
        problems.check(1 <= spend_alarm_percent <= 100, f"spend_alarm_percent {spend_alarm_percent}: 1-100")
        problems.check(
            0 < success_rate_alarm_threshold <= 1,
            f"success_rate_alarm_threshold {success_rate_alarm_threshold}: a fraction in (0, 1]",
        )
        stack = Stack.of(scope)
        others = [c.node.path for c in stack.node.find_all() if isinstance(c, SmsSettings)]
        problems.check(
            not others,
            f"{others[0] if others else ''} already sets the SMS settings of this stack's account and region; "
            "they are account-wide: keep one SmsSettings",
        )
        problems.raise_if_any()
        super().__init__(scope, id)

        attributes: dict[str, str] = {
            contracts.SMS_MONTHLY_SPEND_LIMIT: _as_string(monthly_spend_limit),
            contracts.SMS_DEFAULT_TYPE: default_sms_type,
        }
        if default_sender_id is not None:
            attributes[contracts.SMS_DEFAULT_SENDER_ID] = default_sender_id

        self.function = custom_resource_function(
            self,
            "Function",
            handler=_HANDLER,
            description=f"Sets the SNS SMS account settings of {self.node.path}",
            encryption_key=encryption_key,
            removal_policy=removal_policy,
        )
        # SetSMSAttributes / GetSMSAttributes act on account settings: the actions support no resource-level
        # permissions (Service Authorization Reference, Amazon SNS: no resource type for either action).
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["sns:SetSMSAttributes", "sns:GetSMSAttributes"], resources=["*"])
        )

        self.delivery_status_role: iam.Role | None = None
        if delivery_status_logging:
            role = iam.Role(
                self,
                "DeliveryStatusRole",
                assumed_by=iam.ServicePrincipal("sns.amazonaws.com"),
                description=f"SNS writes SMS delivery-status logs with this role ({self.node.path})",
            )
            sns_log_groups = stack.format_arn(
                service="logs",
                resource="log-group",
                resource_name=f"sns/{stack.region}/{stack.account}/*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            role.add_to_policy(
                iam.PolicyStatement(actions=DELIVERY_STATUS_LOG_ACTIONS, resources=[sns_log_groups])
            )
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{nag_flat(self, sns_log_groups)}]",
                "SNS names the SMS delivery-status log groups itself (sns/<region>/<account>/"
                "DirectPublishToPhoneNumber[/Failure] and per topic) and their streams: the role is limited "
                "to SNS's own log-group prefix in this account and region.",
            )
            for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
                acknowledge(
                    role,
                    f"{pack}-IAMNoInlinePolicy",
                    "The role's one policy is the CDK-generated AWS::IAM::Policy of this role, created and "
                    "deleted with it, limited to SNS's log groups.",
                )
            # Setting DeliveryStatusIAMRole passes the role to SNS.
            self.function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sns.amazonaws.com"}},
                )
            )
            attributes[contracts.SMS_DELIVERY_STATUS_ROLE] = role.role_arn
            attributes[contracts.SMS_DELIVERY_STATUS_SAMPLING_RATE] = _as_string(success_sampling_rate)
            self.delivery_status_role = role
        role_of_function = self.function.role
        if isinstance(role_of_function, iam.Role):
            acknowledge(
                role_of_function,
                "AwsSolutions-IAM5[Resource::*]",
                "sns:SetSMSAttributes and sns:GetSMSAttributes act on the account's SMS settings and support "
                "no resource-level permissions; they are the only actions granted on '*'.",
            )

        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.function.function_arn,
            resource_type=RESOURCE_TYPE,
            properties={contracts.SMS_ATTRIBUTES_PROPERTY: attributes},
        )
        if self.delivery_status_role is not None:
            # The role's policy must exist before SNS is told to use it.
            policy = self.delivery_status_role.node.try_find_child("DefaultPolicy")
            if policy is not None:
                self.resource.node.add_dependency(policy)
        #: The SMS attributes the custom resource sets (the SetSMSAttributes names; values may be tokens).
        self.attributes = attributes

        self.spend_alarm: cloudwatch.Alarm | None = None
        if not is_token(monthly_spend_limit):
            self.spend_alarm = cloudwatch.Alarm(
                self,
                "SpendAlarm",
                alarm_description=(
                    f"SMS spend this month reached {spend_alarm_percent}% of the {monthly_spend_limit} USD limit "
                    f"({self.node.path}): SNS stops sending SMS at the limit."
                ),
                metric=self.metric_month_to_date_spent(),
                threshold=monthly_spend_limit * spend_alarm_percent / 100,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        self.success_rate_alarm = cloudwatch.Alarm(
            self,
            "SuccessRateAlarm",
            alarm_description=(
                f"Less than {success_rate_alarm_threshold:.0%} of SMS were delivered ({self.node.path}): "
                "see the delivery-status logs (sns/<region>/<account>/DirectPublishToPhoneNumber/Failure)."
            ),
            metric=self.metric_success_rate(),
            threshold=success_rate_alarm_threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            # Missing between sends: the last known rate is not a reason to page.
            treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
        )
        self.alarms: list[cloudwatch.Alarm] = [
            a for a in (self.spend_alarm, self.success_rate_alarm) if a is not None
        ]
        if alarm_topic is not None:
            for alarm in self.alarms:
                alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))

    def metric_month_to_date_spent(
        self, *, period: Duration | None = None, statistic: str = "Maximum"
    ) -> cloudwatch.Metric:
        """``AWS/SNS`` ``SMSMonthToDateSpentUSD`` (account and region, no dimensions).

        :param period: Default: 5 minutes.
        :param statistic: Default: Maximum.
        """
        return cloudwatch.Metric(
            namespace="AWS/SNS",
            metric_name="SMSMonthToDateSpentUSD",
            period=period or Duration.minutes(5),
            statistic=statistic,
        )

    def metric_success_rate(
        self, *, period: Duration | None = None, statistic: str = "Average"
    ) -> cloudwatch.Metric:
        """``AWS/SNS`` ``SMSSuccessRate`` of the account and region (no dimensions; per ``Country`` and
        ``SMSType`` too, not used here).

        :param period: Default: 15 minutes.
        :param statistic: Default: Average.
        """
        return cloudwatch.Metric(
            namespace="AWS/SNS",
            metric_name="SMSSuccessRate",
            period=period or Duration.minutes(15),
            statistic=statistic,
        )
