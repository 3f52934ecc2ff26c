"""Act: parse the record, build the item, write it once.

A batch of two or more orders is written with one ``TransactWriteItems`` (:meth:`prepare_batch`, about
0.1 requests per order at batch size 10 instead of one ``PutItem`` each, measured with
``bench/pipelines.py``); whatever the transaction leaves undecided is put alone in :meth:`process`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lambda_handlers.common.aws import MIN_RECORD_SECONDS, deadline
from lambda_handlers.common.order_event import OrderIdReusedError, parse_record_body
from lambda_handlers.common.shell import Counter, RecordService, SqsRecordInfo, dead_letter_forwarder
from lambda_handlers.contracts import METRIC_DUPLICATE_ORDER, METRIC_ORDER_ID_CONFLICT, METRIC_ORDER_STORED
from lambda_handlers.order_writer.config import WriterConfig, load_config
from lambda_handlers.order_writer.gateways import DynamoDbOrderStore, PutResult
from lambda_handlers.order_writer.logic import is_conflict, order_item

if TYPE_CHECKING:  # Powertools is imported by the shell first (common/powertools.py)
    from aws_lambda_powertools import Logger


class OrderWriterService(RecordService):
    def __init__(self, config: WriterConfig, logger: Logger, count: Counter) -> None:
        self.store = DynamoDbOrderStore(config.orders_table_name)
        self.dead_letters = dead_letter_forwarder(config.dead_letter_queue_url)
        self.logger = logger
        self.count = count
        self._prepared: dict[str, tuple[dict[str, Any], PutResult | Exception]] = {}
        """message id -> (item, the batched write's result or its transient error), for this batch."""

    def prepare_batch(self, records: Sequence[SqsRecordInfo]) -> None:
        self._prepared = {}
        deadline.require(MIN_RECORD_SECONDS, "a batch")
        received_at = datetime.now(UTC)
        items: dict[str, tuple[str, dict[str, Any]]] = {}  # order id -> (message id, item): first wins
        for record in records:
            try:
                order = parse_record_body(record.body)
            except Exception:  # process() meets the same error and applies the policy to it
                continue
            if order.order_id not in items:
                items[order.order_id] = (
                    record.message_id,
                    order_item(order, received_at=received_at, source_message_id=record.message_id),
                )
        if len(items) < 2:
            return
        # An order whose transaction failed gets that error: its record fails under the error policy
        # (throttled after retries: transient, SQS delivers it again).
        results = self.store.put_all_if_absent([item for _, item in items.values()])
        for order_id, (message_id, item) in items.items():
            if order_id in results:
                self._prepared[message_id] = (item, results[order_id])

    def end_batch(self) -> list[str]:
        self._prepared = {}
        return []

    def process(self, record: SqsRecordInfo) -> None:
        prepared = self._prepared.pop(record.message_id, None)
        if prepared is None:
            deadline.require(MIN_RECORD_SECONDS, "a record")
            order = parse_record_body(record.body)
            item = order_item(order, received_at=datetime.now(UTC), source_message_id=record.message_id)
            result: PutResult | Exception = self.store.put_if_absent(item)
        else:
            item, result = prepared
        if isinstance(result, Exception):
            raise result
        log = {"order_id": item["order_id"], "message_id": record.message_id}
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
