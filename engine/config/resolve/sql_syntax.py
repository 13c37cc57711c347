"""Parse every rendered SQL fragment with sqlglot's BigQuery dialect; map errors to the file.

A fragment's first character sits at a known line/column of its TOML file (the line after the
opening triple quote of a multi-line string); sqlglot's error position inside the fragment is
shifted by that. Parses are cached by text: the same definition is checked once, not once per experiment.
"""
from __future__ import annotations

import functools
import re

import sqlglot
from sqlglot import exp

from engine.config.repository import Origin
from engine.findings import Finding

EXPRESSION = "expression"  # select_expression of a metric, segment or exposure signal
FROM = "from"  # from_expression of a data source: a table name or a parenthesised query
QUERY = "query"  # a whole query (enrollment_query)

_VALUE_START = re.compile("=\\s*(\"{3}|'{3}|\"|')")


@functools.lru_cache(maxsize=16384)
def parse_error(sql: str, kind: str) -> tuple[str, int | None, int | None] | None:
    """None if `sql` parses as a `kind` fragment, else (message, line, column) in the fragment."""
    if not sql.strip():
        return ("empty SQL fragment", 1, 1)
    try:
        if kind == FROM:
            tree = _parse_from(sql)
        else:
            tree = sqlglot.parse_one(sql, read="bigquery")
    except sqlglot.errors.ParseError as error:
        detail = error.errors[0] if error.errors else {}
        message = str(detail.get("description") or error).splitlines()[0]
        return (message, detail.get("line"), detail.get("col"))
    except sqlglot.errors.SqlglotError as error:
        return (str(error).splitlines()[0], None, None)
    if kind == QUERY and not isinstance(tree, exp.Query):
        return ("expected a SELECT query", 1, 1)
    return None


def _parse_from(sql: str) -> exp.Expression:
    """A from_expression is a table reference or a parenthesised query (with optional alias)."""
    stripped = sql.strip()
    if stripped.startswith("("):
        return sqlglot.parse_one(stripped, read="bigquery")
    return sqlglot.parse_one(stripped, read="bigquery", into=exp.Table)


def fragment_start(origin: Origin) -> tuple[int | None, int]:
    """(line, column) of the first character of the string value at `origin`."""
    line = origin.line
    if line is None or not origin.doc.text:
        return line, 1
    lines = origin.doc.text.splitlines()
    if line > len(lines):
        return line, 1
    match = _VALUE_START.search(lines[line - 1])
    if not match:
        return line, 1
    if len(match.group(1)) == 3 and not lines[line - 1][match.end():].strip():
        return line + 1, 1
    return line, match.end() + 1


def check_sql(sql: str, kind: str, origin: Origin, what: str, templated: bool) -> list[Finding]:
    """Findings for one rendered fragment written at `origin` (a string-valued key)."""
    problem = parse_error(sql, kind)
    if problem is None:
        return []
    message, err_line, err_col = problem
    start_line, start_col = fragment_start(origin)
    line, column = start_line, None
    if start_line is not None and err_line is not None:
        raw = origin.doc.text.splitlines()
        line = start_line + err_line - 1
        if templated:
            line = min(line, len(raw)) if raw else line
        column = (start_col + err_col - 1 if err_line == 1 else err_col) if err_col else None
    hint = "the fragment is shown after template rendering" if templated else None
    return [origin.finding("sql-syntax", f"{what}: SQL does not parse (BigQuery): {message}", hint,
                           line=line, column=column)]
