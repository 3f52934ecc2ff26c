"""notification-constructs: AWS CDK v2 constructs for transactional e-mail and notification pipelines.

The constructs are imported on first use (PEP 562), so ``notification_constructs.testing`` - the local
sandbox, which never needs aws-cdk-lib at run time - does not start the jsii runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._validation import NotificationConfigError
    from .delivery_monitoring import DeliveryMonitoring
    from .email_configuration_set import DEFAULT_EVENT_TYPES, EmailConfigurationSet
    from .email_event_archive import EmailEventArchive
    from .fan_out_topic import FanOutTopic
    from .inbound_replies import InboundReplies
    from .notification_topic import NotificationTopic
    from .order_confirmation_template import OrderConfirmationTemplate
    from .pipelines import (
        BounceHandlingPipeline,
        BulkEmailSender,
        IncidentAlertPipeline,
        OrderConfirmationPipeline,
        PipelinesDashboard,
        ShipmentUpdatesPipeline,
    )
    from .processing_queue import ProcessingQueue
    from .queue_consumer_function import QueueConsumerFunction
    from .sender_identity import ByoDkimKey, DnsRecord, SenderIdentity
    from .sms_settings import SmsSettings
    from .smtp_credentials import SmtpCredentials
    from .subscription_management import ContactListTopic, SubscriptionManagement
    from .vpc_endpoints import DEFAULT_VPC_ENDPOINT_SERVICES, NotificationVpcEndpoints

_EXPORTS = {
    "DEFAULT_EVENT_TYPES": ".email_configuration_set",
    "BounceHandlingPipeline": ".pipelines",
    "BulkEmailSender": ".pipelines",
    "ContactListTopic": ".subscription_management",
    "DeliveryMonitoring": ".delivery_monitoring",
    "EmailEventArchive": ".email_event_archive",
    "SubscriptionManagement": ".subscription_management",
    "ByoDkimKey": ".sender_identity",
    "DnsRecord": ".sender_identity",
    "EmailConfigurationSet": ".email_configuration_set",
    "FanOutTopic": ".fan_out_topic",
    "InboundReplies": ".inbound_replies",
    "SmsSettings": ".sms_settings",
    "IncidentAlertPipeline": ".pipelines",
    "NotificationConfigError": "._validation",
    "NotificationTopic": ".notification_topic",
    "OrderConfirmationPipeline": ".pipelines",
    "OrderConfirmationTemplate": ".order_confirmation_template",
    "PipelinesDashboard": ".pipelines",
    "ProcessingQueue": ".processing_queue",
    "QueueConsumerFunction": ".queue_consumer_function",
    "SenderIdentity": ".sender_identity",
    "ShipmentUpdatesPipeline": ".pipelines",
    "SmtpCredentials": ".smtp_credentials",
    "DEFAULT_VPC_ENDPOINT_SERVICES": ".vpc_endpoints",
    "NotificationVpcEndpoints": ".vpc_endpoints",
}

__all__ = [
    "DEFAULT_EVENT_TYPES",
    "DEFAULT_VPC_ENDPOINT_SERVICES",
    "BounceHandlingPipeline",
    "BulkEmailSender",
    "ByoDkimKey",
    "ContactListTopic",
    "DeliveryMonitoring",
    "DnsRecord",
    "EmailConfigurationSet",
    "EmailEventArchive",
    "FanOutTopic",
    "InboundReplies",
    "IncidentAlertPipeline",
    "NotificationConfigError",
    "NotificationTopic",
    "NotificationVpcEndpoints",
    "OrderConfirmationPipeline",
    "OrderConfirmationTemplate",
    "PipelinesDashboard",
    "ProcessingQueue",
    "QueueConsumerFunction",
    "SenderIdentity",
    "ShipmentUpdatesPipeline",
    "SmsSettings",
    "SmtpCredentials",
    "SubscriptionManagement",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
