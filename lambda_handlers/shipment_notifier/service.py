"""Act: parse the update, accept it in the state table, deliver each chosen channel once.

Per record: one conditional write decides whether the update is new, a redelivery or stale (see
:mod:`.logic`); stale updates are counted and dropped. Each chosen channel is then delivered under a
lease in the state item (``lease_<status>_<channel>``, held until the invocation ends) and marked done
after its send: a redelivery delivers only the channels not yet done, a duplicate delivers nothing, and a
concurrent delivery of the same channel waits for the lease (transient, retried). One failing channel does
not stop the others; the record then fails (transient first) and its retry sends only what is missing.

At least once: a channel is sent twice only when the invocation dies (or the provider's answer is lost)
after SNS / SES accepted the message and before its done marker is written; the lease then expires with
the invocation and the retry sends it again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lambda_handlers import contracts
from lambda_handlers.common.addresses import mask_address
from lambda_handlers.common.aws import MIN_RECORD_SECONDS, deadline
from lambda_handlers.common.errors import PermanentError, client_error_code, is_transient
from lambda_handlers.common.shell import (
    Counter,
    RecordService,
    SqsDeadLetterForwarder,
    SqsRecordInfo,
    dead_letter_forwarder,
)
from lambda_handlers.order_email_sender.logic import EmailSettings
from lambda_handlers.shipment_notifier import gateways
from lambda_handlers.shipment_notifier.config import load_config
from lambda_handlers.shipment_notifier.logic import (
    Acceptance,
    ChannelOutcome,
    build_email_request,
    build_sms_request,
    build_webhook_message,
    delivery_marker,
    mask_phone,
)
from lambda_handlers.shipment_notifier.models import ShipmentUpdate, parse_record_body

if TYPE_CHECKING:  # Powertools is imported by the shell first (common/powertools.py)
    from aws_lambda_powertools import Logger

LEASE_SLACK_SECONDS = 2
"""Added to the invocation's remaining time: a lease outlives the invocation that holds it."""
LEASE_OUTSIDE_INVOCATION_SECONDS = 900
_SENT_METRICS = {
    "sms": contracts.METRIC_SHIPMENT_SMS_SENT,
    "email": contracts.METRIC_SHIPMENT_EMAIL_SENT,
    "webhook": contracts.METRIC_SHIPMENT_WEBHOOK_PUBLISHED,
}
_SKIP_METRICS = {
    ChannelOutcome.OPTED_OUT: contracts.METRIC_SHIPMENT_PHONE_OPTED_OUT,
    ChannelOutcome.SUPPRESSED: contracts.METRIC_SHIPMENT_RECIPIENT_SUPPRESSED,
    ChannelOutcome.ALREADY_DONE: contracts.METRIC_SHIPMENT_CHANNEL_ALREADY_SENT,
}


def _first_to_raise(errors: list[Exception]) -> Exception:
    """A transient error before a permanent one (the retry may still deliver), then the first one."""
    for error in errors:
        if not isinstance(error, PermanentError) and is_transient(error):
            return error
    for error in errors:
        if not isinstance(error, PermanentError):
            return error
    return errors[0]


