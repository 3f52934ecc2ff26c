"""cdk-nag and cfn-lint helpers shared by the synth tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from cfnlint.api import ManualArgs, lint


def add_nag_packs(app: App) -> None:
    """Both packs the project promises to be clean under; findings fail ``app.synth()``."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))


def synth_with_nag(app: App) -> tuple[Any, list[dict[str, Any]]]:
    """Synthesize; return the cloud assembly and every non-compliant, unacknowledged finding."""
    try:
        assembly = app.synth()
    except RuntimeError as error:  # ValidationFailed: the report names each finding
        report = str(error).split("can be found in: ")[-1].strip()
        raise AssertionError(_summarise(Path(report))) from error
    return assembly, []


def _summarise(report: Path) -> str:
    data = json.loads(report.read_text())
    lines = []
    for plugin in data.get("pluginReports", []):
        for violation in plugin.get("violations", []):
            for resource in violation.get("violatingResources", violation.get("violatingConstructs", [])):
                lines.append(f"{violation.get('ruleName')}: {resource.get('constructPath', resource)}")
    return "cdk-nag findings:\n" + "\n".join(sorted(set(lines)))


#: cfn-lint rules ignored, each with its reason.
CFN_LINT_IGNORED = {
    # aws-cdk-lib's lambda.Function always adds DependsOn on its role and role policy next to the GetAtt
    # of the role (so the policy exists before the first invocation); the redundancy is harmless.
    "W3005",
}


def cfn_lint(template: dict[str, Any], region: str = "eu-west-1") -> list[str]:
    """cfn-lint findings (errors and warnings) for a synthesized template."""
    config = ManualArgs(regions=[region], ignore_checks=sorted(CFN_LINT_IGNORED))
    matches = lint(json.dumps(template), config=config)
    return [f"{m.rule.id} {m.message} ({'/'.join(str(p) for p in m.path)})" for m in matches]
