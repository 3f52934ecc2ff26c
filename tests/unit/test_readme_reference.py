"""The README's "Construct reference" tables are kept in step with the constructs' signatures.

Every construct exported by ``notification_constructs`` has a ``### `Name``` section (a heading may name
several) whose markdown tables list, in their first column, every keyword parameter of its ``__init__``
(except ``scope`` / ``id``) and nothing else. A cell may name several parameters (```a` / `b``` or
```a`, `b``); the default cell is then split the same way when it has as many parts (text in parentheses
aside), else it applies to each of them.

Default cells are checked where the signature's default is a simple literal:

- required (no default): the cell says ``—`` or "required";
- ``None``: the cell does not state a concrete value (``True``, ``5``, ``"x"``) - it says what happens
  instead ("none", "generated", "a new CMK", ...);
- ``True`` / ``False`` / an int / a float: the first such literal of the cell (outside parentheses) is
  that value;
- a short name-like str (``"mail"``, ``"INFO"``): it appears in the cell.

A row whose default cell is ``—`` (or "required") is not checked further: the parameter is required, or
required in some combination that the row's text explains (``domain`` / ``email_address``). Enum, Duration,
tuple and other defaults are described in words and not checked.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from constructs import Construct

import notification_constructs

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")

_NAME_RE = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")
_SEPARATOR_ROW_RE = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")
_PARENTHESES_RE = re.compile(r"\([^()]*\)")
# A concrete value as the README writes one: a bool, a number, a quoted string (backticks already removed).
_LITERAL_RE = re.compile(r"""(?<![\w.-])(True|False|-?\d+(?:\.\d+)?(?:e-?\d+)?|"[^"]*"|'[^']*')(?![\w.])""")
_SIMPLE_STR_RE = re.compile(r"[\w.:/-]{1,64}")
_REQUIRED_MARKERS = ("—", "required")
_EXCLUDED = {"self", "scope", "id"}


def _exported_constructs() -> dict[str, type[Construct]]:
    found: dict[str, type[Construct]] = {}
    for name in notification_constructs.__all__:
        value = getattr(notification_constructs, name)
        if inspect.isclass(value) and issubclass(value, Construct):
            found[name] = value
    return found


CONSTRUCTS = _exported_constructs()


@dataclass(frozen=True)
class Row:
    """One table row: the parameter names of its first cell, its default cell, its line in README.md."""

    names: tuple[str, ...]
    separator: str | None  # " / " or ", " between the names, None for one name
    default: str
    line: int


@dataclass(frozen=True)
class Section:
    names: tuple[str, ...]  # the constructs the heading names
    rows: tuple[Row, ...]
    line: int


def _reference_part(readme: str) -> tuple[str, int]:
    """The text of "## Construct reference" up to the next level-2 heading, and its first line number."""
    match = re.search(r"^## Construct reference\n(.*?)(?=^## |\Z)", readme, re.DOTALL | re.MULTILINE)
    assert match is not None, 'README.md has no "## Construct reference" section'
    return match.group(1), readme.count("\n", 0, match.start(1)) + 1


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _rows(lines: list[tuple[int, str]]) -> list[Row]:
    """The body rows of every markdown table in ``lines`` (header and separator rows skipped)."""
    rows: list[Row] = []
    for index, (number, text) in enumerate(lines):
        if not text.startswith("|") or _SEPARATOR_ROW_RE.match(text):
            continue
        following = lines[index + 1][1] if index + 1 < len(lines) else ""
        if _SEPARATOR_ROW_RE.match(following):
            continue  # the header row
        cells = _cells(text)
        names = tuple(_NAME_RE.findall(cells[0]))
        separator = next((sep for sep in (" / ", ", ") if sep in cells[0]), None) if len(names) > 1 else None
        rows.append(Row(names, separator, cells[1] if len(cells) > 1 else "", number))
    return rows


