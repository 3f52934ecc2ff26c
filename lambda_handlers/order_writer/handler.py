"""Lambda entry point of the order writer (thin Powertools shell).

``handler(event, context)`` receives an SQS batch of ``order.placed`` events and returns
``{"batchItemFailures": [...]}`` (the event source mapping uses ``ReportBatchItemFailures``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_handlers.common.aws import deadline
from lambda_handlers.common.config import metrics_namespace
from lambda_handlers.common.lazy import Lazy
from lambda_handlers.common.observability import counter
from lambda_handlers.common.records import SqsRecordInfo, process_with_error_policy
from lambda_handlers.order_writer.config import load_config
from lambda_handlers.order_writer.service import OrderWriterService, build_service

logger = Logger()
metrics = Metrics(namespace=metrics_namespace())
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
count = counter(metrics)

_service: Lazy[OrderWriterService] = Lazy(lambda: build_service(load_config(), logger=logger, count=count))
#: The service for this execution environment, built (config read, validated) on first use.
get_service = _service.get
#: Forget the cached service (tests), or install a prepared one.
reset_service = _service.reset


def record_handler(record: SQSRecord) -> None:
    service = get_service()
    process_with_error_policy(
        SqsRecordInfo.from_raw(record.raw_event),
        service.process,
        forwarder=service.dead_letters,
        logger=logger,
        count=count,
    )


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    get_service()  # a ConfigError fails the invocation loudly (deployment bug)
    with deadline.running(context):  # every AWS call and record start is bounded by the time left
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
