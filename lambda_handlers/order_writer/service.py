"""Act: parse the record, build the item, write it once."""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from lambda_handlers.common.aws import MIN_RECORD_SECONDS, deadline
from lambda_handlers.common.order_event import OrderIdReusedError, parse_record_body
from lambda_handlers.common.shell import Counter, RecordService, SqsRecordInfo, dead_letter_forwarder
from lambda_handlers.contracts import METRIC_DUPLICATE_ORDER, METRIC_ORDER_ID_CONFLICT, METRIC_ORDER_STORED
from lambda_handlers.order_writer.config import WriterConfig, load_config
from lambda_handlers.order_writer.gateways import DynamoDbOrderStore
from lambda_handlers.order_writer.logic import is_conflict, order_item


class OrderWriterService(RecordService):
    def __init__(self, config: WriterConfig, logger: Logger, count: Counter) -> None:
        self.store = DynamoDbOrderStore(config.orders_table_name)
        self.dead_letters = dead_letter_forwarder(config.dead_letter_queue_url)
        self.logger = logger
        self.count = count

    def process(self, record: SqsRecordInfo) -> None:
        deadline.require(MIN_RECORD_SECONDS, "a record")
        order = parse_record_body(record.body)
        item = order_item(order, received_at=datetime.now(UTC), source_message_id=record.message_id)
        result = self.store.put_if_absent(item)
        log = {"order_id": order.order_id, "message_id": record.message_id}
        if result.created:
            self.count(METRIC_ORDER_STORED)
            self.logger.info("Order stored", extra=log)
        elif is_conflict(
            stored_fingerprint=result.stored_fingerprint, new_fingerprint=item["content_sha256"]
        ):
            self.count(METRIC_ORDER_ID_CONFLICT)
            raise OrderIdReusedError()
        else:
            self.count(METRIC_DUPLICATE_ORDER)
            self.logger.info("Order already stored (redelivery); nothing written", extra=log)


def build_service(logger: Logger, count: Counter) -> OrderWriterService:
    return OrderWriterService(load_config(), logger, count)  # a ConfigError names the bad variable