def _sections(readme: str) -> list[Section]:
    part, first_line = _reference_part(readme)
    sections: list[Section] = []
    heading: tuple[int, str] | None = None
    body: list[tuple[int, str]] = []

    def close() -> None:
        if heading is not None:
            sections.append(Section(tuple(_NAME_RE.findall(heading[1])), tuple(_rows(body)), heading[0]))

    for offset, text in enumerate(part.splitlines()):
        if text.startswith("### "):
            close()
            heading, body = (first_line + offset, text), []
        else:
            body.append((first_line + offset, text))
    close()
    return sections


SECTIONS = _sections(README)


def _section_of(name: str) -> Section:
    matches = [section for section in SECTIONS if name in section.names]
    if not matches:
        pytest.fail(f"README.md: no ### `{name}` section under ## Construct reference")
    assert len(matches) == 1, (
        f"README.md: {name} has {len(matches)} sections (lines {[s.line for s in matches]})"
    )
    return matches[0]


def _parameters(construct: type[Construct]) -> dict[str, inspect.Parameter]:
    return {
        name: parameter
        for name, parameter in inspect.signature(construct.__init__).parameters.items()
        if name not in _EXCLUDED
        and parameter.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    }


def _plain(cell: str) -> str:
    return cell.replace("`", "").strip()


def _defaults_by_name(row: Row) -> dict[str, str]:
    """Each name of the row with its part of the default cell (the whole cell when it does not split)."""
    if row.separator is not None:
        parts = _PARENTHESES_RE.sub("", row.default).split(row.separator)
        if len(parts) == len(row.names):
            return dict(zip(row.names, (part.strip() for part in parts), strict=True))
    return dict.fromkeys(row.names, row.default)


def _is_required_marker(cell: str) -> bool:
    plain = _plain(cell).lower()
    return any(plain == marker or plain.startswith(marker) for marker in _REQUIRED_MARKERS)


def _outside_parentheses(cell: str) -> str:
    text = _plain(cell)
    while _PARENTHESES_RE.search(text):
        text = _PARENTHESES_RE.sub("", text)
    return text.strip()


def _first_literal(cell: str) -> str | None:
    """The first concrete value the cell states outside parentheses (``True``, ``10``, ``"mail"``)."""
    match = _LITERAL_RE.search(_outside_parentheses(cell))
    return match.group(1) if match else None


def _literal_equals(token: str, value: Any) -> bool:
    if isinstance(value, bool) or token in ("True", "False"):
        return token == repr(value)
    try:
        return bool(float(token) == value)
    except ValueError:
        return False


def default_problem(name: str, default: Any, cell: str) -> str | None:
    """Why ``cell`` misdocuments the default ``default`` of parameter ``name`` (None when it does not)."""
    if _is_required_marker(cell):
        return None
    if default is inspect.Parameter.empty:
        return f"{name} is required: its default cell should say — or required, not {cell!r}"
    stated = _first_literal(cell)
    if default is None:
        if stated is not None and _outside_parentheses(cell).startswith(stated):
            return f"{name} defaults to None, but the README states the concrete value {stated} ({cell!r})"
        return None
    if isinstance(default, bool | int | float):
        if stated is None or not _literal_equals(stated, default):
            return f"{name} defaults to {default!r}, but the README says {cell!r}"
        return None
    mentioned = isinstance(default, str) and re.search(rf"(?<![\w-]){re.escape(default)}(?![\w-])", cell)
    if isinstance(default, str) and _SIMPLE_STR_RE.fullmatch(default) and not mentioned:
        return f"{name} defaults to {default!r}, which the README's {cell!r} does not mention"
    return None


