"""Act: parse the record, decide, call the gateways - exactly once per order (Powertools idempotency)."""

from __future__ import annotations

from dataclasses import dataclass
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
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

from lambda_handlers.common.addresses import mask_address
from lambda_handlers.common.aws import MIN_RECORD_SECONDS, deadline, make_client
from lambda_handlers.common.errors import TransientError, is_transient
from lambda_handlers.common.order_event import (
    OrderIdReusedError,
    OrderPlaced,
    order_fingerprint,
    parse_record_body,
)
from lambda_handlers.common.shell import (
    Counter,
    RecordService,
    SqsDeadLetterForwarder,
    SqsRecordInfo,
    dead_letter_forwarder,
)
from lambda_handlers.contracts import (
    METRIC_DUPLICATE_SKIPPED,
    METRIC_EMAIL_SENT,
    METRIC_RECIPIENT_SUPPRESSED,
)
from lambda_handlers.order_email_sender.config import load_config
from lambda_handlers.order_email_sender.gateways import (
    DynamoDbSuppressionList,
    EmailGateway,
    SesV2EmailGateway,
    SuppressionList,
)
from lambda_handlers.order_email_sender.logic import EmailSettings, SkipSuppressed, decide

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

IDEMPOTENCY_KEY_PREFIX = "order-confirmation"
"""Idempotency records have the id ``order-confirmation#<md5 of the order id>``."""
IDEMPOTENCY_KEY_FIELD = "order_id"
CONTENT_FIELD = "content_sha256"
"""The idempotent payload is ``{order_id, content_sha256}``: the record is keyed by the order id and stores
the hash of the order's content fingerprint, which Powertools validates on every later delivery."""

STATUS_SENT = "sent"
STATUS_SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class ConfirmationOutcome:
    order_id: str
    status: str
    ses_message_id: str | None
    replayed: bool
    """True if this order was already handled by an earlier delivery (nothing was sent now)."""


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    return {**response, "replayed": True} if isinstance(response, dict) else response


class OrderConfirmationService(RecordService):
    def __init__(
        self,
        *,
        settings: EmailSettings,
        suppressions: SuppressionList,
        email: EmailGateway,
        persistence_store: BasePersistenceLayer,
        idempotency_ttl_seconds: int,
        dead_letters: SqsDeadLetterForwarder | None,
        logger: Logger,
        count: Counter,
    ) -> None:
        self.settings = settings
        self.suppressions = suppressions
        self.email = email
        self.dead_letters = dead_letters
        self.logger = logger
        self.count = count
        self.idempotency_config = IdempotencyConfig(
            event_key_jmespath=IDEMPOTENCY_KEY_FIELD,
            payload_validation_jmespath=CONTENT_FIELD,
            raise_on_no_idempotency_key=True,
            expires_after_seconds=idempotency_ttl_seconds,
            response_hook=_mark_replayed,
        )
        self._confirm_once = idempotent_function(
            self._confirm,
            data_keyword_argument="key",
            persistence_store=persistence_store,
            config=self.idempotency_config,
            key_prefix=IDEMPOTENCY_KEY_PREFIX,
        )

    def begin_batch(self, context: LambdaContext) -> None:
        """In-progress idempotency records expire with the invocation (a timed-out send can be retried)."""
        self.idempotency_config.register_lambda_context(context)

    def _confirm(self, *, key: dict[str, str], order: OrderPlaced) -> dict[str, Any]:
        suppressed = self.suppressions.is_suppressed(order.customer.email)
        decision = decide(order, suppressed=suppressed, settings=self.settings)
        if isinstance(decision, SkipSuppressed):
            return {"status": STATUS_SUPPRESSED}
        message_id = self.email.send(decision.request)
        return {"status": STATUS_SENT, "ses_message_id": message_id}

    def confirm(self, order: OrderPlaced) -> ConfirmationOutcome:
        """Send the confirmation unless the order was already handled or the recipient is suppressed."""
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
            cause = exc.__cause__
            if cause is not None and is_transient(cause):
                raise TransientError("idempotency store is temporarily unavailable") from exc
            raise
        return ConfirmationOutcome(
            order_id=order.order_id,
            status=str(result.get("status", STATUS_SENT)),
            ses_message_id=result.get("ses_message_id"),
            replayed=bool(result.get("replayed", False)),
        )

    def process(self, record: SqsRecordInfo) -> ConfirmationOutcome:
        deadline.require(MIN_RECORD_SECONDS, "a record")
        order = parse_record_body(record.body)
        outcome = self.confirm(order)
        log = {
            "order_id": order.order_id,
            "recipient": mask_address(order.customer.email),
            "ses_message_id": outcome.ses_message_id,
            "message_id": record.message_id,
        }
        if outcome.replayed:
            self.count(METRIC_DUPLICATE_SKIPPED)
            self.logger.info("Order already handled by an earlier delivery; nothing sent", extra=log)
        elif outcome.status == STATUS_SUPPRESSED:
            self.count(METRIC_RECIPIENT_SUPPRESSED)
            self.logger.info("Recipient is on the suppression list; confirmation skipped", extra=log)
        else:
            self.count(METRIC_EMAIL_SENT)
            self.logger.info("Order confirmation sent", extra=log)
        return outcome


def build_service(logger: Logger, count: Counter) -> OrderConfirmationService:
    """Read the configuration (a ``ConfigError`` names the bad variable) and wire the real gateways (boto3
    clients are created on first use)."""
    config = load_config()
    return OrderConfirmationService(
        settings=EmailSettings(
            from_address=config.sender_address,
            configuration_set_name=config.configuration_set_name,
            template_name=config.template_name,
        ),
        suppressions=DynamoDbSuppressionList(config.suppression_table_name),
        email=SesV2EmailGateway(),
        persistence_store=DynamoDBPersistenceLayer(
            table_name=config.idempotency_table_name, boto3_client=make_client("dynamodb")
        ),
        idempotency_ttl_seconds=config.idempotency_ttl_seconds,
        dead_letters=dead_letter_forwarder(config.dead_letter_queue_url),
        logger=logger,
        count=count,
    )
