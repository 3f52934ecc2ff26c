"""The example's incident pipeline on the sandbox: CloudWatch alarm notifications (state changes only, the
documented JSON) and the incident scenario - ALARM, on-call SMS and e-mail, acknowledgement, OK, report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from notification_constructs.testing import IncidentAlertsScenario, Sandbox
from notification_constructs.testing.incident_scenario import REQUIRED_INCIDENT_OUTPUTS

STACK = "OrderNotifications"
CONTEXT = {"alert_email": "oncall@example.com"}  # as tests/e2e/test_example_app.py deploys it


@pytest.fixture(scope="module")
def outputs(sandbox: Sandbox) -> Iterator[dict[str, str]]:
    # GIVEN the example stack in this session's sandbox: the deployment already there when one is (with the
    # incident outputs), else deployed now with the CDK CLI from cdk.json
    outputs = _deployed_outputs(sandbox)
    if outputs is None:
        sandbox.deploy(stacks=STACK, context=CONTEXT)
        outputs = sandbox.stack_outputs(STACK)
    yield outputs
    # An opened incident's acknowledgement deadline waits (15 minutes) in its queue, which keeps the sandbox
    # busy for wait_until_idle() in later modules: the checks are moot once the incidents are resolved.
    sandbox.client("sqs").purge_queue(QueueUrl=outputs["AcknowledgementDeadlineQueueUrl"])


def _deployed_outputs(sandbox: Sandbox) -> dict[str, str] | None:
    cfn = sandbox.client("cloudformation")
    live = {s["StackName"]: s["StackStatus"] for s in cfn.describe_stacks()["Stacks"]}
    if live.get(STACK) not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        return None
    outputs = sandbox.stack_outputs(STACK)
    return outputs if all(outputs.get(k) for k in REQUIRED_INCIDENT_OUTPUTS) else None


@pytest.fixture
def alert_observer(sandbox: Sandbox, outputs: dict[str, str]) -> Iterator[str]:
    """An SQS queue subscribed to the support-alerts topic (the example's alarms notify it)."""
    sqs, sns = sandbox.client("sqs"), sandbox.client("sns")
    url = sqs.create_queue(QueueName="incident-e2e-alert-observer")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(
        TopicArn=outputs["AlertTopicArn"], Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    yield url
    sns.unsubscribe(SubscriptionArn=subscription)
    sqs.delete_queue(QueueUrl=url)


def test_an_alarm_notifies_its_topics_on_state_changes_only_in_cloudwatchs_format(
    sandbox: Sandbox, outputs: dict[str, str], alert_observer: str
) -> None:
    # GIVEN a queue alarm of the example that notifies the support-alerts topic only (no incident action)
    cloudwatch = sandbox.client("cloudwatch")
    alarm = next(
        a
        for a in cloudwatch.describe_alarms()["MetricAlarms"]
        if a["AlarmActions"] == [outputs["AlertTopicArn"]]
        and a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
    )
    before = alarm["StateValue"]
    assert before in ("INSUFFICIENT_DATA", "OK")  # created in INSUFFICIENT_DATA, as CloudWatch does
    # WHEN it is set to ALARM twice, then back to the state it was in
    for state in ("ALARM", "ALARM", before):
        cloudwatch.set_alarm_state(
            AlarmName=alarm["AlarmName"], StateValue=state, StateReason=f"e2e: {state}"
        )
    # THEN the topic got one notification: ALARM (not the second, which changed nothing; the alarm has no
    # OK or INSUFFICIENT_DATA actions), with CloudWatch's subject and the documented JSON
    envelopes = _receive_all(sandbox, alert_observer)
    assert len(envelopes) == 1, envelopes
    subject = f'ALARM: "{alarm["AlarmName"]}" in US East (N. Virginia)'
    assert envelopes[0]["Subject"] == (subject if len(subject) <= 100 else subject[:97] + "...")  # SNS limit
    message = json.loads(envelopes[0]["Message"])
    assert message["AlarmName"] == alarm["AlarmName"]
    assert message["AlarmArn"] == alarm["AlarmArn"]
    assert (message["OldStateValue"], message["NewStateValue"]) == (before, "ALARM")
    assert message["NewStateReason"] == "e2e: ALARM"
    assert message["AWSAccountId"] == sandbox.account and message["Region"] == "US East (N. Virginia)"
    assert message["AlarmActions"] == [outputs["AlertTopicArn"]] and message["OKActions"] == []
    assert message["StateChangeTime"].endswith("+0000")
    trigger = message["Trigger"]
    assert (trigger["MetricName"], trigger["Namespace"]) == ("ApproximateNumberOfMessagesVisible", "AWS/SQS")
    assert trigger["Statistic"] == alarm["Statistic"].upper() and trigger["Threshold"] == alarm["Threshold"]
    assert [d["name"] for d in trigger["Dimensions"]] == ["QueueName"]
    # and DescribeAlarms shows the state it was set to last
    [after] = cloudwatch.describe_alarms(AlarmNames=[alarm["AlarmName"]])["MetricAlarms"]
    assert after["StateValue"] == before


def test_the_incident_scenario_holds_end_to_end(sandbox: Sandbox, outputs: dict[str, str]) -> None:
    # WHEN the scenario runs: the critical alarm to ALARM (twice), a repeat, an acknowledgement, a note, a
    # malformed event, OK
    report = IncidentAlertsScenario(sandbox, outputs, timeout=90).run()
    # THEN every expectation held
    assert report.ok, report.render()
    # and the report went through SES from the incident sender with the example's configuration set
    [mail] = report.reports
    assert mail["configuration_set"] == outputs["ConfigurationSetName"]
    assert mail["from_address"].endswith("@example.com") and mail["from_address"].startswith("incidents@")
    assert report.incident["incident_id"] in mail["text"]
    # and the on-call SMS tells how to acknowledge
    assert all("action=acknowledge" in sms["message"] for sms in report.sms)


def _receive_all(sandbox: Sandbox, url: str) -> list[dict[str, Any]]:
    sqs = sandbox.client("sqs")
    envelopes: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    ):
        envelopes += [json.loads(m["Body"]) for m in batch]
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return envelopes
