"""Act: parse the record, apply it to the stored incident (version-conditioned write), complete the pending
side effects (page, acknowledgement deadline, report)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from lambda_handlers import contracts
from lambda_handlers.common import shell
from lambda_handlers.common.aws import MIN_RECORD_SECONDS, deadline
from lambda_handlers.common.errors import PermanentError, TransientError
from lambda_handlers.incident_tracker import gateways, logic
from lambda_handlers.incident_tracker.config import TrackerConfig, load_config
from lambda_handlers.incident_tracker.models import (
    AlarmNotification,
    AlarmState,
    DeadlineCheck,
    IncidentEvent,
    parse_record_body,
)

if TYPE_CHECKING:  # Powertools is imported by the shell first (common/powertools.py)
    from aws_lambda_powertools import Logger

MAX_WRITE_ATTEMPTS = 5
"""Read-apply-write rounds per record when other invocations update the same incident concurrently."""
UNKNOWN_INCIDENT_DELIVERIES = 3
"""An acknowledge / resolve / note of an incident that does not exist is retried (its ``open`` may still be
on the way: a standard queue does not keep order) until this many deliveries, then dead-lettered."""

_METRICS = {
    logic.OutcomeKind.OPENED: contracts.METRIC_INCIDENT_OPENED,
    logic.OutcomeKind.REPEATED: contracts.METRIC_INCIDENT_REPEATED,
    logic.OutcomeKind.ACKNOWLEDGED: contracts.METRIC_INCIDENT_ACKNOWLEDGED,
    logic.OutcomeKind.RESOLVED: contracts.METRIC_INCIDENT_RESOLVED,
    logic.OutcomeKind.NOTE: contracts.METRIC_INCIDENT_NOTE,
    logic.OutcomeKind.ESCALATED: contracts.METRIC_UNACKNOWLEDGED_INCIDENT,
    logic.OutcomeKind.DUPLICATE: contracts.METRIC_INCIDENT_DUPLICATE,
    logic.OutcomeKind.IGNORED: contracts.METRIC_INCIDENT_EVENT_IGNORED,
}


class UnknownIncidentError(PermanentError):
    def __init__(self, deliveries: int) -> None:
        super().__init__(f"incident_id: no such incident (after {deliveries} deliveries)")


@dataclass(kw_only=True, eq=False)
class IncidentService(shell.RecordService):
    store: gateways.IncidentStore
    pager: gateways.Pager
    scheduler: gateways.DeadlineScheduler
    mailer: gateways.ReportMailer
    acknowledgement_deadline: timedelta
    alarm_severities: dict[str, str]
    default_alarm_severity: str
    dead_letters: shell.SqsDeadLetterForwarder | None
    logger: Logger
    count: shell.Counter
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def process(self, record: shell.SqsRecordInfo) -> None:
        deadline.require(MIN_RECORD_SECONDS, "a record")
        message = parse_record_body(record.body)
        if isinstance(message, DeadlineCheck):
            self._check_deadline(message, record)
        elif isinstance(message, AlarmNotification):
            self._alarm(message, record)
        else:
            self._event(message, record)

    # ------------------------------------------------------------------------------------------ messages
    def _event(self, event: IncidentEvent, record: shell.SqsRecordInfo) -> None:
        outcome, incident = self._apply(event.incident_id, logic.change_from_event(event), record)
        if outcome.kind is logic.OutcomeKind.UNKNOWN_INCIDENT:
            deliveries = record.receive_count or 1
            if deliveries >= UNKNOWN_INCIDENT_DELIVERIES:
                raise UnknownIncidentError(deliveries)
            raise TransientError("incident is not known (yet); retrying", code="UnknownIncident")
        self._complete(incident)

    def _alarm(self, alarm: AlarmNotification, record: shell.SqsRecordInfo) -> None:
        severity = logic.alarm_severity(alarm.alarm_name, self.alarm_severities, self.default_alarm_severity)
        current = self.store.open_incident_of(alarm.alarm_ref)
        if current is not None:
            stored = self.store.get(current)
            if stored is not None and stored.status is logic.Status.RESOLVED:  # a stale pointer
                self.store.release_alarm(alarm.alarm_ref, current)
                current = None
        if alarm.state is AlarmState.ALARM and current is None:
            current = self.store.claim_alarm(alarm.alarm_ref, alarm.new_incident_id())
        if current is None:
            self.count(contracts.METRIC_INCIDENT_EVENT_IGNORED)
            self.logger.info(
                "Alarm state change without an open incident; nothing to do",
                extra={
                    "alarm_ref": alarm.alarm_ref,
                    "state": alarm.state.value,
                    "message_id": record.message_id,
                },
            )
            return
        change = logic.change_from_alarm(alarm, incident_id=current, severity=severity)
        outcome, incident = self._apply(current, change, record)
        if outcome.kind is logic.OutcomeKind.UNKNOWN_INCIDENT or (
            incident is not None and incident.status is logic.Status.RESOLVED
        ):
            self.store.release_alarm(alarm.alarm_ref, current)
        self._complete(incident)

    def _check_deadline(self, check: DeadlineCheck, record: shell.SqsRecordInfo) -> None:
        delay = logic.next_delay_seconds(check.due_at, self.clock())
        if delay > 0:  # a deadline longer than one SQS delay: queue the next hop
            self.scheduler.schedule(check, delay_seconds=delay)
            self.logger.info(
                "Acknowledgement deadline not reached; re-queued",
                extra={
                    "incident_id": check.incident_id,
                    "delay_seconds": delay,
                    "message_id": record.message_id,
                },
            )
            return
        _, incident = self._apply(check.incident_id, check, record)
        self._complete(incident)

    # ------------------------------------------------------------------------------------------ lifecycle
    def _apply(
        self, incident_id: str, change: logic.Change | DeadlineCheck, record: shell.SqsRecordInfo
    ) -> tuple[logic.Outcome, logic.Incident | None]:
        """Read, decide, write with the version condition; retried when another writer won the race.
        Returns the outcome and the incident as stored now."""
        for _ in range(MAX_WRITE_ATTEMPTS):
            stored = self.store.get(incident_id)
            now, wait = self.clock(), self.acknowledgement_deadline
            outcome = (
                logic.apply_deadline(stored, change, now=now, deadline=wait)
                if isinstance(change, DeadlineCheck)
                else logic.apply(stored, change, now=now, deadline=wait)
            )
            if outcome.incident is None:
                current = stored
                break
            if self.store.save(outcome.incident):
                current = outcome.incident
                break
        else:
            raise TransientError("incident was updated concurrently; retrying", code="ConcurrentUpdate")
        if (metric := _METRICS.get(outcome.kind)) is not None:
            self.count(metric)
        log = {
            "incident_id": incident_id,
            "outcome": outcome.kind.value,
            "reason": outcome.reason,
            "status": current.status.value if current else None,
            "severity": current.severity if current else None,
            "source": current.source if current else None,
            "message_id": record.message_id,
        }
        if outcome.kind is logic.OutcomeKind.ESCALATED:
            self.logger.warning("Incident not acknowledged by its deadline; paging again", extra=log)
        else:
            self.logger.info("Incident message applied", extra=log)
        return outcome, current

    def _complete(self, incident: logic.Incident | None) -> None:
        """Carry out the pending side effects, clearing each flag with a version-conditioned write."""
        for _ in range(MAX_WRITE_ATTEMPTS + 3):  # three effects at most, then the write conflicts
            if incident is None:
                return
            if incident.page_pending:
                self.pager.page(logic.page_for(incident), incident_id=incident.incident_id)
                self.count(contracts.METRIC_INCIDENT_PAGED)
                done = replace(incident, page_pending=False)
            elif incident.deadline_pending:
                due = incident.deadline_due_at
                if incident.status is logic.Status.OPEN and due is not None:
                    delay = logic.next_delay_seconds(due, self.clock())
                    self.scheduler.schedule(DeadlineCheck(incident.incident_id, due), delay_seconds=delay)
                done = replace(incident, deadline_pending=False)
            elif incident.report_pending:
                message_id = self.mailer.send(logic.report_for(incident))
                self.count(contracts.METRIC_INCIDENT_REPORT_SENT)
                self.logger.info(
                    "Incident report sent",
                    extra={"incident_id": incident.incident_id, "ses_message_id": message_id},
                )
                done = replace(incident, report_pending=False)
            else:
                return
            done = replace(done, version=incident.version + 1)
            # Another writer changed the incident meanwhile: re-read it; its flags say what is left.
            incident = done if self.store.save(done) else self.store.get(incident.incident_id)
        raise TransientError("incident was updated concurrently; retrying", code="ConcurrentUpdate")


def build_service(logger: Logger, count: shell.Counter) -> IncidentService:
    """Read the configuration (a ``ConfigError`` names the bad variable) and wire the real gateways."""
    config: TrackerConfig = load_config()
    return IncidentService(
        store=gateways.DynamoDbIncidentStore(config.incidents_table_name),
        pager=gateways.SnsPager(config.on_call_topic_arn),
        scheduler=gateways.SqsDeadlineScheduler(config.deadline_queue_url),
        mailer=gateways.SesReportMailer(
            from_address=config.from_address,
            configuration_set_name=config.configuration_set_name,
            recipients=config.report_recipients,
        ),
        acknowledgement_deadline=config.acknowledgement_deadline,
        alarm_severities=config.alarm_severities,
        default_alarm_severity=config.default_alarm_severity,
        dead_letters=shell.dead_letter_forwarder(config.dead_letter_queue_url),
        logger=logger,
        count=count,
    )
