"""Act: parse an SES event, decide, write suppressions / soft bounces; publish one alert summary per batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lambda_handlers import contracts
from lambda_handlers.bounce_processor import gateways, logic
from lambda_handlers.bounce_processor.config import load_config
from lambda_handlers.bounce_processor.models import parse_record_body
from lambda_handlers.common import shell
from lambda_handlers.common.addresses import mask_address
from lambda_handlers.common.errors import client_error_code

if TYPE_CHECKING:  # Powertools is imported by the shell first (lambda_handlers.common.powertools)
    from aws_lambda_powertools import Logger


def _error(exc: Exception) -> dict[str, Any]:
    """What is logged of an error: its type and AWS error code, never its message."""
    return {"error_type": type(exc).__name__, "error_code": client_error_code(exc)}


@dataclass(kw_only=True, eq=False)
class BounceService(shell.RecordService):
    suppressions: gateways.SuppressionStore
    soft_bounces: gateways.SoftBounceStore
    policy: logic.SoftBouncePolicy
    account_suppressions: gateways.AccountSuppressionList | None
    alerts: gateways.AlertPublisher | None
    dead_letters: shell.SqsDeadLetterForwarder | None
    logger: Logger
    count: shell.Counter
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _batch_alerts: dict[str, tuple[logic.Alert, ...]] = field(default_factory=dict, init=False)
    """The alerts of this batch by SQS message id, for the summary published by :meth:`end_batch`."""

    def begin_batch(self, context: object) -> None:
        self._batch_alerts = {}

    def process(self, record: shell.SqsRecordInfo) -> None:
        event = parse_record_body(record.body)
        self.count(event.event_type.metric_name)
        decision = logic.decide(event)
        log = {
            "event_type": event.event_type.value,
            "source_format": event.source_format.value,
            "ses_message_id": event.ses_message_id,
            "order_id": event.mail.order_id if event.mail else None,
            "message_id": record.message_id,
        }
        self.logger.info("SES event received", extra=log)
        if invalid := event.invalid_recipients:
            # The valid recipients are still handled; the skipped entries are named by field path only.
            for _ in invalid:
                self.count(contracts.METRIC_INVALID_RECIPIENT_SKIPPED)
            self.logger.warning(
                "Recipients without a valid e-mail address were skipped",
                extra={**log, "invalid_recipients": list(invalid[:20])},
            )
        if decision.ignored_complaint:
            self.count(contracts.METRIC_NOT_SPAM_COMPLAINT_IGNORED)
            self.logger.info("Complaint with feedback type not-spam; nothing suppressed", extra=log)
        thresholds = [self._record_soft_bounce(soft_bounce) for soft_bounce in decision.soft_bounces]
        for suppression in [*decision.suppressions, *filter(None, thresholds)]:
            self._suppress(suppression)
        for alert in decision.alerts:
            self.count(contracts.METRIC_ALERT)
            recipients = [mask_address(a) for a in alert.addresses]
            self.logger.warning(
                "SES alert", extra={**log, "alert": alert.kind.value, "recipients": recipients}
            )
        if decision.alerts:
            self._batch_alerts[record.message_id] = decision.alerts

    def _record_soft_bounce(self, bounce: logic.SoftBounce) -> logic.Suppression | None:
        now = self.clock()
        expires_at = logic.soft_bounce_expiry(now, self.policy)
        elements = self.soft_bounces.record(bounce.address, bounce.element, expires_at=expires_at)
        assessment = logic.assess_soft_bounces(elements, now=now, policy=self.policy)
        self.count(contracts.METRIC_SOFT_BOUNCE_RECORDED)
        if assessment.stale_elements:
            try:
                self.soft_bounces.forget(bounce.address, assessment.stale_elements)
            except Exception as exc:  # housekeeping only: never fail the record for it
                self.logger.warning("Could not remove stale soft bounces", extra=_error(exc))
        self.logger.info(
            "Soft bounce recorded",
            extra={
                "recipient": mask_address(bounce.address),
                "soft_bounces_in_window": assessment.count_in_window,
                "threshold": self.policy.threshold,
                "ses_message_id": bounce.ses_message_id,
            },
        )
        suppression = logic.threshold_suppression(bounce, assessment)
        if suppression is not None:
            self.count(contracts.METRIC_SOFT_BOUNCE_THRESHOLD_REACHED)
        return suppression

    def _suppress(self, suppression: logic.Suppression) -> None:
        created = self.suppressions.suppress(suppression, suppressed_at=self.clock())
        self.count(
            contracts.METRIC_ADDRESS_SUPPRESSED if created else contracts.METRIC_ADDRESS_ALREADY_SUPPRESSED
        )
        self.logger.info(
            "Address suppressed" if created else "Address was already suppressed",
            extra={
                "recipient": mask_address(suppression.address),
                "reason": suppression.reason.value,
                "source": suppression.source.value,
                "ses_message_id": suppression.ses_message_id,
            },
        )
        account = self.account_suppressions
        if account is not None and account.put(suppression.address, suppression.reason):
            self.count(contracts.METRIC_ACCOUNT_SUPPRESSION_ADDED)

    def end_batch(self) -> list[str]:
        """Publish one alert summary for the batch; if that fails, the records that contributed to it are
        reported as failures too (their writes are idempotent, so a retry is safe)."""
        alerts = [alert for record_alerts in self._batch_alerts.values() for alert in record_alerts]
        summary = logic.summarize_alerts(alerts, now=self.clock())
        if summary is None:
            return []
        if self.alerts is None:
            self.logger.warning(
                "SES alert summary (no ALERT_TOPIC_ARN configured)",
                extra={"subject": summary.subject, "summary": summary.body},
            )
            return []
        try:
            self.alerts.publish(subject=summary.subject, body=summary.body)
        except Exception as exc:
            self.count(contracts.METRIC_ALERT_PUBLISH_FAILED)
            self.logger.error(
                "Publishing the alert summary failed; the contributing records will be retried",
                extra={**_error(exc), "records": len(self._batch_alerts)},
            )
            return list(self._batch_alerts)
        self.count(contracts.METRIC_ALERT_SUMMARY_PUBLISHED)
        self.logger.info("Alert summary published", extra={"alerts": len(alerts)})
        return []


def build_service(logger: Logger, count: shell.Counter) -> BounceService:
    """Read the configuration (a ``ConfigError`` names the bad variable) and wire the real gateways."""
    config = load_config()
    return BounceService(
        suppressions=gateways.DynamoDbSuppressionStore(config.suppression_table_name),
        soft_bounces=gateways.DynamoDbSoftBounceStore(config.soft_bounce_table_name),
        policy=logic.SoftBouncePolicy(
            config.soft_bounce_threshold, timedelta(hours=config.soft_bounce_window_hours)
        ),
        account_suppressions=gateways.SesAccountSuppressionList()
        if config.use_account_suppression_list
        else None,
        alerts=gateways.SnsAlertPublisher(config.alert_topic_arn) if config.alert_topic_arn else None,
        dead_letters=shell.dead_letter_forwarder(config.dead_letter_queue_url),
        logger=logger,
        count=count,
    )
