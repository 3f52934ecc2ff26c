"""Composed pipelines built from the building blocks."""

from .bounce_handling_pipeline import BounceHandlingPipeline
from .bulk_email_sender import BulkEmailSender
from .dashboard import PipelinesDashboard
from .incident_alert_pipeline import IncidentAlertPipeline
from .order_confirmation_pipeline import OrderConfirmationPipeline
from .shipment_updates_pipeline import ShipmentUpdatesPipeline, ShipmentUpdateTemplate

__all__ = [
    "BounceHandlingPipeline",
    "BulkEmailSender",
    "IncidentAlertPipeline",
    "OrderConfirmationPipeline",
    "PipelinesDashboard",
    "ShipmentUpdateTemplate",
    "ShipmentUpdatesPipeline",
]
