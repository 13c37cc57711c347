"""Loading TOML into Documents: positions, frozen data, and bad input as findings."""
import pytest

from engine.config.load import MAX_CONFIG_BYTES, load_document, parse_document, thaw
from engine.findings import Severity

TEXT = b'''# comment
[experiment]
enrollment_period = 7
segments = [
  "a",
  "b",
]
description = """
  [not.a.header]
  fake = 1
"""

[metrics.active_hours.statistics.bootstrap_mean]
drop_highest = 0.01

[metrics.dotted]
data_source.inner = "x"
statistics = { deciles = {} }

[[rows]]
x = 1
[[rows]]
x = 2

["quoted key".sub]
y = 3
'''


@pytest.fixture
def doc():
    return parse_document("f.toml", TEXT)


def test_lines_of_keys_and_headers(doc):
    assert doc.ok and not doc.findings
    assert doc.lines[("experiment",)] == 2
    assert doc.lines[("experiment", "enrollment_period")] == 3
    assert doc.lines[("experiment", "segments")] == 4
    assert doc.lines[("experiment", "description")] == 8
    assert ("not", "a", "header") not in doc.lines  # inside a multi-line string
    assert doc.lines[("metrics", "active_hours", "statistics", "bootstrap_mean", "drop_highest")] == 14
    assert doc.lines[("metrics", "dotted", "data_source", "inner")] == 17
    assert doc.lines[("rows", "0", "x")] == 21
    assert doc.lines[("rows", "1", "x")] == 23
    assert doc.lines[("quoted key", "sub", "y")] == 26


def test_implicit_super_tables_point_at_first_header(doc):
    assert doc.lines[("metrics",)] == 13
    assert doc.lines[("metrics", "active_hours", "statistics")] == 13


def test_explicit_header_wins_over_implicit():
    doc = parse_document("f.toml", b"[a.b]\nx = 1\n[a]\ny = 2\n")
    assert doc.lines[("a",)] == 3
    assert doc.lines[("a", "b")] == 1


def test_line_of_falls_back_to_nearest_ancestor(doc):
    # keys inside inline tables are not scanned; their line is the enclosing key's
    assert doc.line_of(("metrics", "dotted", "statistics", "deciles")) == 18
    assert doc.line_of(["experiment", "segments", 1]) == 4
    assert doc.line_of(("nowhere",)) == 1


def test_data_is_frozen_and_thaw_gives_plain_copies(doc):
    with pytest.raises(TypeError):
        doc.data["experiment"]["enrollment_period"] = 8  # type: ignore[index]
    plain = thaw(doc.data)
    assert plain["experiment"]["segments"] == ["a", "b"]
    plain["experiment"]["segments"].append("c")
    assert doc.data["experiment"]["segments"] == ("a", "b")


def test_syntax_error_has_line_and_column():
    doc = parse_document("bad.toml", b'[experiment]\nenrollment_period = 7\nsegments = ["a",\n[x]\n')
    assert not doc.ok
    (finding,) = doc.findings
    assert (finding.code, finding.severity) == ("toml-syntax", Severity.ERROR)
    assert finding.line == 4 and finding.column is not None
    assert "at line" not in finding.message


def test_duplicate_key_is_a_syntax_error():
    doc = parse_document("dup.toml", b"[a]\nx = 1\nx = 2\n")
    assert doc.findings[0].code == "toml-syntax" and doc.findings[0].line == 3


@pytest.mark.parametrize("raw, code, line", [
    (b"[a]\nx = 1\n\xff\xfe = 2\n", "not-utf8", 3),
    (b"x = 1\n\x00\x01\x02", "binary-file", 2),
    (b"x = 1\n" + b"#" * MAX_CONFIG_BYTES, "file-too-large", 1),
])
def test_unusable_bytes_become_one_error(raw, code, line):
    doc = parse_document("f.toml", raw)
    assert [(f.code, f.line, f.severity) for f in doc.findings] == [(code, line, Severity.ERROR)]
    assert dict(doc.data) == {}


def test_empty_file_is_a_warning():
    doc = parse_document("empty.toml", b"  \n")
    assert [(f.code, f.severity) for f in doc.findings] == [("empty-file", Severity.WARNING)]
    assert doc.ok


def test_deep_nesting_does_not_crash():
    doc = parse_document("deep.toml", b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n")
    assert doc.findings == () or doc.findings[0].code == "toml-syntax"


def test_load_document_reads_files_and_reports_missing(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text("[experiment]\nskip = true\n", encoding="utf-8")
    assert load_document(path, "shown.toml").data["experiment"]["skip"] is True
    missing = load_document(tmp_path / "nope.toml")
    assert missing.findings[0].code == "unreadable" and not missing.ok
