"""notification-constructs: AWS CDK v2 constructs for transactional e-mail and notification pipelines."""

from ._validation import NotificationConfigError
from .email_configuration_set import DEFAULT_EVENT_TYPES, EmailConfigurationSet
from .notification_topic import NotificationTopic
from .order_confirmation_template import OrderConfirmationTemplate
from .pipelines import BounceHandlingPipeline, OrderConfirmationPipeline, PipelinesDashboard
from .processing_queue import ProcessingQueue
from .queue_consumer_function import QueueConsumerFunction
from .sender_identity import ByoDkimKey, DnsRecord, SenderIdentity

__all__ = [
    "DEFAULT_EVENT_TYPES",
    "BounceHandlingPipeline",
    "ByoDkimKey",
    "DnsRecord",
    "EmailConfigurationSet",
    "NotificationConfigError",
    "NotificationTopic",
    "OrderConfirmationPipeline",
    "OrderConfirmationTemplate",
    "PipelinesDashboard",
    "ProcessingQueue",
    "QueueConsumerFunction",
    "SenderIdentity",
]
