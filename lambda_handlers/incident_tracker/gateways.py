"""AWS access of the incident tracker, behind small protocols (clients are created on first use)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar, Protocol

from botocore.exceptions import ClientError

from lambda_handlers.common.aws import make_client
from lambda_handlers.common.errors import PermanentError, TransientError, client_error_code, is_transient
from lambda_handlers.contracts import SEVERITY_ATTRIBUTE
from lambda_handlers.incident_tracker.logic import (
    EntryKind,
    Incident,
    Page,
    Report,
    Status,
    TimelineEntry,
)
from lambda_handlers.incident_tracker.models import DeadlineCheck

ALARM_POINTER_PREFIX = "alarm#"
"""Items ``alarm#<alarm ref>`` of the incidents table name the alarm's open incident (``open_incident_id``);
``#`` never occurs in an incident id."""


class IncidentStore(Protocol):
    def get(self, incident_id: str) -> Incident | None: ...

    def save(self, incident: Incident) -> bool:
        """Write ``incident`` if the stored version is ``incident.version - 1`` (or absent for version 1);
        ``False`` if another writer got there first."""
        ...

    def open_incident_of(self, alarm_ref: str) -> str | None: ...

    def claim_alarm(self, alarm_ref: str, incident_id: str) -> str:
        """Make ``incident_id`` the alarm's open incident unless it has one; returns the one it has now."""
        ...

    def release_alarm(self, alarm_ref: str, incident_id: str) -> None:
        """Forget the alarm's open incident if it is still ``incident_id``."""
        ...


class Pager(Protocol):
    def page(self, page: Page, *, incident_id: str) -> None: ...


class DeadlineScheduler(Protocol):
    def schedule(self, check: DeadlineCheck, *, delay_seconds: int) -> None: ...


class ReportMailer(Protocol):
    def send(self, report: Report) -> str: ...


class _Gateway:
    service_name: ClassVar[str]
    max_attempts: ClassVar[int] = 3

    @cached_property
    def client(self) -> Any:
        return make_client(self.service_name, max_attempts=self.max_attempts)


def _s(value: str | None) -> dict[str, str] | None:
    return None if value is None else {"S": value}


def _time(value: datetime | None) -> dict[str, str] | None:
    return None if value is None else {"S": value.isoformat()}


def _read_time(item: dict[str, Any], name: str) -> datetime | None:
    value = item.get(name, {}).get("S")
    return None if value is None else datetime.fromisoformat(value)


def _read_str(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name, {}).get("S")
    return value if isinstance(value, str) else None


def incident_to_item(incident: Incident) -> dict[str, Any]:
    """The DynamoDB item of an incident (partition key ``incident_id``); absent optionals are left out."""
    timeline = []
    for entry in incident.timeline:
        fields = {"at": _time(entry.at), "kind": _s(entry.kind.value)}
        fields.update({"actor": _s(entry.actor), "text": _s(entry.text)})
        timeline.append({"M": {key: value for key, value in fields.items() if value is not None}})
    item: dict[str, Any] = {
        "incident_id": _s(incident.incident_id),
        "status": _s(incident.status.value),
        "severity": _s(incident.severity),
        "service": _s(incident.service),
        "summary": _s(incident.summary),
        "source": _s(incident.source),
        "opened_at": _time(incident.opened_at),
        "alarm_ref": _s(incident.alarm_ref),
        "acknowledged_at": _time(incident.acknowledged_at),
        "acknowledged_by": _s(incident.acknowledged_by),
        "resolved_at": _time(incident.resolved_at),
        "resolved_by": _s(incident.resolved_by),
        "deadline_due_at": _time(incident.deadline_due_at),
        "version": {"N": str(incident.version)},
        "repeats": {"N": str(incident.repeats)},
        "escalations": {"N": str(incident.escalations)},
        "page_pending": {"BOOL": incident.page_pending},
        "deadline_pending": {"BOOL": incident.deadline_pending},
        "report_pending": {"BOOL": incident.report_pending},
        "event_ids": {"L": [{"S": event_id} for event_id in incident.event_ids]},
        "timeline": {"L": timeline},
    }
    return {key: value for key, value in item.items() if value is not None}


def incident_from_item(item: dict[str, Any]) -> Incident:
    """The inverse of :func:`incident_to_item`."""
    timeline = tuple(
        TimelineEntry(
            at=datetime.fromisoformat(entry["M"]["at"]["S"]),
            kind=EntryKind(entry["M"]["kind"]["S"]),
            actor=_read_str(entry["M"], "actor"),
            text=_read_str(entry["M"], "text"),
        )
        for entry in item["timeline"]["L"]
    )
    opened_at = _read_time(item, "opened_at")
    if opened_at is None:
        raise PermanentError("stored incident has no opened_at")
    return Incident(
        incident_id=item["incident_id"]["S"],
        status=Status(item["status"]["S"]),
        severity=item["severity"]["S"],
        service=item["service"]["S"],
        summary=item["summary"]["S"],
        source=item["source"]["S"],
        opened_at=opened_at,
        timeline=timeline,
        event_ids=tuple(value["S"] for value in item["event_ids"]["L"]),
        version=int(item["version"]["N"]),
        alarm_ref=_read_str(item, "alarm_ref"),
        acknowledged_at=_read_time(item, "acknowledged_at"),
        acknowledged_by=_read_str(item, "acknowledged_by"),
        resolved_at=_read_time(item, "resolved_at"),
        resolved_by=_read_str(item, "resolved_by"),
        repeats=int(item["repeats"]["N"]),
        escalations=int(item["escalations"]["N"]),
        page_pending=bool(item["page_pending"]["BOOL"]),
        deadline_pending=bool(item["deadline_pending"]["BOOL"]),
        deadline_due_at=_read_time(item, "deadline_due_at"),
        report_pending=bool(item["report_pending"]["BOOL"]),
    )


