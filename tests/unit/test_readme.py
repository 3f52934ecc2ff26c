"""The README's sandbox example is the e2e test that runs it (kept verbatim in sync)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_quotes_the_user_stack_test_verbatim() -> None:
    source = (ROOT / "tests" / "e2e" / "test_user_stack.py").read_text(encoding="utf-8")
    start = source.index("from aws_cdk import App, Stack")
    end = source.index("# --- end of README example ---")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert source[start:end].rstrip() in readme


def test_the_readme_shows_a_demo_summary() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "DEMO_SUMMARY_PLACEHOLDER" not in readme
    assert "Demo PASSED: every expectation held." in readme
