"""Property tests: no input, however strange, makes loading or the structure check raise."""
import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.check.validate import validate
from engine.config.load import MAX_CONFIG_BYTES, Document, parse_document
from engine.config.schema.build import KINDS, PERIOD_KEYS, cached_schema
from engine.config.schema.hints import tables_by_key
from engine.config.schema.structure import check_structure
from engine.findings import Finding, Severity
from engine.statistics.pretreatments.declarations import PRETREATMENTS
from engine.statistics.registry import STATISTICS
from tests.config.mini_root import mini_root

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Keys the schemas know, so random documents reach deep into them, plus arbitrary text.
VOCABULARY = sorted(set(tables_by_key(cached_schema(k) for k in KINDS))
                    | set(STATISTICS) | set(PRETREATMENTS) | set(PERIOD_KEYS)
                    | {"experiment", "metrics", "data_sources", "segments", "statistics"})
keys = st.one_of(st.sampled_from(VOCABULARY), st.text(min_size=1, max_size=12))
scalars = st.one_of(
    st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=True),
    st.text(max_size=20), st.sampled_from(VOCABULARY),
    st.dates(), st.datetimes(), st.times())
structures = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25)
documents = st.dictionaries(keys, structures, max_size=6)


def _assert_findings(findings):
    assert isinstance(findings, list)
    for finding in findings:
        assert isinstance(finding, Finding)
        assert isinstance(finding.severity, Severity)
        assert finding.code and finding.message
        assert finding.line is None or finding.line >= 1


def _toml_key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value == float("inf") else
                                             "-inf" if value == float("-inf") else repr(value))
    if isinstance(value, (int, dt.date, dt.time)):
        return value.isoformat() if not isinstance(value, int) else str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def to_toml(document: dict) -> str:
    """Top-level tables as [headers], everything below inline, so both paths of the scanner run."""
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in document.items()
             if not isinstance(v, dict)]
    for key, value in document.items():
        if isinstance(value, dict):
            lines.append(f"[{_toml_key(key)}]")
            lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
    return "\n".join(lines) + "\n"


@SETTINGS
@given(documents)
def test_random_toml_documents_never_raise(document):
    doc = parse_document("random.toml", to_toml(document).encode("utf-8"))
    _assert_findings(list(doc.findings))
    for kind in KINDS:
        _assert_findings(check_structure(doc, kind))


@SETTINGS
@given(documents)
def test_random_structures_never_raise(document):
    doc = Document("random.toml", "", document, {})
    for kind in KINDS:
        _assert_findings(check_structure(doc, kind))


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(raw):
    doc = parse_document("random.toml", raw)
    _assert_findings(list(doc.findings))
    for kind in KINDS:
        _assert_findings(check_structure(doc, kind))


@SETTINGS
@given(st.text(alphabet=st.sampled_from(list('[]{}="\'#.,\n abc_-1\\')), max_size=200))
def test_toml_punctuation_soup_never_raises(text):
    doc = parse_document("soup.toml", text.encode("utf-8"))
    _assert_findings(list(doc.findings))
    _assert_findings(check_structure(doc, "experiment"))


def test_bad_files_give_findings():
    cases = {
        "not-utf8": b"[experiment]\nx = '\xff'\n",
        "binary-file": b"\x00\x01\x02\x03",
        "file-too-large": b"a = 1\n" * (MAX_CONFIG_BYTES // 6 + 1),
    }
    for code, raw in cases.items():
        doc = parse_document("bad.toml", raw)
        assert [f.code for f in doc.findings] == [code]
        for kind in KINDS:
            assert check_structure(doc, kind) == []
    empty = parse_document("empty.toml", b"")
    assert [f.code for f in empty.findings] == ["empty-file"]
    assert [f.code for f in check_structure(empty, "outcome")] == ["missing-key", "missing-key"]


# ---- through the whole validator -----------------------------------------------------------

KIND_FILES = {
    "experiment": "experiments/exp.toml",
    "outcome": "outcomes/firefox_desktop/search.toml",
    "defaults": "engine/defaults/firefox_desktop.toml",
    "definitions": "engine/definitions/firefox_desktop.toml",
    "functions": "engine/definitions/functions.toml",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return mini_root(tmp_path_factory.mktemp("root"), {"exp": "[experiment]\n"})


def _validate_with(root, kind: str, raw: bytes):
    path = root / KIND_FILES[kind]
    original = path.read_bytes()
    path.write_bytes(raw)
    try:
        report = validate(root)
    finally:
        path.write_bytes(original)
    _assert_findings(list(report.findings))
    return report


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), document=documents)
def test_validator_never_raises_on_random_documents(root, kind, document):
    _validate_with(root, kind, to_toml(document).encode("utf-8"))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("raw, code", [
    (b"x = '\xff'\n", "not-utf8"),
    (b"\x00\x01binary", "binary-file"),
    (b"a = 1\n" * (MAX_CONFIG_BYTES // 6 + 1), "file-too-large"),
    (b"", "empty-file"),
], ids=["not-utf8", "binary", "oversized", "empty"])
def test_validator_reports_unusable_files(root, kind, raw, code):
    report = _validate_with(root, kind, raw)
    assert code in {f.code for f in report.findings if f.path.endswith(KIND_FILES[kind])}