def _conditional_failed(exc: ClientError) -> bool:
    return client_error_code(exc) == "ConditionalCheckFailedException"


@dataclass
class DynamoDbIncidentStore(_Gateway):
    """The incidents table: partition key ``incident_id`` (S); optimistic concurrency on ``version``."""

    service_name = "dynamodb"
    table_name: str

    def get(self, incident_id: str) -> Incident | None:
        response = self.client.get_item(
            TableName=self.table_name, Key={"incident_id": {"S": incident_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return None if item is None else incident_from_item(item)

    def save(self, incident: Incident) -> bool:
        condition: dict[str, Any]
        if incident.version == 1:
            condition = {"ConditionExpression": "attribute_not_exists(incident_id)"}
        else:
            condition = {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(incident.version - 1)}},
            }
        try:
            self.client.put_item(TableName=self.table_name, Item=incident_to_item(incident), **condition)
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def open_incident_of(self, alarm_ref: str) -> str | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key={"incident_id": {"S": ALARM_POINTER_PREFIX + alarm_ref}},
            ConsistentRead=True,
        )
        return _read_str(response.get("Item", {}), "open_incident_id")

    def claim_alarm(self, alarm_ref: str, incident_id: str) -> str:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "incident_id": {"S": ALARM_POINTER_PREFIX + alarm_ref},
                    "open_incident_id": {"S": incident_id},
                },
                ConditionExpression="attribute_not_exists(incident_id)",
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            current = self.open_incident_of(alarm_ref)
            if current is None:  # released in between: the next delivery claims it
                raise TransientError("alarm pointer changed concurrently", code="ConcurrentUpdate") from exc
            return current
        return incident_id

    def release_alarm(self, alarm_ref: str, incident_id: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key={"incident_id": {"S": ALARM_POINTER_PREFIX + alarm_ref}},
                ConditionExpression="open_incident_id = :incident",
                ExpressionAttributeValues={":incident": {"S": incident_id}},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise


@dataclass
class SnsPager(_Gateway):
    """Publishes pages to the on-call topic with the ``severity`` message attribute its filters use."""

    service_name = "sns"
    topic_arn: str

    def page(self, page: Page, *, incident_id: str) -> None:
        self.client.publish(
            TopicArn=self.topic_arn,
            Subject=page.subject,
            Message=page.message,
            MessageAttributes={
                SEVERITY_ATTRIBUTE: {"DataType": "String", "StringValue": page.severity},
                "incident_id": {"DataType": "String", "StringValue": incident_id},
            },
        )


@dataclass
class SqsDeadlineScheduler(_Gateway):
    """Sends a :class:`DeadlineCheck` to the acknowledgement deadline queue with ``DelaySeconds``."""

    service_name = "sqs"
    queue_url: str

    def schedule(self, check: DeadlineCheck, *, delay_seconds: int) -> None:
        self.client.send_message(
            QueueUrl=self.queue_url, MessageBody=check.to_body(), DelaySeconds=delay_seconds
        )


@dataclass
class SesReportMailer(_Gateway):
    """SESv2 ``SendEmail`` of the incident report to every stakeholder (one message, up to 50 ``To``).

    One HTTP attempt per call (``SendEmail`` is not idempotent); a retryable failure fails the record as
    transient, and the report is sent on its next delivery (``report_pending`` is still set)."""

    service_name = "sesv2"
    max_attempts = 1
    from_address: str
    configuration_set_name: str
    recipients: Sequence[str]

    def send(self, report: Report) -> str:
        params = {
            "FromEmailAddress": self.from_address,
            "Destination": {"ToAddresses": list(self.recipients)},
            "ConfigurationSetName": self.configuration_set_name,
            "Content": {
                "Simple": {
                    "Subject": {"Data": report.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": report.text, "Charset": "UTF-8"},
                        "Html": {"Data": report.html, "Charset": "UTF-8"},
                    },
                }
            },
            "EmailTags": [{"Name": "event_type", "Value": "incident-report"}],
        }
        try:
            return str(self.client.send_email(**params)["MessageId"])
        except Exception as exc:
            code = client_error_code(exc)  # SES's message may quote an address: only the code is kept
            if isinstance(exc, TransientError) or not is_transient(exc):
                raise
            code = code or type(exc).__name__
            raise TransientError(f"SES SendEmail failed with a retryable error ({code})", code=code) from exc
