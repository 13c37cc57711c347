"""Comment and check-run text against golden files (UPDATE_GOLDEN=1 rewrites them), escaping, limits."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot import reports
from engine.findings import Finding, Severity
from engine.plan.affected import Affected

GOLDEN = Path(__file__).with_name("golden")
SHA = "0123456789abcdef0123456789abcdef01234567"
FINDINGS = [
    Finding("experiments/alpha.toml", 3, 12, Severity.ERROR, "toml-syntax", "invalid TOML: Invalid value"),
    Finding("experiments/alpha.toml", 7, None, Severity.WARNING, "unknown-key",
            "unknown key `enrollments_query` in [experiment]", "did you mean enrollment_query?"),
    Finding("outcomes/fenix/search.toml", None, None, Severity.ERROR, "sql-syntax",
            "bad SQL <img src=x> @everyone | [link](http://evil)"),
]
PLAN = [Affected("alpha", ("its config changed",)), Affected("bravo", ("fenix defaults changed",))]


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_validation_comment_golden():
    _golden("validation_comment.md", reports.validation_comment(SHA, FINDINGS, PLAN, {"alpha": 2_500_000_000, "bravo": None}, False))


def test_fork_validation_comment_golden():
    _golden("validation_comment_fork.md", reports.validation_comment(SHA, [], PLAN, None, True))


def test_reanalysis_comment_golden():
    rows = [reports.ReanalysisRow("alpha", "succeeded", "http://results.test/experiments/alpha"),
            reports.ReanalysisRow("bravo", "failed", "", "no enrollments | table"),
            reports.ReanalysisRow("charlie", "queued")]
    _golden("reanalysis_comment.md", reports.reanalysis_comment(SHA, rows))


def test_check_run_text_golden():
    text = reports.check_text(FINDINGS, PLAN)
    _golden("validate_check.md", f"{text.title}\n\n{text.summary}\n\n{text.text}\n")


def test_user_text_cannot_inject_markdown():
    text = reports.validation_comment(SHA, FINDINGS, PLAN, None, False)
    assert "<img" not in text and "@everyone" not in text and "](http://evil)" not in text
    assert "&lt;img" in text and "&#64;everyone" in text


def test_annotations_keep_lines_and_levels():
    items = reports.annotations(FINDINGS)
    assert [(a["path"], a["start_line"], a["annotation_level"]) for a in items] == [
        ("experiments/alpha.toml", 3, "failure"), ("experiments/alpha.toml", 7, "warning"),
        ("outcomes/fenix/search.toml", 1, "failure")]
    assert items[1]["raw_details"] == "hint: did you mean enrollment_query?"


@pytest.mark.parametrize("count", [5, 4_000])
def test_comment_fits_github_limit(count):
    many = [Finding(f"experiments/e{i}.toml", i, None, Severity.ERROR, "x", "m" * 80) for i in range(count)]
    text = reports.validation_comment(SHA, many, PLAN, None, False)
    assert len(text) < reports.GITHUB_TEXT_LIMIT
    assert ("<details>" in text) == (count > 100)
    if count > 100:
        assert "more finding(s) not shown here. Nothing is lost" in text
