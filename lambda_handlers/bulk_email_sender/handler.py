"""Lambda entry point: ``handler(event, context)`` takes an SQS batch of ``campaign.send`` requests (and the
next-page messages the sender queues itself) and returns ``{"batchItemFailures": [...]}``."""

from lambda_handlers.bulk_email_sender.service import build_service
from lambda_handlers.common.shell import Shell

shell = Shell(build_service)
handler = shell.handler
