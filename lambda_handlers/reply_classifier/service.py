"""Act: parse the notification, read the stored mail, classify it, forward human replies.

Delivery is at least once: a record retried after a partial forward (queue sent, e-mail throttled) sends
the queue message again (FIFO queues deduplicate it by the SES message id).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambda_handlers.common.addresses import mask_address
from lambda_handlers.common.aws import MIN_RECORD_SECONDS, deadline
from lambda_handlers.common.errors import SchemaError
from lambda_handlers.common.shell import Counter, RecordService, SqsRecordInfo, dead_letter_forwarder
from lambda_handlers.contracts import (
    METRIC_AUTO_RESPONSE_RECEIVED,
    METRIC_INBOUND_BOUNCE_RECEIVED,
    METRIC_INBOUND_NOTIFICATION_IGNORED,
    METRIC_REPLY_FORWARDED_BY_EMAIL,
    METRIC_REPLY_FORWARDED_TO_QUEUE,
)
from lambda_handlers.reply_classifier.config import ClassifierConfig, load_config
from lambda_handlers.reply_classifier.gateways import S3MailStore, SesV2Forwarder, SqsReplyQueue
from lambda_handlers.reply_classifier.logic import (
    ReplyKind,
    classify,
    forward_request,
    parse_mail,
    queue_message,
    sender_of,
)
from lambda_handlers.reply_classifier.models import parse_notification

if TYPE_CHECKING:  # Powertools is imported by the shell first (common/powertools.py)
    from aws_lambda_powertools import Logger


class ReplyClassifierService(RecordService):
    def __init__(
        self,
        config: ClassifierConfig,
        logger: Logger,
        count: Counter,
        *,
        store: Any = None,
        forwarder: Any = None,
        queue: Any = None,
    ) -> None:
        self.config = config
        self.logger = logger
        self.count = count
        self.store = store or S3MailStore()
        self.forwarder = forwarder or (SesV2Forwarder() if config.forward_to_address else None)
        self.queue = queue or (SqsReplyQueue(config.forward_queue_url) if config.forward_queue_url else None)
        self.dead_letters = dead_letter_forwarder(config.dead_letter_queue_url)

    def process(self, record: SqsRecordInfo) -> None:
        deadline.require(MIN_RECORD_SECONDS, "a record")
        stored = parse_notification(record.body)
        if stored is None:
            self.count(METRIC_INBOUND_NOTIFICATION_IGNORED)
            self.logger.info(
                "Notification announces no stored mail; ignored", extra={"message_id": record.message_id}
            )
            return
        if stored.bucket != self.config.bucket_name:
            raise SchemaError("receipt.action.bucketName is not this deployment's inbound bucket")
        raw = self.store.read(stored.bucket, stored.key, max_bytes=self.config.max_message_bytes)
        message = parse_mail(raw)
        classification = classify(message)
        log: dict[str, Any] = {
            "message_id": record.message_id,
            "ses_message_id": stored.ses_message_id,
            "classification": classification.kind.value,
            "signals": list(classification.signals),
            "size_bytes": len(raw),
        }
        if classification.kind is ReplyKind.BOUNCE:
            self.count(METRIC_INBOUND_BOUNCE_RECEIVED)
            self.logger.info("Delivery report at the reply address; not forwarded", extra=log)
            return
        if classification.kind is ReplyKind.AUTO_RESPONSE:
            self.count(METRIC_AUTO_RESPONSE_RECEIVED)
            self.logger.info("Automatic response; recorded, not forwarded", extra=log)
            return
        sender = sender_of(message)
        log["sender"] = mask_address(sender.from_address)
        if self.queue is not None:
            self.queue.send(
                queue_message(
                    message,
                    sender,
                    bucket=stored.bucket,
                    key=stored.key,
                    ses_message_id=stored.ses_message_id,
                    received_at=stored.received_at,
                ),
                deduplication_id=stored.ses_message_id,
            )
            self.count(METRIC_REPLY_FORWARDED_TO_QUEUE)
        if self.forwarder is not None and self.config.forward_to_address and self.config.forward_from_address:
            log["forward_ses_message_id"] = self.forwarder.send(
                forward_request(
                    message,
                    sender,
                    from_address=self.config.forward_from_address,
                    to_address=self.config.forward_to_address,
                )
            )
            self.count(METRIC_REPLY_FORWARDED_BY_EMAIL)
        self.logger.info("Human reply forwarded", extra=log)


def build_service(logger: Logger, count: Counter) -> ReplyClassifierService:
    return ReplyClassifierService(load_config(), logger, count)  # a ConfigError names the bad variable
