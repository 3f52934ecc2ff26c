"""The example app: cdk-nag (AwsSolutions + Serverless) and cfn-lint clean; synthesizes with the real CDK CLI."""

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from examples.app import build_app
from notification_constructs.testing._cdk import node_environment
from tests.support.validators import cfn_lint, synth_with_nag

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stacks() -> dict[str, dict[str, Any]]:
    app = build_app({"domain": "shop.example.com", "alert_email": "oncall@example.com"})
    assembly, _ = synth_with_nag(app)  # raises listing every unacknowledged cdk-nag finding
    return {s.stack_name: dict(s.template) for s in assembly.stacks}


def test_example_stacks_are_cdk_nag_clean_and_cfn_lint_clean(stacks: dict[str, dict[str, Any]]) -> None:
    assert list(stacks) == ["OrderNotifications"]
    for name, template in stacks.items():
        assert cfn_lint(template) == [], name


#: Every acknowledged finding on the example stack; adding one must be a deliberate, reviewed change.
EXPECTED_ACKNOWLEDGMENTS = {
    "Serverless-LambdaTracing",
    "Serverless-LambdaDLQ",
    "Serverless-LambdaEventSourceMappingDestination",
    "Serverless-SQSRedrivePolicy",
    "AwsSolutions-SQS3",
    # The compliance packs (tests/unit/test_compliance_packs.py): true for SQS-invoked functions of our own
    # roles; VPC and AWS Backup are options (vpc= / backup_plan=), point-in-time recovery is always on.
    *(
        f"{pack}-{rule}"
        for pack in ("HIPAA.Security", "NIST.800.53.R5")
        for rule in ("LambdaDLQ", "DynamoDBInBackupPlan")
    ),
    *(
        f"{pack}-{rule}"
        for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
        for rule in ("IAMNoInlinePolicy", "LambdaInsideVPC")
    ),
}


def test_every_acknowledgment_is_expected_and_carries_a_written_reason() -> None:
    app = build_app({"alert_email": "oncall@example.com"})
    reasons: dict[str, list[str]] = {}
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == "aws:cdk:acknowledged-rules":
                for rule, reason in dict(entry.data).items():
                    reasons.setdefault(rule.removeprefix("Annotation::"), []).append(reason)
    assert set(reasons) == EXPECTED_ACKNOWLEDGMENTS
    assert all(len(reason) > 40 for rule_reasons in reasons.values() for reason in rule_reasons), reasons


def test_example_wires_both_pipelines_with_the_dashboard(stacks: dict[str, dict[str, Any]]) -> None:
    resources = stacks["OrderNotifications"]["Resources"]
    types = [r["Type"] for r in resources.values()]
    assert types.count("AWS::Lambda::Function") == 3
    assert types.count("AWS::CloudWatch::Dashboard") == 1
    assert types.count("AWS::SES::Template") == 1
    subscriptions = [r for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"]
    assert {s["Properties"]["Protocol"] for s in subscriptions} == {"sqs", "email"}


def test_cdk_synth_with_the_pinned_cli(tmp_path: Path) -> None:
    # GIVEN the CLI pinned in package.json (installed by make) and the top-level cdk.json
    cli = ROOT / "node_modules" / ".bin" / "cdk"
    assert cli.exists(), "run `make install` (npm ci) first"
    env = node_environment({**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "true"})  # on the venv's Node.js
    # WHEN synthesizing the example app with no arguments
    result = subprocess.run(
        [str(cli), "synth", "--no-notices", "--quiet", "--output", str(tmp_path / "cdk.out")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # THEN it succeeds and writes the stack and the handler asset
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / "cdk.out" / "OrderNotifications.template.json").read_text())
    assert any(r["Type"] == "AWS::Lambda::Function" for r in template["Resources"].values())
    assets = list((tmp_path / "cdk.out").glob("asset.*"))
    assert len(assets) == 1
    assert sorted(p.name for p in assets[0].iterdir()) == ["lambda_handlers"]
