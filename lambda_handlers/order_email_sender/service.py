"""Act: parse the record, decide, call the gateways - exactly once per order (idempotency records).

Per order: claim its idempotency record (keyed by the order id, validated by the content fingerprint),
read the suppression table, send, complete the record with the result; a failure after the claim
releases it, so SQS's redelivery tries again. A batch of two or more orders makes the per-order requests
once per batch (:meth:`OrderConfirmationService.prepare_batch` and :meth:`~OrderConfirmationService.
end_batch`): one ``TransactWriteItems`` of claims, one ``BatchGetItem`` of suppressions, one
``BatchWriteItem`` of completions, so an order costs its ``SendEmail`` plus 0.3 requests at batch size 10
instead of 4 (``bench/pipelines.py``). Whatever the batched requests leave undecided for an order is done
for that order alone, under the same rules.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambda_handlers.common.addresses import mask_address, normalize_address
from lambda_handlers.common.aws import MIN_RECORD_SECONDS, DeadlineExceededError, deadline
from lambda_handlers.common.errors import client_error_code
from lambda_handlers.common.order_event import (
    OrderIdReusedError,
    OrderPlaced,
    order_fingerprint,
    parse_record_body,
)
from lambda_handlers.common.send_rate import TokenBucket
from lambda_handlers.common.shell import Counter, RecordService, SqsRecordInfo, dead_letter_forwarder
from lambda_handlers.common.suppression import DynamoDbSuppressionTable
from lambda_handlers.contracts import METRIC_DUPLICATE_SKIPPED, METRIC_EMAIL_SENT, METRIC_RECIPIENT_SUPPRESSED
from lambda_handlers.order_email_sender.config import SenderConfig, load_config
from lambda_handlers.order_email_sender.gateways import SesV2EmailGateway
from lambda_handlers.order_email_sender.idempotency import Claim, DynamoDbIdempotencyStore, OrderKey
from lambda_handlers.order_email_sender.logic import build_request

if TYPE_CHECKING:  # Powertools is imported by the shell first (common/powertools.py)
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.utilities.typing import LambdaContext

STATUS_SUPPRESSED = "suppressed"
STATUS_SENT = "sent"
PACING_BURST_SECONDS = 0.3
"""The burst of the sender's token bucket, in seconds of its rate (at least one send)."""


@dataclass
class _Prepared:
    """What the batched requests decided for one record (the first of its order in the batch)."""

    order: OrderPlaced
    key: OrderKey
    claim: Claim | Exception
    suppressed: bool | None = None
    """``None``: not read in the batch (the record reads it alone)."""


