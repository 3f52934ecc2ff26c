"""Act: parse the record, build the item, write it once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from lambda_handlers.common.aws import MIN_RECORD_SECONDS, deadline
from lambda_handlers.common.order_event import OrderIdReusedError, parse_record_body
from lambda_handlers.common.shell import (
    Counter,
    RecordService,
    SqsDeadLetterForwarder,
    SqsRecordInfo,
    dead_letter_forwarder,
)
from lambda_handlers.contracts import (
    METRIC_DUPLICATE_ORDER,
    METRIC_ORDER_ID_CONFLICT,
    METRIC_ORDER_STORED,
)
from lambda_handlers.order_writer.config import load_config
from lambda_handlers.order_writer.gateways import DynamoDbOrderStore, OrderStore
from lambda_handlers.order_writer.logic import ExistingOrder, classify_existing, order_record


class OrderWriterService(RecordService):
    def __init__(
        self,
        *,
        store: OrderStore,
        dead_letters: SqsDeadLetterForwarder | None,
        logger: Logger,
        count: Counter,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.dead_letters = dead_letters
        self.logger = logger
        self.count = count
        self.clock = clock

    def process(self, record: SqsRecordInfo) -> ExistingOrder | None:
        """Returns ``None`` when the order was stored, else how the existing item was treated."""
        deadline.require(MIN_RECORD_SECONDS, "a record")
        order = parse_record_body(record.body)
        stored = order_record(order, received_at=self.clock(), source_message_id=record.message_id)
        result = self.store.put_if_absent(stored.item)
        log = {"order_id": order.order_id, "message_id": record.message_id}
        if result.created:
            self.count(METRIC_ORDER_STORED)
            self.logger.info("Order stored", extra=log)
            return None
        existing = classify_existing(
            stored_fingerprint=result.stored_fingerprint, new_fingerprint=stored.fingerprint
        )
        if existing is ExistingOrder.CONFLICT:
            self.count(METRIC_ORDER_ID_CONFLICT)
            raise OrderIdReusedError()
        self.count(METRIC_DUPLICATE_ORDER)
        self.logger.info("Order already stored (redelivery); nothing written", extra=log)
        return existing


def build_service(logger: Logger, count: Counter) -> OrderWriterService:
    """Read the configuration (a ``ConfigError`` names the bad variable) and wire the real gateways."""
    config = load_config()
    return OrderWriterService(
        store=DynamoDbOrderStore(config.orders_table_name),
        dead_letters=dead_letter_forwarder(config.dead_letter_queue_url),
        logger=logger,
        count=count,
    )
