"""Lambda entry point: ``handler(event, context)`` takes an SQS batch of SES notifications and returns
``{"batchItemFailures": [...]}`` (the event source mapping uses ``ReportBatchItemFailures``)."""

from lambda_handlers.bounce_processor.service import build_service
from lambda_handlers.common.shell import Shell

shell = Shell(build_service)
handler = shell.handler