class OrderConfirmationService(RecordService):
    def __init__(
        self,
        config: SenderConfig,
        logger: Logger,
        count: Counter,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = config.email
        self.suppressions = DynamoDbSuppressionTable(table_name=config.suppression_table_name)
        self.email = SesV2EmailGateway()
        self.idempotency = DynamoDbIdempotencyStore(
            table_name=config.idempotency_table_name, ttl_seconds=config.idempotency_ttl_seconds
        )
        self.dead_letters = dead_letter_forwarder(config.dead_letter_queue_url)
        self.logger = logger
        self.count = count
        # One bucket per execution environment (it outlives invocations): its share of the SES rate, with
        # bursts of PACING_BURST_SECONDS only. The account's quota is itself a bucket of about one second
        # (https://docs.aws.amazon.com/ses/latest/dg/manage-sending-quotas.html); senders pacing at the full
        # rate with one-second bursts would leave it empty, so any jitter in when sends reach SES would be
        # throttled. Small bursts leave it the headroom (measured: bench/pipelines.py, 1,000 at 14/s).
        rate = config.send_rate_per_second
        self.bucket = (
            TokenBucket(rate, capacity=max(1, math.floor(rate * PACING_BURST_SECONDS))) if rate else None
        )
        self.clock, self.sleep = clock, sleep
        self._in_progress_until_ms = 0
        self._prepared: dict[str, _Prepared] = {}
        self._later: dict[str, OrderKey] = {}
        """message id -> key of a later record of an order that is already in this batch."""
        self._handled: dict[str, str] = {}
        """Order id -> content fingerprint of the orders handled (sent or suppressed) in this batch."""
        self._completions: list[tuple[OrderKey, dict[str, Any]]] = []
        self._releases: list[OrderKey] = []

    def begin_batch(self, context: LambdaContext) -> None:
        """Claims expire with the invocation: after a timeout another delivery may take the order over."""
        self._in_progress_until_ms = int(time.time() * 1000) + context.get_remaining_time_in_millis()
        self._prepared, self._later, self._handled, self._completions, self._releases = {}, {}, {}, [], []

    # -- the batch --------------------------------------------------------------------------------------
    def prepare_batch(self, records: Sequence[SqsRecordInfo]) -> None:
        deadline.require(MIN_RECORD_SECONDS, "a batch")
        firsts: dict[str, _Prepared] = {}  # order id -> the first record of the order
        for record in records:
            try:
                order = parse_record_body(record.body)
            except Exception:  # process() meets the same error and applies the policy to it
                continue
            key = OrderKey(order.order_id, order_fingerprint(order))
            if order.order_id in firsts:
                self._later[record.message_id] = key
            else:
                firsts[order.order_id] = self._prepared[record.message_id] = _Prepared(order, key, None)
        if len(firsts) < 2:
            self._prepared.clear()
            return
        # An order whose transaction failed gets that error: its record fails under the error policy
        # (throttled after retries: transient, SQS delivers it again).
        claims = self.idempotency.claim_all([p.key for p in firsts.values()], self._in_progress_until_ms)
        for message_id, prepared in list(self._prepared.items()):
            if prepared.order.order_id in claims:
                prepared.claim = claims[prepared.order.order_id]
            else:
                del self._prepared[message_id]  # undecided: claimed alone in process()
        claimed = [p for p in self._prepared.values() if p.claim is None]
        if len(claimed) < 2:
            return
        try:
            suppressed = self.suppressions.suppressed([p.order.customer.email for p in claimed])
        except Exception as exc:  # each record reads its own address in process()
            self.logger.warning(
                "Batched suppression read failed; reading per record",
                extra={"error_type": type(exc).__name__, "error_code": client_error_code(exc)},
            )
            return
        for prepared in claimed:
            prepared.suppressed = normalize_address(prepared.order.customer.email) in suppressed

    def end_batch(self) -> list[str]:
        """Complete this batch's claims and release those of records not started. A completion that cannot
        be written is logged, and its record still counts as processed: the e-mail went out, and failing
        the record would send it again."""
        completions, self._completions = self._completions, []
        releases = self._releases + [p.key for p in self._prepared.values() if p.claim is None]
        self._prepared, self._later, self._handled, self._releases = {}, {}, {}, []
        if not completions and not releases:
            return []
        try:
            left, left_releases = self.idempotency.write_all(
                completions, releases, self._in_progress_until_ms
            )
        except Exception as exc:
            self.logger.warning(
                "Batched idempotency writes failed; writing per record",
                extra={"error_type": type(exc).__name__, "error_code": client_error_code(exc)},
            )
            left, left_releases = [key for key, _ in completions], releases
        results = {key.order_id: result for key, result in completions}
        for key in left:
            try:
                self.idempotency.complete(key, results[key.order_id], self._in_progress_until_ms)
            except Exception as exc:
                self.logger.error(
                    "Idempotency record not completed; it stays in progress until the invocation's end, "
                    "after which a redelivery of this order would be sent again",
                    extra={
                        "order_id": key.order_id,
                        "error_type": type(exc).__name__,
                        "error_code": client_error_code(exc),
                    },
                )
        for key in left_releases:
            self._release(key)
        return []

    # -- one record ---------------------------------------------------------------------------------------
    def process(self, record: SqsRecordInfo) -> None:
        later = self._later.pop(record.message_id, None)
        prepared = self._prepared.pop(record.message_id, None)
        if later is not None and later.order_id in self._handled:
            self._duplicate_in_batch(record, later)
            return
        if prepared is None:
            deadline.require(MIN_RECORD_SECONDS, "a record")
            order = parse_record_body(record.body)
            key = OrderKey(order.order_id, order_fingerprint(order))
            claim: Claim | Exception = self.idempotency.claim(key, self._in_progress_until_ms)
            suppressed: bool | None = None
            batched = False
        else:
            if prepared.claim is None:
                try:
                    deadline.require(MIN_RECORD_SECONDS, "a record")
                except DeadlineExceededError:
                    self._releases.append(prepared.key)  # claimed in the batch, never started: released
                    raise
            order, key, claim, suppressed, batched = (
                prepared.order,
                prepared.key,
                prepared.claim,
                prepared.suppressed,
                True,
            )
        if isinstance(claim, Exception):
            raise claim
        log = {
            "order_id": order.order_id,
            "recipient": mask_address(order.customer.email),
            "message_id": record.message_id,
        }
        if claim is not None:  # an earlier or concurrent delivery has the order
            replayed = claim.replay(key.fingerprint)
            self.count(METRIC_DUPLICATE_SKIPPED)
            self.logger.info(
                "Order already handled by an earlier delivery; nothing sent",
                extra={**log, "ses_message_id": replayed.get("ses_message_id")},
            )
            return
        try:
            result = self._confirm(order, suppressed)
        except BaseException:
            self._release(key)
            raise
        if batched:
            self._completions.append((key, result))
        else:
            self.idempotency.complete(key, result, self._in_progress_until_ms)
        self._handled[order.order_id] = key.fingerprint
        if result["status"] == STATUS_SUPPRESSED:
            self.count(METRIC_RECIPIENT_SUPPRESSED)
            self.logger.info("Recipient is on the suppression list; confirmation skipped", extra=log)
        else:
            self.count(METRIC_EMAIL_SENT)
            self.logger.info(
                "Order confirmation sent", extra={**log, "ses_message_id": result["ses_message_id"]}
            )

    def _confirm(self, order: OrderPlaced, suppressed: bool | None) -> dict[str, Any]:
        """Runs once per order; its result is stored in the completed record (suppressed ones too)."""
        if suppressed is None:
            suppressed = self.suppressions.is_suppressed(order.customer.email)
        if suppressed:
            return {"status": STATUS_SUPPRESSED}
        self._pace()
        return {"status": STATUS_SENT, "ses_message_id": self.email.send(build_request(order, self.settings))}

    def _pace(self) -> None:
        """Wait for this execution environment's share of the SES send rate (when one is configured)."""
        if self.bucket is None:
            return
        wait = self.bucket.delay(1, self.clock())
        if wait > 0:
            deadline.require(wait + MIN_RECORD_SECONDS, "a send at the configured rate")
            self.sleep(wait)
        self.bucket.take(1, self.clock())

    def _release(self, key: OrderKey) -> None:
        try:
            self.idempotency.release(key)
        except Exception as exc:  # the claim then ends with the invocation (in_progress_expiration)
            self.logger.warning(
                "Releasing the idempotency record failed",
                extra={
                    "order_id": key.order_id,
                    "error_type": type(exc).__name__,
                    "error_code": client_error_code(exc),
                },
            )

    def _duplicate_in_batch(self, record: SqsRecordInfo, key: OrderKey) -> None:
        """A later record of an order already handled in this batch: the same content is a duplicate."""
        if self._handled[key.order_id] != key.fingerprint:
            raise OrderIdReusedError()
        self.count(METRIC_DUPLICATE_SKIPPED)
        self.logger.info(
            "Order already handled earlier in this batch; nothing sent",
            extra={"order_id": key.order_id, "message_id": record.message_id},
        )


def build_service(logger: Logger, count: Counter) -> OrderConfirmationService:
    return OrderConfirmationService(load_config(), logger, count)  # a ConfigError names the bad variable
