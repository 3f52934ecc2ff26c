"""Lambda entry point: ``handler(event, context)`` takes an SQS batch of ``shipment.updated`` events and
returns ``{"batchItemFailures": [...]}`` (the event source mapping uses ``ReportBatchItemFailures``)."""

from lambda_handlers.common.shell import Shell
from lambda_handlers.shipment_notifier.service import build_service

shell = Shell(build_service)
handler = shell.handler
