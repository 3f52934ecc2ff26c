"""Every ```python block of the README runs as written, and every CDK app it creates synthesizes.

A block whose first statement is an import is a self-contained example and starts a fresh namespace;
any other block continues the one before it (shares its namespace). Blocks run in README order. The sandbox
example (a verbatim copy of tests/e2e/test_user_stack.py) only defines functions when executed; its test
function is not called here (the e2e suite runs it).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack

ROOT = Path(__file__).resolve().parents[2]
_BLOCK_RE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


@dataclass
class Example:
    """Consecutive README blocks sharing one namespace; ``line`` is where the first one starts."""

    line: int
    blocks: list[str] = field(default_factory=list)


def _examples(readme: str) -> list[Example]:
    examples: list[Example] = []
    for match in _BLOCK_RE.finditer(readme):
        code = match.group(1)
        body = ast.parse(code).body
        starts_fresh = bool(body) and isinstance(body[0], ast.Import | ast.ImportFrom)
        if starts_fresh or not examples:
            examples.append(Example(line=readme.count("\n", 0, match.start()) + 1))
        examples[-1].blocks.append(code)
    return examples


EXAMPLES = _examples((ROOT / "README.md").read_text(encoding="utf-8"))


def _apps(namespace: dict[str, Any]) -> list[App]:
    """The distinct CDK apps the namespace holds, directly or as the root of a construct's tree."""
    apps: dict[int, App] = {}
    for value in namespace.values():
        if isinstance(value, App):
            apps[id(value)] = value
        elif isinstance(value, Stack):
            root = value.node.root
            if isinstance(root, App):
                apps[id(root)] = root
    return list(apps.values())


def test_the_readme_has_its_python_examples() -> None:
    # A safety net against an extraction that silently finds nothing.
    assert len(EXAMPLES) >= 3
    assert sum(len(e.blocks) for e in EXAMPLES) >= 4


def test_a_block_without_imports_continues_the_previous_example() -> None:
    # GIVEN a self-contained block, a continuation, then another self-contained block
    readme = (
        "```python\nimport json\nx = 1\n```\ntext\n```python\ny = x + 1\n```\n```python\nimport os\n```\n"
    )
    # WHEN split into examples   THEN the continuation joins the first
    examples = _examples(readme)
    assert [(e.line, len(e.blocks)) for e in examples] == [(1, 2), (9, 1)]


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"README.md:{e.line}" for e in EXAMPLES])
def test_readme_example_runs_and_synthesizes(example: Example) -> None:
    # GIVEN the example's blocks, in order, in one namespace
    namespace: dict[str, Any] = {"__name__": f"readme_example_{example.line}"}
    # WHEN each runs
    for index, code in enumerate(example.blocks):
        exec(compile(code, f"README.md:{example.line}[{index}]", "exec"), namespace)
    # THEN every app it created synthesizes, with at least one stack
    for app in _apps(namespace):
        assembly = app.synth()
        assert assembly.stacks, f"README.md:{example.line}: the app has no stack"
