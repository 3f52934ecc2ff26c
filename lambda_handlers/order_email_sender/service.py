"""Act: parse the record, decide, call the gateways - exactly once per order (Powertools idempotency)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)

from lambda_handlers.common.addresses import mask_address
from lambda_handlers.common.aws import MIN_RECORD_SECONDS, deadline, make_client
from lambda_handlers.common.errors import TransientError, is_transient
from lambda_handlers.common.order_event import (
    OrderIdReusedError,
    OrderPlaced,
    order_fingerprint,
    parse_record_body,
)
from lambda_handlers.common.shell import Counter, RecordService, SqsRecordInfo, dead_letter_forwarder
from lambda_handlers.contracts import METRIC_DUPLICATE_SKIPPED, METRIC_EMAIL_SENT, METRIC_RECIPIENT_SUPPRESSED
from lambda_handlers.order_email_sender.config import SenderConfig, load_config
from lambda_handlers.order_email_sender.gateways import DynamoDbSuppressionList, SesV2EmailGateway
from lambda_handlers.order_email_sender.logic import build_request

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

# The idempotent payload is {order_id, content_sha256}: the record (id ``order-confirmation#<md5 of the
# order id>``) is keyed by the order id and stores a hash of the order's content fingerprint, which
# Powertools validates on every later delivery.
IDEMPOTENCY_KEY_PREFIX = "order-confirmation"
IDEMPOTENCY_KEY_FIELD = "order_id"
CONTENT_FIELD = "content_sha256"
STATUS_SUPPRESSED = "suppressed"


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    """Powertools' hook for a result returned from an earlier, completed delivery."""
    return {**response, "replayed": True} if isinstance(response, dict) else response


class OrderConfirmationService(RecordService):
    def __init__(self, config: SenderConfig, logger: Logger, count: Counter) -> None:
        self.settings = config.email
        self.suppressions = DynamoDbSuppressionList(config.suppression_table_name)
        self.email = SesV2EmailGateway()
        self.dead_letters = dead_letter_forwarder(config.dead_letter_queue_url)
        self.logger = logger
        self.count = count
        self.idempotency_config = IdempotencyConfig(
            event_key_jmespath=IDEMPOTENCY_KEY_FIELD,
            payload_validation_jmespath=CONTENT_FIELD,
            raise_on_no_idempotency_key=True,
            expires_after_seconds=config.idempotency_ttl_seconds,
            response_hook=_mark_replayed,
        )
        self._confirm_once = idempotent_function(
            self._confirm,
            data_keyword_argument="key",
            persistence_store=DynamoDBPersistenceLayer(
                table_name=config.idempotency_table_name, boto3_client=make_client("dynamodb")
            ),
            config=self.idempotency_config,
            key_prefix=IDEMPOTENCY_KEY_PREFIX,
        )

    def begin_batch(self, context: LambdaContext) -> None:
        """In-progress idempotency records expire with the invocation (a timed-out send can be retried)."""
        self.idempotency_config.register_lambda_context(context)

    def _confirm(self, *, key: dict[str, str], order: OrderPlaced) -> dict[str, Any]:
        """Runs once per order; its result is stored as the idempotent result (suppressed ones too)."""
        if self.suppressions.is_suppressed(order.customer.email):
            return {"status": STATUS_SUPPRESSED}
        return {"status": "sent", "ses_message_id": self.email.send(build_request(order, self.settings))}

    def process(self, record: SqsRecordInfo) -> None:
        deadline.require(MIN_RECORD_SECONDS, "a record")
        order = parse_record_body(record.body)
        key = {IDEMPOTENCY_KEY_FIELD: order.order_id, CONTENT_FIELD: order_fingerprint(order)}
        try:
            result = self._confirm_once(key=key, order=order)
        except IdempotencyValidationError as exc:
            # The order id was handled (or is being handled) with other content: never mail it.
            raise OrderIdReusedError() from exc
        except IdempotencyAlreadyInProgressError as exc:
            # Another delivery of the same order is being processed right now: try again later.
            raise TransientError("order is already being processed by another invocation") from exc
        except IdempotencyPersistenceLayerError as exc:
            if exc.__cause__ is not None and is_transient(exc.__cause__):
                raise TransientError("idempotency store is temporarily unavailable") from exc
            raise
        log = {
            "order_id": order.order_id,
            "recipient": mask_address(order.customer.email),
            "ses_message_id": result.get("ses_message_id"),
            "message_id": record.message_id,
        }
        if result.get("replayed"):
            self.count(METRIC_DUPLICATE_SKIPPED)
            self.logger.info("Order already handled by an earlier delivery; nothing sent", extra=log)
        elif result.get("status") == STATUS_SUPPRESSED:
            self.count(METRIC_RECIPIENT_SUPPRESSED)
            self.logger.info("Recipient is on the suppression list; confirmation skipped", extra=log)
        else:
            self.count(METRIC_EMAIL_SENT)
            self.logger.info("Order confirmation sent", extra=log)


def build_service(logger: Logger, count: Counter) -> OrderConfirmationService:
    return OrderConfirmationService(load_config(), logger, count)  # a ConfigError names the bad variable
