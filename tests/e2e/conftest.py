"""End-to-end tests: stacks deployed with the real CDK CLI into the local sandbox (run by default)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from notification_constructs.testing import Sandbox

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sandbox(notification_sandbox: Sandbox) -> Sandbox:
    """One sandbox for every e2e module (the plugin's session fixture): bootstrapped once. Each module
    deploys its own stack with names of its own."""
    return notification_sandbox


@pytest.fixture(scope="session")
def cdk_json_context() -> dict[str, Any]:
    """The context the CLI gives ``cdk.json``'s app (its feature flags, and version reporting, which adds
    ``CDKMetadata``): an in-process synth must use it too to produce the template the CLI does."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return {**context, "aws:cdk:version-reporting": True}
