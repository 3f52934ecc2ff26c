"""Act: parse an SES event, decide, write suppressions / soft bounces; publish one alert summary per batch."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger

from lambda_handlers.bounce_processor.config import load_config
from lambda_handlers.bounce_processor.gateways import (
    AccountSuppressionList,
    AlertPublisher,
    DynamoDbSoftBounceStore,
    DynamoDbSuppressionStore,
    SesAccountSuppressionList,
    SnsAlertPublisher,
    SoftBounceStore,
    SuppressionStore,
)
from lambda_handlers.bounce_processor.logic import (
    Alert,
    SoftBounce,
    SoftBouncePolicy,
    Suppression,
    assess_soft_bounces,
    decide,
    soft_bounce_expiry,
    summarize_alerts,
    threshold_suppression,
)
from lambda_handlers.bounce_processor.models import parse_record_body
from lambda_handlers.common.addresses import mask_address
from lambda_handlers.common.errors import client_error_code
from lambda_handlers.common.shell import (
    Counter,
    RecordService,
    SqsDeadLetterForwarder,
    SqsRecordInfo,
    dead_letter_forwarder,
)
from lambda_handlers.contracts import (
    METRIC_ACCOUNT_SUPPRESSION_ADDED,
    METRIC_ADDRESS_ALREADY_SUPPRESSED,
    METRIC_ADDRESS_SUPPRESSED,
    METRIC_ALERT,
    METRIC_ALERT_PUBLISH_FAILED,
    METRIC_ALERT_SUMMARY_PUBLISHED,
    METRIC_INVALID_RECIPIENT_SKIPPED,
    METRIC_NOT_SPAM_COMPLAINT_IGNORED,
    METRIC_SOFT_BOUNCE_RECORDED,
    METRIC_SOFT_BOUNCE_THRESHOLD_REACHED,
)


class BounceService(RecordService):
    def __init__(
        self,
        *,
        suppressions: SuppressionStore,
        soft_bounces: SoftBounceStore,
        policy: SoftBouncePolicy,
        account_suppressions: AccountSuppressionList | None,
        alerts: AlertPublisher | None,
        dead_letters: SqsDeadLetterForwarder | None,
        logger: Logger,
        count: Counter,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.suppressions = suppressions
        self.soft_bounces = soft_bounces
        self.policy = policy
        self.account_suppressions = account_suppressions
        self.alerts = alerts
        self.dead_letters = dead_letters
        self.logger = logger
        self.count = count
        self.clock = clock
        self._batch_alerts: dict[str, tuple[Alert, ...]] = {}

    def begin_batch(self, context: object) -> None:
        self._batch_alerts = {}

    def end_batch(self) -> list[str]:
        """Publish one alert summary for the batch; if that fails, the records that contributed to it are
        reported as failures too (their writes are idempotent, so a retry is safe)."""
        return self.publish_alert_summary(self._batch_alerts)

    def process(self, record: SqsRecordInfo) -> tuple[Alert, ...]:
        """Handle one SES event; returns the alerts it contributes to the batch summary."""
        event = parse_record_body(record.body)
        self.count(event.event_type.metric_name)
        decision = decide(event)
        log = {
            "event_type": event.event_type.value,
            "source_format": event.source_format.value,
            "ses_message_id": event.ses_message_id,
            "order_id": event.mail.order_id if event.mail else None,
            "message_id": record.message_id,
        }
        self.logger.info("SES event received", extra=log)
        if event.invalid_recipients:
            # The valid recipients are still handled; the skipped entries are named by field path only.
            for _ in event.invalid_recipients:
                self.count(METRIC_INVALID_RECIPIENT_SKIPPED)
            self.logger.warning(
                "Recipients without a valid e-mail address were skipped",
                extra={**log, "invalid_recipients": list(event.invalid_recipients[:20])},
            )
        if decision.ignored_complaint:
            self.count(METRIC_NOT_SPAM_COMPLAINT_IGNORED)
            self.logger.info("Complaint with feedback type not-spam; nothing suppressed", extra=log)

        suppressions = list(decision.suppressions)
        for soft_bounce in decision.soft_bounces:
            threshold = self._record_soft_bounce(soft_bounce)
            if threshold is not None:
                suppressions.append(threshold)
        for suppression in suppressions:
            self._suppress(suppression)
        for alert in decision.alerts:
            self.count(METRIC_ALERT)
            self.logger.warning(
                "SES alert",
                extra={
                    **log,
                    "alert": alert.kind.value,
                    "recipients": [mask_address(a) for a in alert.addresses],
                },
            )
        if decision.alerts:
            self._batch_alerts[record.message_id] = decision.alerts
        return decision.alerts

    def _record_soft_bounce(self, bounce: SoftBounce) -> Suppression | None:
        now = self.clock()
        elements = self.soft_bounces.record(
            bounce.address, bounce.element, expires_at=soft_bounce_expiry(now, self.policy)
        )
        assessment = assess_soft_bounces(elements, now=now, policy=self.policy)
        self.count(METRIC_SOFT_BOUNCE_RECORDED)
        if assessment.stale_elements:
            try:
                self.soft_bounces.forget(bounce.address, assessment.stale_elements)
            except Exception as exc:  # housekeeping only: never fail the record for it
                self.logger.warning(
                    "Could not remove stale soft bounces",
                    extra={"error_type": type(exc).__name__, "error_code": client_error_code(exc)},
                )
        self.logger.info(
            "Soft bounce recorded",
            extra={
                "recipient": mask_address(bounce.address),
                "soft_bounces_in_window": assessment.count_in_window,
                "threshold": self.policy.threshold,
                "ses_message_id": bounce.ses_message_id,
            },
        )
        suppression = threshold_suppression(bounce, assessment)
        if suppression is not None:
            self.count(METRIC_SOFT_BOUNCE_THRESHOLD_REACHED)
        return suppression

    def _suppress(self, suppression: Suppression) -> None:
        created = self.suppressions.suppress(suppression, suppressed_at=self.clock())
        self.count(METRIC_ADDRESS_SUPPRESSED if created else METRIC_ADDRESS_ALREADY_SUPPRESSED)
        self.logger.info(
            "Address suppressed" if created else "Address was already suppressed",
            extra={
                "recipient": mask_address(suppression.address),
                "reason": suppression.reason.value,
                "source": suppression.source.value,
                "ses_message_id": suppression.ses_message_id,
            },
        )
        if self.account_suppressions is not None and self.account_suppressions.put(
            suppression.address, suppression.reason
        ):
            self.count(METRIC_ACCOUNT_SUPPRESSION_ADDED)

    def publish_alert_summary(self, alerts_by_record: Mapping[str, tuple[Alert, ...]]) -> list[str]:
        """Publish one summary for the batch; returns the SQS message ids to report as failures."""
        alerts = [alert for record_alerts in alerts_by_record.values() for alert in record_alerts]
        summary = summarize_alerts(alerts, now=self.clock())
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
            self.count(METRIC_ALERT_PUBLISH_FAILED)
            self.logger.error(
                "Publishing the alert summary failed; the contributing records will be retried",
                extra={
                    "error_type": type(exc).__name__,
                    "error_code": client_error_code(exc),
                    "records": len(alerts_by_record),
                },
            )
            return list(alerts_by_record)
        self.count(METRIC_ALERT_SUMMARY_PUBLISHED)
        self.logger.info("Alert summary published", extra={"alerts": len(alerts)})
        return []


def build_service(logger: Logger, count: Counter) -> BounceService:
    """Read the configuration (a ``ConfigError`` names the bad variable) and wire the real gateways."""
    config = load_config()
    return BounceService(
        suppressions=DynamoDbSuppressionStore(config.suppression_table_name),
        soft_bounces=DynamoDbSoftBounceStore(config.soft_bounce_table_name),
        policy=SoftBouncePolicy(
            threshold=config.soft_bounce_threshold, window=timedelta(hours=config.soft_bounce_window_hours)
        ),
        account_suppressions=SesAccountSuppressionList() if config.use_account_suppression_list else None,
        alerts=SnsAlertPublisher(config.alert_topic_arn) if config.alert_topic_arn else None,
        dead_letters=dead_letter_forwarder(config.dead_letter_queue_url),
        logger=logger,
        count=count,
    )