@dataclass(kw_only=True, eq=False)
class ShipmentNotifierService(RecordService):
    state: gateways.ShipmentState
    sms: gateways.SmsSender
    email: gateways.EmailSender
    suppressions: gateways.SuppressionList
    webhooks: gateways.WebhookPublisher
    email_settings: EmailSettings
    sms_sender_id: str | None
    dead_letters: SqsDeadLetterForwarder | None
    logger: Logger
    count: Counter
    clock: Callable[[], float] = time.time

    def process(self, record: SqsRecordInfo) -> None:
        deadline.require(MIN_RECORD_SECONDS, "a record")
        update = parse_record_body(record.body)
        log = {"order_id": update.order_id, "status": update.status, "message_id": record.message_id}
        acceptance = self.state.accept(update, now=datetime.fromtimestamp(self.clock(), UTC))
        if acceptance is Acceptance.STALE:
            self.count(contracts.METRIC_SHIPMENT_STALE_SKIPPED)
            self.logger.info("Update arrived after a later status of the order; nothing sent", extra=log)
            return
        outcomes: dict[str, str] = {}
        errors: list[Exception] = []
        for channel in update.channels:
            try:
                outcomes[channel] = self._deliver(update, channel).value
            except Exception as exc:
                errors.append(exc)
                outcomes[channel] = "failed"
                self.count(contracts.METRIC_SHIPMENT_CHANNEL_FAILED)
                self.logger.warning(
                    "Channel could not be delivered",
                    extra={
                        **log,
                        "channel": channel,
                        "error_type": type(exc).__name__,
                        "error_code": client_error_code(exc) or getattr(exc, "code", None),
                    },
                )
        summary = {**log, "acceptance": acceptance.value, "channels": outcomes}
        if errors:
            raise _first_to_raise(errors)
        if acceptance is Acceptance.REPEAT and all(
            outcome == ChannelOutcome.ALREADY_DONE for outcome in outcomes.values()
        ):
            self.count(contracts.METRIC_SHIPMENT_DUPLICATE_SKIPPED)
            self.logger.info("Update already delivered by an earlier delivery; nothing sent", extra=summary)
            return
        self.logger.info("Shipment update delivered", extra=summary)

    def _lease_until(self, now: int) -> int:
        left = deadline.seconds_left()
        seconds = LEASE_OUTSIDE_INVOCATION_SECONDS if left is None else max(0, math.ceil(left))
        return now + seconds + LEASE_SLACK_SECONDS

    def _deliver(self, update: ShipmentUpdate, channel: str) -> ChannelOutcome:
        marker = delivery_marker(update.status, channel)
        now = int(self.clock())
        if not self.state.claim(update.order_id, marker, lease_until=self._lease_until(now), now=now):
            outcome = ChannelOutcome.ALREADY_DONE
        else:
            try:
                outcome = self._send(update, channel)
            except BaseException:
                self._release(update, marker)
                raise
            self.state.complete(update.order_id, marker)
        self.count(_SENT_METRICS[channel] if outcome is ChannelOutcome.SENT else _SKIP_METRICS[outcome])
        return outcome

    def _release(self, update: ShipmentUpdate, marker: str) -> None:
        """Best effort: without it the lease expires with the invocation."""
        try:
            self.state.release(update.order_id, marker)
        except Exception as exc:
            self.logger.warning(
                "Could not release the channel lease",
                extra={"order_id": update.order_id, "error_type": type(exc).__name__},
            )

    def _send(self, update: ShipmentUpdate, channel: str) -> ChannelOutcome:
        if channel == "sms":
            request = build_sms_request(update, sender_id=self.sms_sender_id)
            if self.sms.is_opted_out(request.phone_number):
                self.logger.info(
                    "Phone number opted out of SMS; SMS skipped",
                    extra={"order_id": update.order_id, "recipient": mask_phone(request.phone_number)},
                )
                return ChannelOutcome.OPTED_OUT
            self.sms.send(request)
            return ChannelOutcome.SENT
        if channel == "email":
            email = build_email_request(update, self.email_settings)
            if self.suppressions.is_suppressed(email.to_address):
                self.logger.info(
                    "Recipient is on the suppression list; e-mail skipped",
                    extra={"order_id": update.order_id, "recipient": mask_address(email.to_address)},
                )
                return ChannelOutcome.SUPPRESSED
            self.email.send(email)
            return ChannelOutcome.SENT
        self.webhooks.publish(build_webhook_message(update))
        return ChannelOutcome.SENT


def build_service(logger: Logger, count: Counter) -> ShipmentNotifierService:
    """Read the configuration (a ``ConfigError`` names the bad variable) and wire the real gateways."""
    config = load_config()
    return ShipmentNotifierService(
        state=gateways.DynamoDbShipmentState(config.state_table_name),
        sms=gateways.SnsSmsGateway(),
        email=gateways.SesV2EmailGateway(),
        suppressions=gateways.DynamoDbSuppressionTable(table_name=config.suppression_table_name),
        webhooks=gateways.SnsPartnerWebhooks(config.partner_topic_arn),
        email_settings=config.email,
        sms_sender_id=config.sms_sender_id,
        dead_letters=dead_letter_forwarder(config.dead_letter_queue_url),
        logger=logger,
        count=count,
    )
