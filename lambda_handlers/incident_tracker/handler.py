"""Lambda entry point: ``handler(event, context)`` takes an SQS batch (incident queue or acknowledgement
deadline queue) and returns ``{"batchItemFailures": [...]}`` (``ReportBatchItemFailures``)."""

from lambda_handlers.common.shell import Shell
from lambda_handlers.incident_tracker.service import build_service

shell = Shell(build_service)
handler = shell.handler
