"""SmsSettings: the custom resource's attributes, least-privilege roles, alarms, synth-time checks, cdk-nag."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, CfnParameter, Stack
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from notification_constructs import NotificationConfigError
from notification_constructs.sms_settings import RESOURCE_TYPE, SmsSettings
from tests.support.validators import add_nag_packs, synth_with_nag

ENV = {"account": "111111111111", "region": "eu-west-1"}


@pytest.fixture(scope="module")
def template() -> Template:
    stack = Stack(App(), "Sms", env=ENV)
    SmsSettings(
        stack,
        "Settings",
        monthly_spend_limit=50,
        default_sender_id="Shop",
        success_sampling_rate=20,
        alarm_topic=sns.Topic(stack, "Ops"),
    )
    return Template.from_stack(stack)


def _policy_of(template: Template, prefix: str) -> list[dict[str, Any]]:
    policy = next(v for k, v in template.find_resources("AWS::IAM::Policy").items() if k.startswith(prefix))
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def test_the_custom_resource_sets_every_attribute_as_a_string(template: Template) -> None:
    template.has_resource_properties(
        RESOURCE_TYPE,
        {
            "ServiceToken": {"Fn::GetAtt": [Match.string_like_regexp("SettingsFunction"), "Arn"]},
            "Attributes": {
                "MonthlySpendLimit": "50",
                "DefaultSMSType": "Transactional",
                "DefaultSenderID": "Shop",
                "DeliveryStatusIAMRole": {
                    "Fn::GetAtt": [Match.string_like_regexp("SettingsDeliveryStatusRole"), "Arn"]
                },
                "DeliveryStatusSuccessSamplingRate": "20",
            },
        },
    )


def test_the_function_is_our_python_handler_with_an_encrypted_log_group(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "lambda_handlers.sms_settings.handler.handler",
            "Runtime": Match.string_like_regexp("python3"),
        },
    )
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {"KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("SettingsFunctionLogKey"), "Arn"]}},
    )


def test_the_function_may_set_sms_attributes_and_pass_only_the_delivery_status_role(
    template: Template,
) -> None:
    statements = _policy_of(template, "SettingsFunctionRole")
    assert {
        "Action": ["sns:SetSMSAttributes", "sns:GetSMSAttributes"],
        "Effect": "Allow",
        "Resource": "*",
    } in statements
    pass_role = next(s for s in statements if s["Action"] == "iam:PassRole")
    assert pass_role["Resource"]["Fn::GetAtt"][0].startswith("SettingsDeliveryStatusRole")
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sns.amazonaws.com"}}


def test_the_delivery_status_role_writes_only_to_sns_log_groups(template: Template) -> None:
    (statement,) = _policy_of(template, "SettingsDeliveryStatusRole")
    assert statement["Action"] == [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:PutMetricFilter",
        "logs:PutRetentionPolicy",
    ]
    assert (
        statement["Resource"]["Fn::Join"][1][-1]
        == ":logs:eu-west-1:111111111111:log-group:sns/eu-west-1/111111111111/*"
    )
    role = next(
        v
        for k, v in template.find_resources("AWS::IAM::Role").items()
        if k.startswith("SettingsDeliveryStatusRole")
    )
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "sns.amazonaws.com"
    }


def test_spend_and_success_rate_alarms_notify_the_alarm_topic(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "SMSMonthToDateSpentUSD",
            "Threshold": 40,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [{"Ref": Match.string_like_regexp("Ops")}],
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "SMSSuccessRate",
            "Threshold": 0.9,
            "ComparisonOperator": "LessThanThreshold",
            "AlarmActions": [{"Ref": Match.string_like_regexp("Ops")}],
        },
    )


def test_without_delivery_status_logging_there_is_no_role_and_no_log_attributes() -> None:
    stack = Stack(App(), "NoLogs", env=ENV)
    settings = SmsSettings(
        stack,
        "Settings",
        monthly_spend_limit=5,
        default_sms_type="Promotional",
        delivery_status_logging=False,
    )
    template = Template.from_stack(stack)
    (resource,) = template.find_resources(RESOURCE_TYPE).values()
    assert resource["Properties"]["Attributes"] == {"MonthlySpendLimit": "5", "DefaultSMSType": "Promotional"}
    assert settings.delivery_status_role is None
    assert all(s["Action"] != "iam:PassRole" for s in _policy_of(template, "SettingsFunctionRole"))


def test_a_token_spend_limit_passes_through_without_a_spend_alarm() -> None:
    stack = Stack(App(), "Token", env=ENV)
    limit = CfnParameter(stack, "Limit", type="Number").value_as_number
    settings = SmsSettings(stack, "Settings", monthly_spend_limit=limit)  # type: ignore[arg-type]
    template = Template.from_stack(stack)
    template.has_resource_properties(
        RESOURCE_TYPE, {"Attributes": Match.object_like({"MonthlySpendLimit": {"Ref": "Limit"}})}
    )
    assert settings.spend_alarm is None
    assert settings.alarms == [settings.success_rate_alarm]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"monthly_spend_limit": 0}, "monthly_spend_limit 0"),
        ({"monthly_spend_limit": 2.5}, "monthly_spend_limit 2.5"),
        ({"monthly_spend_limit": 10, "default_sms_type": "transactional"}, "default_sms_type"),
        ({"monthly_spend_limit": 10, "default_sender_id": "123456"}, "at least one letter"),
        ({"monthly_spend_limit": 10, "default_sender_id": "MyShopIsGreat"}, "1-11 letters"),
        ({"monthly_spend_limit": 10, "default_sender_id": "My-Shop"}, "1-11 letters"),
        ({"monthly_spend_limit": 10, "success_sampling_rate": 101}, "success_sampling_rate 101"),
        ({"monthly_spend_limit": 10, "spend_alarm_percent": 0}, "spend_alarm_percent 0"),
        ({"monthly_spend_limit": 10, "success_rate_alarm_threshold": 90}, "success_rate_alarm_threshold 90"),
    ],
)
def test_fails_if_a_setting_is_invalid(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(NotificationConfigError, match=message):
        SmsSettings(Stack(App(), "Bad", env=ENV), "Settings", **kwargs)


def test_fails_if_a_second_sms_settings_is_added_to_the_stack() -> None:
    stack = Stack(App(), "Twice", env=ENV)
    SmsSettings(stack, "First", monthly_spend_limit=10)
    with pytest.raises(NotificationConfigError, match="Twice/First already sets the SMS settings"):
        SmsSettings(stack, "Second", monthly_spend_limit=10)


def test_the_stack_is_clean_under_cdk_nag(tmp_path: Any) -> None:
    app = App(outdir=str(tmp_path))
    add_nag_packs(app)
    SmsSettings(Stack(app, "Nag", env=ENV), "Settings", monthly_spend_limit=20, default_sender_id="Shop")
    synth_with_nag(app)
