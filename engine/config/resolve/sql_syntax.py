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
from sqlglot.tokens import TokenType

from engine.config.repository import Origin
from engine.findings import Finding

EXPRESSION = "expression"  # select_expression of a metric, segment or exposure signal
FROM = "from"  # from_expression of a data source: a table name or a parenthesised query
QUERY = "query"  # a whole query (enrollment_query)

_VALUE_START = re.compile("=\\s*(\"{3}|'{3}|\"|')")
# sqlglot's parser and generator recurse per nesting level and overflow Python's stack from about
# 500 levels; no real fragment nests a tenth of this or comes near this size.
MAX_SQL_DEPTH = 64
MAX_SQL_CHARS = 200_000
SYNTAX, TOO_DEEP, TOO_LONG = "sql-syntax", "sql-too-deep", "sql-too-long"
_BIGQUERY = sqlglot.Dialect.get_or_raise("bigquery")
# what the depth scan steps over: strings, quoted names, comments, and the brackets themselves
_NESTING_TOKEN = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`|--[^\n]*|#[^\n]*"""
                            r"|/\*.*?\*/|[(\[]|[)\]]", re.S)


def nesting_depth(sql: str) -> tuple[int, int]:
    """(deepest bracket nesting outside strings and comments, offset where it is reached)."""
    depth = deepest = at = 0
    for match in _NESTING_TOKEN.finditer(sql):
        token = match.group(0)
        if token in "([":
            depth += 1
            if depth > deepest:
                deepest, at = depth, match.start()
        elif token in ")]":
            depth -= 1
    return deepest, at


def _unbalanced(sql: str) -> tuple[str, int] | None:
    """(what is wrong, offset) for the first unmatched bracket outside strings and comments."""
    opened: list[int] = []
    for match in _NESTING_TOKEN.finditer(sql):
        token = match.group(0)
        if token in "([":
            opened.append(match.start())
        elif token in ")]":
            if not opened:
                return (f"'{token}' closes nothing (one '(' too few or one ')' too many)", match.start())
            opened.pop()
    if opened:
        return ("this '(' is never closed (missing ')')", opened[-1])
    return None


_OPERAND_END = {TokenType.NUMBER, TokenType.STRING, TokenType.VAR, TokenType.R_PAREN,
                TokenType.IDENTIFIER, TokenType.TRUE, TokenType.FALSE, TokenType.NULL}
_COMPARISON = {TokenType.EQ, TokenType.NEQ, TokenType.LT, TokenType.LTE, TokenType.GT, TokenType.GTE,
               TokenType.LIKE, TokenType.IN, TokenType.IS, TokenType.PLUS, TokenType.DASH,
               TokenType.STAR, TokenType.SLASH}


def _missing_operator(sql: str) -> tuple[str, int] | None:
    """`a = 1 b = 2`: sqlglot reads `1 b` as `1 AS b` and then stumbles on `=`; name the gap."""
    try:
        tokens = _BIGQUERY.tokenize(sql)
    except sqlglot.errors.SqlglotError:
        return None
    for before, name, operator in zip(tokens, tokens[1:], tokens[2:]):
        if (before.token_type in _OPERAND_END and name.token_type in (TokenType.VAR, TokenType.IDENTIFIER)
                and operator.token_type in _COMPARISON):
            return (f"missing AND, OR or a comma before `{name.text}`: `{before.text} {name.text}` "
                    f"reads as an alias, then `{operator.text}` makes no sense", name.start)
    return None


def _explained(sql: str, message: str, line: int | None, col: int | None
               ) -> tuple[str, int | None, int | None]:
    """sqlglot's message, or a plainer one for the two mistakes it words misleadingly (a missing
    parenthesis: 'Expecting )' or 'number of provided arguments'; a missing AND: 'Expecting )')."""
    found = _unbalanced(sql) or _missing_operator(sql)
    if found is None:
        return message, line, col
    return (found[0], *_position(sql, found[1]))


def _position(sql: str, offset: int) -> tuple[int, int]:
    line = sql.count("\n", 0, offset) + 1
    return line, offset - (sql.rfind("\n", 0, offset) + 1) + 1


def limit_error(sql: str) -> tuple[str, str, int | None, int | None] | None:
    """(code, message, line, column) when `sql` is too long or too deep to parse safely."""
    if len(sql) > MAX_SQL_CHARS:
        return (TOO_LONG, f"SQL fragment is {len(sql):,} characters; the limit is {MAX_SQL_CHARS:,}",
                1, 1)
    depth, offset = nesting_depth(sql)
    if depth > MAX_SQL_DEPTH:
        return (TOO_DEEP, f"SQL nests brackets {depth} deep; the limit is {MAX_SQL_DEPTH}",
                *_position(sql, offset))
    return None


@functools.lru_cache(maxsize=16384)
def parse_error(sql: str, kind: str) -> tuple[str, str, int | None, int | None] | None:
    """None if `sql` parses as a `kind` fragment, else (code, message, line, column) in it."""
    if not sql.strip():
        return (SYNTAX, "empty SQL fragment", 1, 1)
    limited = limit_error(sql)
    if limited is not None:
        return limited
    try:
        if kind == FROM:
            tree = _parse_from(sql)
        else:
            tree = sqlglot.parse_one(sql, read="bigquery")
    except sqlglot.errors.ParseError as error:
        detail = error.errors[0] if error.errors else {}
        message = str(detail.get("description") or error).splitlines()[0]
        return (SYNTAX, *_explained(sql, message, detail.get("line"), detail.get("col")))
    except sqlglot.errors.SqlglotError as error:
        return (SYNTAX, str(error).splitlines()[0], None, None)
    except RecursionError:
        return (TOO_DEEP, "SQL nests too deeply to parse", 1, 1)
    if kind == QUERY and not isinstance(tree, exp.Query):
        return (SYNTAX, "expected a SELECT query", 1, 1)
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
    code, message, err_line, err_col = problem
    start_line, start_col = fragment_start(origin)
    line, column = start_line, None
    if start_line is not None and err_line is not None:
        raw = origin.doc.text.splitlines()
        line = start_line + err_line - 1
        if templated:
            line = min(line, len(raw)) if raw else line
        column = (start_col + err_col - 1 if err_line == 1 else err_col) if err_col else None
    hint = "the fragment is shown after template rendering" if templated else None
    text = f"{what}: SQL does not parse (BigQuery): {message}" if code == SYNTAX else f"{what}: {message}"
    return [origin.finding(code, text, hint, line=line, column=column)]
