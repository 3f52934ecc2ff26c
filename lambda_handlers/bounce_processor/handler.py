"""Lambda entry point of the bounce processor (thin Powertools shell).

``handler(event, context)`` receives an SQS batch of SES notifications and returns
``{"batchItemFailures": [...]}`` (the event source mapping uses ``ReportBatchItemFailures``). After the
records are processed one alert summary is published for the whole batch; if that fails, the records
that contributed to it are reported as failures too (their writes are idempotent, so a retry is safe).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_handlers.bounce_processor.config import load_config
from lambda_handlers.bounce_processor.logic import Alert
from lambda_handlers.bounce_processor.service import BounceService, build_service
from lambda_handlers.common.aws import deadline
from lambda_handlers.common.config import metrics_namespace
from lambda_handlers.common.lazy import Lazy
from lambda_handlers.common.observability import counter
from lambda_handlers.common.records import SqsRecordInfo, process_with_error_policy

logger = Logger()
metrics = Metrics(namespace=metrics_namespace())
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
count = counter(metrics)

_service: Lazy[BounceService] = Lazy(lambda: build_service(load_config(), logger=logger, count=count))
#: The service for this execution environment, built (config read, validated) on first use.
get_service = _service.get
#: Forget the cached service (tests), or install a prepared one.
reset_service = _service.reset


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    service = get_service()  # a ConfigError fails the invocation loudly (deployment bug)
    alerts_by_record: dict[str, tuple[Alert, ...]] = {}

    def record_handler(record: SQSRecord) -> None:
        info = SqsRecordInfo.from_raw(record.raw_event)
        alerts = process_with_error_policy(
            info, service.process, forwarder=service.dead_letters, logger=logger, count=count
        )
        if alerts:
            alerts_by_record[info.message_id] = alerts

    with deadline.running(context):  # every AWS call is bounded by the time left
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for message_id in service.publish_alert_summary(alerts_by_record):
            if message_id not in failed:
                response["batchItemFailures"].append({"itemIdentifier": message_id})
                failed.add(message_id)
    return response
