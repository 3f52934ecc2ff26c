"""The shell's batch loop: Lambda's partial batch response, FIFO group order, a non-SQS event fails loudly."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_handlers.common.errors import PermanentError
from lambda_handlers.common.shell import RecordService, Shell, SqsRecordInfo
from tests.handlers.conftest import FakeLambdaContext, failed_ids, sqs_event, sqs_record


class _Forwarder:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def forward(self, *, body: str, reason: str, **_: Any) -> None:
        self.reasons.append(reason)


class _Service(RecordService):
    """``ok`` succeeds, ``permanent`` is dead-lettered, ``boom`` raises (retried); records what it ran."""

    def __init__(self, late_failures: list[str] | None = None) -> None:
        self.dead_letters = _Forwarder()  # type: ignore[assignment]
        self.processed: list[str] = []
        self.late_failures = late_failures or []

    def process(self, record: SqsRecordInfo) -> None:
        self.processed.append(record.message_id)
        if record.body == "permanent":
            raise PermanentError("field 'x' is missing")
        if record.body == "boom":
            raise RuntimeError("unexpected")

    def end_batch(self) -> list[str]:
        return self.late_failures


def _shell(service: _Service) -> Shell[_Service]:
    shell = Shell(lambda logger, count: service)
    shell.reset(service)
    return shell


def test_only_retryable_records_are_reported_and_every_record_is_run(
    lambda_context: FakeLambdaContext,
) -> None:
    # GIVEN a batch with a good, a permanently bad and a crashing record
    service = _Service()
    records = [sqs_record(body, message_id=body) for body in ("ok", "permanent", "boom", "ok2")]
    # WHEN the shell handles it
    response = _shell(service).handler(sqs_event(*records), lambda_context)
    # THEN all four ran, the permanent one went to the DLQ, only the crash is retried
    assert service.processed == ["ok", "permanent", "boom", "ok2"]
    assert service.dead_letters.reasons == ["field 'x' is missing"]  # type: ignore[union-attr]
    assert failed_ids(response) == ["boom"]


def test_a_fifo_group_stops_at_its_first_failure_other_groups_go_on(
    lambda_context: FakeLambdaContext,
) -> None:
    # GIVEN a FIFO batch: group a fails at its second message, group b is fine
    service = _Service()
    records = [
        sqs_record("ok", message_id="a1", group_id="a"),
        sqs_record("boom", message_id="a2", group_id="a"),
        sqs_record("ok", message_id="b1", group_id="b"),
        sqs_record("ok", message_id="a3", group_id="a"),
    ]
    # WHEN the shell handles it
    response = _shell(service).handler(sqs_event(*records), lambda_context)
    # THEN a3 is not run (it must not overtake a2) and both are retried; b1 is processed
    assert service.processed == ["a1", "a2", "b1"]
    assert failed_ids(response) == ["a2", "a3"]


def test_failures_reported_after_the_batch_are_added_once(lambda_context: FakeLambdaContext) -> None:
    # GIVEN a service that reports two records as failed after the batch (e.g. an unsent alert)
    service = _Service(late_failures=["boom", "ok"])
    records = [sqs_record(body, message_id=body) for body in ("ok", "boom")]
    # WHEN the shell handles it
    response = _shell(service).handler(sqs_event(*records), lambda_context)
    # THEN each failed id appears once
    assert failed_ids(response) == ["boom", "ok"]


@pytest.mark.parametrize("event", [{}, {"Records": "x"}, {"detail": {}}])
def test_an_event_that_is_not_an_sqs_batch_fails_the_invocation(
    event: dict[str, Any], lambda_context: FakeLambdaContext
) -> None:
    # GIVEN a function wired to something other than an SQS event source (a deployment bug)
    # WHEN it is invoked THEN it fails loudly instead of reporting success
    with pytest.raises(ValueError, match="not an SQS batch"):
        _shell(_Service()).handler(event, lambda_context)
