"""Limits of the DuckDB connection that dry-runs pull-request SQL.

A dry run binds and plans (EXPLAIN) and never executes, so nothing is read from the telemetry;
but DuckDB evaluates constant expressions while binding and planning, outside its memory limit
and deaf to interrupts (`UNNEST(GENERATE_ARRAY(1, 100000000))` took 11.7 GB and minutes). So a
constant call of a function that builds a big array or string is refused before DuckDB sees it,
by computing its size from the literals; column-dependent calls are never evaluated by a plan.
"""
from __future__ import annotations

import datetime as dt
import re

from sqlglot import exp

from engine.backends.base import sql_finding
from engine.findings import Finding

# The dry-run connection: a memory limit, few threads, a short time limit per statement, and no
# optimizer (it folds constants, i.e. evaluates them: `GENERATE_ARRAY(1, (SELECT 100000000))`).
DRY_RUN = {"timeout": 20.0, "threads": 2, "memory_limit": "1GB", "optimizer": False}
MAX_ELEMENTS = 1_000_000  # items of a constant array, characters of a constant string
_SECONDS = {"MICROSECOND": 1e-6, "MILLISECOND": 1e-3, "SECOND": 1, "MINUTE": 60, "HOUR": 3600,
            "DAY": 86400, "WEEK": 604800, "MONTH": 2419200, "QUARTER": 7257600, "YEAR": 31536000}
_NAMED = {"RANGE", "GENERATE_SERIES", "REPEAT", "LPAD", "RPAD", "SPACE", "ARRAY_REPEAT",
          "LIST_REPEAT", "PRINTF", "FORMAT", "GENERATE_ARRAY"}
_WIDTH = re.compile(r"%[-+ #0']*(\*|\d+)")


class _Unknown(Exception):
    """A size that cannot be computed from literals."""


def _number(node: exp.Expression | None, default: float | None = None) -> float:
    if node is None:
        if default is None:
            raise _Unknown
        return default
    if isinstance(node, exp.Neg):
        return -_number(node.this)
    if isinstance(node, exp.Paren):
        return _number(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        return float(node.this)
    raise _Unknown


def _instant(node: exp.Expression | None) -> float:
    while isinstance(node, (exp.Cast, exp.TsOrDsToDate, exp.Paren)):
        node = node.this
    if isinstance(node, exp.Literal) and node.is_string:
        try:
            return dt.datetime.fromisoformat(node.this).timestamp()
        except ValueError:
            raise _Unknown from None
    raise _Unknown


def _step_seconds(node: exp.Expression | None) -> float:
    if node is None:
        return 86400.0
    if isinstance(node, exp.Interval) and node.unit is not None:
        amount = node.this.this if isinstance(node.this, exp.Literal) else None
        try:
            return float(amount) * _SECONDS[node.unit.name.upper()]
        except (TypeError, ValueError, KeyError):
            raise _Unknown from None
    raise _Unknown


def _size(node: exp.Expression) -> float:
    """Elements or characters a constant call produces; _Unknown if not computable."""
    if isinstance(node, exp.GenerateSeries):
        start, end = _number(node.args.get("start")), _number(node.args.get("end"))
        step = _number(node.args.get("step"), 1.0)
        return (end - start) / step + 1 if step else float("inf")
    if isinstance(node, (exp.GenerateDateArray, exp.GenerateTimestampArray)):
        span = _instant(node.args.get("start")) - _instant(node.args.get("end"))
        step = _step_seconds(node.args.get("step"))
        return abs(span) / step + 1 if step else float("inf")
    if isinstance(node, exp.Repeat):
        return _number(node.args.get("times")) * max(len(node.this.name), 1)
    if isinstance(node, exp.Pad):
        return _number(node.expression)
    if isinstance(node, exp.Format) or node.name.upper() in ("PRINTF", "FORMAT"):
        template = node.this if isinstance(node.this, exp.Literal) else None
        if template is None:
            raise _Unknown
        widths = [w for w in _WIDTH.findall(template.this)]
        if "*" in widths:
            raise _Unknown
        return max([float(w) for w in widths] + [len(template.this)])
    raise _Unknown  # a named generator we cannot size (RANGE, SPACE, ARRAY_REPEAT ...)


def _amplifies(node: exp.Expression) -> bool:
    if isinstance(node, (exp.GenerateSeries, exp.GenerateDateArray, exp.GenerateTimestampArray,
                         exp.Repeat, exp.Pad, exp.Format)):
        return True
    return isinstance(node, exp.Anonymous) and node.name.upper() in _NAMED


def constant_size_finding(tree: exp.Expression) -> Finding | None:
    """A finding for the first constant array or string builder too big (or not sizeable)."""
    for node in tree.find_all(exp.Func):
        if not _amplifies(node) or node.find(exp.Column, exp.Subquery, exp.Select) is not None:
            continue
        try:
            size = _size(node)
        except _Unknown:
            size = float("inf")
        if size > MAX_ELEMENTS:
            name = node.sql_name() if not isinstance(node, exp.Anonymous) else node.name.upper()
            return sql_finding("sql-limit", f"{name}(...) with constant arguments builds more than "
                               f"{MAX_ELEMENTS:,} elements (or a size not given by literals)",
                               "dry runs refuse constant arrays and strings that large")
    return None
