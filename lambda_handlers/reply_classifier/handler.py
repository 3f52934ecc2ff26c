"""Lambda entry point: ``handler(event, context)`` takes an SQS batch of SES receipt notifications (S3
action) and returns ``{"batchItemFailures": [...]}`` (the event source mapping uses ``ReportBatchItemFailures``)."""

from lambda_handlers.common.shell import Shell
from lambda_handlers.reply_classifier.service import build_service

shell = Shell(build_service)
handler = shell.handler