@pytest.mark.parametrize("name", sorted(CONSTRUCTS))
def test_the_reference_table_lists_exactly_the_constructs_parameters(name: str) -> None:
    # GIVEN an exported construct and its README section
    section = _section_of(name)
    # WHEN its keyword parameters are compared with the parameters the section's tables name
    expected = set(_parameters(CONSTRUCTS[name]))
    documented = {n for row in section.rows for n in row.names}
    others = {n for other in section.names if other in CONSTRUCTS for n in _parameters(CONSTRUCTS[other])}
    missing = sorted(expected - documented)
    extra = sorted(documented - expected - others)
    # THEN none is missing and none is documented that no construct of the heading takes
    assert not missing and not extra, (
        f"README.md ### `{name}` (line {section.line}): missing {missing}, documented but not parameters "
        f"{extra}"
    )


@pytest.mark.parametrize("name", sorted(CONSTRUCTS))
def test_the_reference_table_states_the_literal_defaults(name: str) -> None:
    # GIVEN an exported construct's parameters and the default cells of its README table
    parameters = _parameters(CONSTRUCTS[name])
    section = _section_of(name)
    # WHEN each documented parameter's default cell is checked against the signature's default
    problems = [
        f"line {row.line}: {problem}"
        for row in section.rows
        for param, cell in _defaults_by_name(row).items()
        if param in parameters
        and (problem := default_problem(param, parameters[param].default, cell)) is not None
    ]
    # THEN every literal default is stated as it is in the code
    assert not problems, f"README.md ### `{name}`:\n" + "\n".join(problems)


def test_every_construct_the_reference_documents_is_exported() -> None:
    # GIVEN the constructs the reference headings name
    named = {n for section in SECTIONS for n in section.names}
    # THEN each is a construct notification_constructs exports (no section outlives its construct)
    assert named, "no ### `Name` headings found under ## Construct reference"
    assert sorted(named - set(CONSTRUCTS)) == []


@pytest.mark.parametrize(
    ("default", "cell", "ok"),
    [
        (True, "`True` (`TlsPolicy: REQUIRE`)", True),
        (True, "`False`: opt-in", False),
        (True, "`True`; `False` reserves nothing", True),
        (10, "10 (2-1000; see sizing)", True),
        (10, "(2-1000) 5", False),
        (256, "256 MiB", True),
        (0.02, "0.02", True),
        (None, "none", True),
        (None, "generated by CloudFormation", True),
        (None, "= `max_concurrency` (must not be lower)", True),
        (None, "`True`", False),
        (None, "5", False),
        ("mail", '`"mail"`', True),
        ("INFO", "one month", False),
        ("Your order {{order_id}} is confirmed", "a short confirmation", True),
        (inspect.Parameter.empty, "required", True),
        (inspect.Parameter.empty, "none", False),
        (None, "—", True),
    ],
)
def test_default_cells_are_judged_strictly_but_by_meaning(default: Any, cell: str, ok: bool) -> None:
    # GIVEN a signature default and a README default cell WHEN it is checked
    problem = default_problem("param", default, cell)
    # THEN only a cell stating another concrete value (or none for a required parameter) is a problem
    assert (problem is None) is ok, problem


def test_a_row_naming_several_parameters_splits_its_default_cell_when_it_can() -> None:
    # GIVEN the README table rows of this shape
    rows = _rows(
        [
            (1, "| parameter | default |"),
            (2, "|---|---|"),
            (3, "| `timeout` / `memory_size` | 30 s / 256 MiB |"),
            (4, "| `fifo`, `dedup` | `False` (both) |"),
            (5, "| `a` / `b` | 0.02 / 0.0005 (also 0.05 / 0.001) |"),
        ]
    )
    # WHEN each row's default cell is attributed to its names
    defaults = [_defaults_by_name(row) for row in rows]
    # THEN the header is skipped, a cell with as many parts is split, another applies to every name
    assert defaults == [
        {"timeout": "30 s", "memory_size": "256 MiB"},
        {"fifo": "`False` (both)", "dedup": "`False` (both)"},
        {"a": "0.02", "b": "0.0005"},
    ]
