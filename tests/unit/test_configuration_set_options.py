"""EmailConfigurationSet deliverability options: dedicated IP pools (standard / managed), VDM, a custom
tracking domain with HTTPS, the maximum delivery duration - and what is refused at synth."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Duration, Fn, Stack
from aws_cdk import aws_ses as ses
from aws_cdk.assertions import Match, Template

from notification_constructs import EmailConfigurationSet, NotificationConfigError


def _configuration_set(**props: Any) -> dict[str, Any]:
    stack = Stack(App(), "Options")
    EmailConfigurationSet(stack, "Config", **props)
    (resource,) = Template.from_stack(stack).find_resources("AWS::SES::ConfigurationSet").values()
    return dict(resource["Properties"])


def test_defaults_leave_the_account_settings_and_the_shared_pool_alone() -> None:
    properties = _configuration_set()
    assert "VdmOptions" not in properties
    assert "TrackingOptions" not in properties
    assert "SendingPool" not in properties.get("DeliveryOptions", {})
    assert properties["DeliveryOptions"]["TlsPolicy"] == "REQUIRE"


@pytest.mark.parametrize("mode", [ses.ScalingMode.STANDARD, ses.ScalingMode.MANAGED])
def test_a_dedicated_ip_pool_becomes_the_sending_pool(mode: ses.ScalingMode) -> None:
    # GIVEN a dedicated IP pool of either scaling mode
    stack = Stack(App(), "Options")
    pool = ses.DedicatedIpPool(stack, "Pool", scaling_mode=mode)
    EmailConfigurationSet(stack, "Config", dedicated_ip_pool=pool)
    template = Template.from_stack(stack)
    # THEN the configuration set sends through it, TLS still required
    template.has_resource_properties("AWS::SES::DedicatedIpPool", {"ScalingMode": mode.value})
    template.has_resource_properties(
        "AWS::SES::ConfigurationSet",
        {
            "DeliveryOptions": {
                "SendingPoolName": {"Ref": Match.string_like_regexp("Pool")},
                "TlsPolicy": "REQUIRE",
            }
        },
    )


def test_an_imported_pool_by_name_works_too() -> None:
    stack = Stack(App(), "Options")
    pool = ses.DedicatedIpPool.from_dedicated_ip_pool_name(stack, "Pool", "marketing-ips")
    EmailConfigurationSet(stack, "Config", dedicated_ip_pool=pool)
    Template.from_stack(stack).has_resource_properties(
        "AWS::SES::ConfigurationSet",
        {"DeliveryOptions": Match.object_like({"SendingPoolName": "marketing-ips"})},
    )


def test_vdm_engagement_and_optimized_delivery_override_the_account() -> None:
    properties = _configuration_set(vdm_engagement_metrics=True, vdm_optimized_shared_delivery=False)
    assert properties["VdmOptions"] == {
        "DashboardOptions": {"EngagementMetrics": "ENABLED"},
        "GuardianOptions": {"OptimizedSharedDelivery": "DISABLED"},
    }


def test_a_custom_tracking_domain_requires_https_by_default() -> None:
    properties = _configuration_set(custom_tracking_redirect_domain="track.shop.example.com")
    assert properties["TrackingOptions"] == {
        "CustomRedirectDomain": "track.shop.example.com",
        "HttpsPolicy": "REQUIRE",
    }


def test_the_https_policy_can_be_relaxed_for_opens_only() -> None:
    properties = _configuration_set(
        custom_tracking_redirect_domain="track.shop.example.com",
        custom_tracking_https_policy=ses.HttpsPolicy.REQUIRE_OPEN_ONLY,
    )
    assert properties["TrackingOptions"]["HttpsPolicy"] == "REQUIRE_OPEN_ONLY"


def test_max_delivery_duration() -> None:
    properties = _configuration_set(max_delivery_duration=Duration.hours(2))
    assert properties["DeliveryOptions"]["MaxDeliverySeconds"] == 7200


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"custom_tracking_redirect_domain": "not a domain"}, "'not a domain' is not a domain name"),
        (
            {"custom_tracking_https_policy": ses.HttpsPolicy.REQUIRE},
            "without custom_tracking_redirect_domain",
        ),
    ],
)
def test_misconfiguration_fails_at_synth(props: dict[str, Any], message: str) -> None:
    with pytest.raises(NotificationConfigError, match=message):
        _configuration_set(**props)


def test_a_token_tracking_domain_passes_through() -> None:
    properties = _configuration_set(custom_tracking_redirect_domain=Fn.import_value("TrackingDomain"))
    assert properties["TrackingOptions"]["CustomRedirectDomain"] == {"Fn::ImportValue": "TrackingDomain"}
