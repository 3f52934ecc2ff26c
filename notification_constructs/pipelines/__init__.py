"""Composed pipelines built from the building blocks."""

from .bounce_handling_pipeline import BounceHandlingPipeline
from .dashboard import PipelinesDashboard
from .incident_alert_pipeline import IncidentAlertPipeline
from .order_confirmation_pipeline import OrderConfirmationPipeline

__all__ = ["BounceHandlingPipeline", "IncidentAlertPipeline", "OrderConfirmationPipeline", "PipelinesDashboard"]
