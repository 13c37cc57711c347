"""Parsing, composing and rendering SQL trees. Users write BigQuery SQL; so do the builders.

Templates are constant SQL text with `:name` placeholders, parsed once and filled with syntax
nodes (`fill`), so no user text is ever spliced into SQL as a string.
"""
from __future__ import annotations

import datetime as dt
import functools

import sqlglot
from sqlglot import exp

READ = "bigquery"


class SqlError(ValueError):
    """A fragment that does not parse as BigQuery SQL."""


def parse_expression(text: str) -> exp.Expression:
    """One scalar/aggregate expression, e.g. a metric's select_expression (a fresh copy)."""
    return _parse_expression(text).copy()


@functools.lru_cache(maxsize=4096)
def _parse_expression(text: str) -> exp.Expression:
    try:
        tree = sqlglot.parse_one(text, read=READ)
    except sqlglot.errors.ParseError as err:
        raise SqlError(str(err)) from err
    if isinstance(tree, (exp.Query, exp.Command)) and not isinstance(tree, exp.Subquery):
        raise SqlError(f"expected an expression, got a statement: {text[:60]!r}")
    return tree


def parse_query(text: str) -> exp.Query:
    """One SELECT (or set operation), e.g. an enrollment_query (a fresh copy)."""
    return _parse_query(text).copy()


@functools.lru_cache(maxsize=1024)
def _parse_query(text: str) -> exp.Query:
    try:
        statements = [s for s in sqlglot.parse(text, read=READ) if s is not None]
    except sqlglot.errors.ParseError as err:
        raise SqlError(str(err)) from err
    if len(statements) != 1:
        raise SqlError(f"expected exactly one statement, got {len(statements)}")
    tree = statements[0]
    while isinstance(tree, exp.Subquery):
        tree = tree.this
    if not isinstance(tree, exp.Query):
        raise SqlError(f"expected a SELECT, got {tree.key.upper()}")
    return tree


def parse_from(text: str) -> exp.Expression:
    """A data source's from_expression: a table name or a (parenthesised) query, as a FROM item."""
    stripped = text.strip()
    if stripped.startswith("(") or stripped.lower().startswith(("select", "with")):
        return parse_query(stripped).subquery()
    try:
        table = exp.to_table(stripped, dialect=READ)
    except sqlglot.errors.ParseError as err:
        raise SqlError(str(err)) from err
    for part in table.parts:
        part.set("quoted", True)  # project ids contain dashes
    return table


@functools.lru_cache(maxsize=None)
def _template(text: str) -> exp.Expression:
    return sqlglot.parse_one(text, read=READ)


def fill(template: str, **nodes: exp.Expression) -> exp.Expression:
    """Parse a constant template (cached) and replace its `:name` placeholders by nodes."""
    missing = {p.name for p in _template(template).find_all(exp.Placeholder)} - nodes.keys()
    if missing:
        raise KeyError(f"template placeholders without values: {sorted(missing)}")
    return exp.replace_placeholders(_template(template), **nodes)  # transform() copies


def literal(value: str | int | dt.date) -> exp.Expression:
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    if isinstance(value, int):
        return exp.Literal.number(value)
    return exp.Literal.string(value)


def column(name: str, table: str | None = None) -> exp.Column:
    return exp.column(exp.to_identifier(name), table=exp.to_identifier(table) if table else None)


def field(alias: str, dotted: str) -> exp.Expression:
    """`alias.a.b` for a configured (possibly nested) column name such as client_info.client_id."""
    first, *rest = dotted.split(".")
    head = column(first, alias)
    return exp.Dot.build([head, *map(exp.to_identifier, rest)]) if rest else head


def render(tree: exp.Expression, dialect: str = READ, pretty: bool = True) -> str:
    return tree.sql(dialect=dialect, pretty=pretty)
