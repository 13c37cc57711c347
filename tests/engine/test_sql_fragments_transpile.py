"""SQL fragments transpile to DuckDB: all of the metric-hub corpus that parses, and ours."""
from pathlib import Path

import sqlglot
import tomli

from engine.backends.duckdb import to_duckdb_tree
from engine.sql.dialect import SqlError, parse_expression, parse_from

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "metric-hub"  # ../shared beside the clone
KEYS = {"select_expression": parse_expression, "from_expression": parse_from}


def _fragments(data, found):
    if isinstance(data, dict):
        for key, value in data.items():
            if key in KEYS and isinstance(value, str):
                found.append((key, value))
            else:
                _fragments(value, found)
    return found


def _check(paths):
    """(transpiled, Jinja templates skipped, fragments that do not parse)."""
    parsed, templates, failed = 0, 0, []
    for path in paths:
        for key, text in _fragments(tomli.loads(path.read_text()), []):
            if "{{" in text or "{%" in text:  # rendered before they are SQL (run by the e2e tests)
                templates += 1
                continue
            try:
                tree = KEYS[key](text)
            except (SqlError, sqlglot.errors.SqlglotError):
                failed.append((path.name, text))
                continue
            sql = to_duckdb_tree(tree).sql(dialect="duckdb")
            assert sql, (path, text)
            parsed += 1
    return parsed, templates, failed


def test_corpus_fragments_that_parse_transpile():
    paths = sorted((CORPUS / "definitions").glob("*.toml")) + sorted((CORPUS / "jetstream").glob("*.toml"))
    parsed, templates, failed = _check(paths)
    print(f"metric-hub: {parsed} fragments transpiled, {templates} templates, {len(failed)} invalid")
    assert parsed > 1000


def test_our_definitions_transpile():
    root = Path(__file__).resolve().parents[2]
    paths = sorted((root / "engine" / "definitions").glob("*.toml"))
    paths += sorted((root / "outcomes").rglob("*.toml")) + sorted((root / "experiments").glob("*.toml"))
    parsed, templates, failed = _check(paths)
    assert failed == [] and parsed > 0 and templates > 0
