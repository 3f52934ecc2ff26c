"""The synth benchmark compares like with like: ``bench/plain_app.py`` (aws-cdk-lib alone, the floor)
creates the same CloudFormation resource types in the same counts as ``bench/ours_app.py`` (our constructs),
so ``bench/synth.py``'s ours / plain ratio is the cost of the constructs, not of a different resource set."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _resource_types(stack: Stack) -> Counter[str]:
    resources = Template.from_stack(stack).to_json().get("Resources", {})
    return Counter(resource["Type"] for resource in resources.values())


@pytest.fixture(scope="module")
def ours() -> Counter[str]:
    app = _bench_module("ours_app").build_app()
    (stack,) = (child for child in app.node.children if isinstance(child, Stack))
    return _resource_types(stack)


@pytest.fixture(scope="module")
def plain() -> Counter[str]:
    module = _bench_module("plain_app")
    return _resource_types(module.PlainPipelines(App(), "PlainPipelines"))


def test_plain_app_has_the_same_resource_types_in_the_same_counts(
    ours: Counter[str], plain: Counter[str]
) -> None:
    # GIVEN both benchmark apps, synthesized in-process
    # THEN per type the counts are equal (the difference is listed if not)
    difference = {t: (ours[t], plain[t]) for t in sorted(ours.keys() | plain.keys()) if ours[t] != plain[t]}
    assert difference == {}, f"resource type: (ours, plain) counts differ: {difference}"


def test_ours_app_is_the_plain_apps_scope(ours: Counter[str]) -> None:
    # GIVEN our app (the order and bounce pipelines, identity, configuration set, dashboard)
    # THEN it has their three functions and one dashboard - and no incident or shipment parts
    # (those would add a fourth function and further tables)
    assert ours["AWS::Lambda::Function"] == 3
    assert ours["AWS::Lambda::EventSourceMapping"] == 3
    assert ours["AWS::CloudWatch::Dashboard"] == 1
    assert ours["AWS::SES::EmailIdentity"] == 1
    assert ours["AWS::DynamoDB::Table"] == 4
