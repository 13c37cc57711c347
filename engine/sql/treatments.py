"""Pre-treatment steps in SQL, with the null semantics of `engine.statistics.frame_source`.

A treated column's values are FLOAT64 where NULL stands for every null of the oracle: NaN
becomes NULL at the source and after any step that can make one, so `IS NULL` is the oracle's
`isnan` and `IS NULL OR IS_INF` its `~isfinite`. Steps never raise in BigQuery: logarithms and
divisions get arguments that are defined (LN(IF(v > 0, v, NULL)), SAFE_DIVIDE), and clipping
is spelled with IF (DuckDB's LEAST ignores NULLs, BigQuery's does not).

`Values` lays the per-client rows out as nested SELECTs, one layer per step, so a chain of
steps costs one expression per step (not a tree that doubles with each step that reads its
input twice). Its last layer holds, per (row set, column) asked for, the value where the row
is kept and finite, else NULL: aggregates over it are the oracle's sums over finite values.
"""
from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import NamedTuple, Union

import numpy as np
from sqlglot import exp

from engine.sql.dialect import column
from engine.sql.slots import PART, Slot
from engine.statistics.summaries import (
    ALL_SEGMENT,
    CLIP_LOWER,
    CLIP_UPPER,
    DIVIDE,
    DROP_NONFINITE,
    DROP_NULL,
    FILL_NONFINITE,
    FILL_ZERO,
    LOG1P,
    POSITIVE,
    POSITIVE_LOG,
    Column,
    RowSet,
    Step,
)

FLOAT = exp.DataType.build("FLOAT64", dialect="bigquery")
BOOL = exp.DataType.build("BOOL", dialect="bigquery")


class Part(NamedTuple):
    """One part of a combined query's rows: its number (column `_win`), its relation, the
    columns the relation has (None: every column asked for) and its Slot columns' values."""
    number: int
    relation: exp.Query
    columns: Collection[str] | None = None
    slots: Mapping[str, float] = {}


Rows = Union[exp.Query, Sequence[Part]]
_INF = math.inf


def number(value: float) -> exp.Expression:
    """A FLOAT64 literal that parses back to exactly `value` (NaN is NULL, as for values);
    a `Slot` is its column: the value in the row's part."""
    if isinstance(value, Slot):
        return column(value.name)
    if math.isnan(value):
        return exp.cast(exp.null(), FLOAT)
    text = repr(float(value)) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    return exp.cast(exp.Literal.string(text), FLOAT)


def parenthesized(tree: exp.Expression) -> exp.Expression:
    """Every operand that is itself an operator in parentheses: a tree built node by node
    carries no precedence, and `a - (b - c)` would render as `a - b - c`."""
    def wrap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Binary):
            for key in ("this", "expression"):
                child = node.args.get(key)
                if isinstance(child, (exp.And, exp.Or)) and type(child) is type(node):
                    continue  # associative: a chain of thousands stays flat (parsers recurse)
                if isinstance(child, (exp.Binary, exp.Not, exp.Neg)):
                    node.set(key, exp.Paren(this=child))
        return node
    return tree.transform(wrap, copy=False)


def integer(value: int) -> exp.Expression:
    return exp.Literal.number(int(value))


def is_inf(v: exp.Expression) -> exp.Expression:
    return exp.IsInf(this=v.copy())


def finite(v: exp.Expression) -> exp.Expression:
    """TRUE where v is finite; NULL (not TRUE) where it is null."""
    return exp.not_(is_inf(v))


def _if(condition: exp.Expression, true: exp.Expression,
        false: exp.Expression | None = None) -> exp.Expression:
    return exp.If(this=condition, true=true, false=false if false is not None else exp.null())


def _nan_to_null(v: exp.Expression) -> exp.Expression:
    return _if(exp.IsNan(this=v.copy()), exp.null(), v.copy())


def source_value(name: str, boolean: bool) -> exp.Expression:
    """A source column as FLOAT64 (BOOL as 1/0: BigQuery cannot cast it), NaN as NULL."""
    ref = column(name, "_r")
    if boolean:
        return exp.Case(ifs=[exp.If(this=ref.copy(), true=number(1.0)),
                             exp.If(this=exp.not_(ref.copy()), true=number(0.0))])
    return _nan_to_null(exp.cast(ref, FLOAT))


def _divide(v: exp.Expression, a: float) -> exp.Expression:
    """v / a as numpy computes it (a == 0 gives +-inf or NaN; BigQuery would raise)."""
    if math.isnan(a):
        return exp.cast(exp.null(), FLOAT)
    if a == 0:  # v / +-0 is v * +-inf (same signs, 0 -> NaN)
        inf = _INF if math.copysign(1.0, a) > 0 else -_INF
        return _nan_to_null(exp.Mul(this=v.copy(), expression=number(inf)))
    quotient = exp.Div(this=v.copy(), expression=number(a))
    return quotient if math.isfinite(a) else _nan_to_null(quotient)


def _log1p(v: exp.Expression) -> exp.Expression:
    """log(1 + v), accurate for small v (log(u) * v / (u - 1) with u = 1 + v, Goldberg),
    NULL where v <= -1, v itself where u rounds to 1 or v is +inf."""
    one = exp.Literal.number(1)
    u = exp.Paren(this=exp.Add(this=one.copy(), expression=v.copy()))
    above = exp.GT(this=v.copy(), expression=exp.Literal.number(-1))
    ln = exp.func("LN", _if(above.copy(), u.copy()))
    ratio = exp.func("SAFE_DIVIDE", v.copy(), exp.Sub(this=u.copy(), expression=one.copy()),
                     dialect="bigquery")
    general = exp.and_(above.copy(), exp.LT(this=v.copy(), expression=number(_INF)),
                       exp.NEQ(this=u.copy(), expression=one.copy()))
    return exp.Case(ifs=[exp.If(this=general, true=exp.Mul(this=ln, expression=ratio)),
                         exp.If(this=above, true=v.copy())])


def apply_step(step: Step, v: exp.Expression) -> exp.Expression:
    """The value after `step` (row-dropping steps leave it as it is)."""
    a = step.argument
    if step.op == CLIP_UPPER:
        return _if(exp.GT(this=v.copy(), expression=number(a)), number(a), v.copy())
    if step.op == CLIP_LOWER:
        return _if(exp.LT(this=v.copy(), expression=number(a)), number(a), v.copy())
    if step.op == DIVIDE:
        return _divide(v, a)
    if step.op == LOG1P:
        out = _log1p(v)
        if not a:
            return out
        with np.errstate(divide="ignore", invalid="ignore"):
            return _divide(exp.Paren(this=out), float(np.log(a)))
    if step.op == FILL_ZERO:
        return exp.func("IFNULL", v.copy(), number(0.0))
    if step.op == FILL_NONFINITE:
        return _if(finite(v), v.copy(), number(a))
    if step.op == POSITIVE_LOG:
        return exp.func("LN", _if(exp.GT(this=v.copy(), expression=number(0.0)), v.copy()))
    if step.op == POSITIVE:
        return _if(exp.GT(this=v.copy(), expression=number(0.0)), v.copy())
    return v.copy()


def dropped(step: Step, v: exp.Expression) -> exp.Expression | None:
    """TRUE where `step` drops the row (v is the value the step sees)."""
    if step.op == DROP_NULL:
        return exp.Is(this=v.copy(), expression=exp.null())
    if step.op == DROP_NONFINITE:
        return exp.or_(exp.Is(this=v.copy(), expression=exp.null()), is_inf(v))
    return None


class Values:
    """Per-client rows with treated columns, kept-and-finite values and keep predicates,
    as nested SELECTs over `relation` (aliases `_s*` sources, `_v*` steps, `_k*` keep,
    `_f*` filtered values)."""

    def __init__(self, booleans: Collection[str] = ()):
        self._booleans = frozenset(booleans)
        self._names: dict[tuple[str, tuple[Step, ...]], str] = {}
        self._layers: list[list[exp.Expression]] = [[]]
        self._segments: dict[str, None] = {}
        self._last: list[exp.Expression] = []
        self._keeps: dict[RowSet, str] = {}
        self._filtered: dict[tuple[RowSet, Column], str] = {}
        self._sources: dict[str, None] = {}
        self._slots: list[str] = []

    def _name(self, source: str, steps: tuple[Step, ...]) -> str:
        key = (source, steps)
        if key in self._names:
            return self._names[key]
        if not steps:
            self._sources[source] = None
            name = f"_s{len(self._names)}"
            self._layers[0].append(exp.alias_(
                source_value(source, source in self._booleans), name))
        elif dropped(steps[-1], exp.null()) is not None:
            name = self._name(source, steps[:-1])  # a dropping step keeps the values
        else:
            previous = self._name(source, steps[:-1])
            name = f"_v{len(self._names)}"
            while len(self._layers) <= len(steps):
                self._layers.append([])
            self._layers[len(steps)].append(
                exp.alias_(apply_step(steps[-1], column(previous)), name))
        self._names[key] = name
        return name

    def value(self, col: Column) -> exp.Column:
        """The treated value of `col` (NULL where the oracle has NaN)."""
        return column(self._name(col.source, col.steps))

    def keep(self, rows: RowSet) -> exp.Column:
        """TRUE where the row is in the segment and no column of `rows` drops it."""
        if rows not in self._keeps:
            conditions: list[exp.Expression] = []
            if rows.segment != ALL_SEGMENT:
                self._segments[rows.segment] = None
                conditions.append(exp.func("IFNULL", column(rows.segment), exp.false()))
            for col in rows.columns:
                for i, step in enumerate(col.steps):
                    drop = dropped(step, column(self._name(col.source, col.steps[:i])))
                    if drop is not None:  # never NULL
                        conditions.append(exp.not_(exp.paren(drop)))
            name = f"_k{len(self._keeps)}"
            self._last.append(exp.alias_(exp.and_(*conditions) if conditions else exp.true(),
                                         name))
            self._keeps[rows] = name
        return column(self._keeps[rows])

    def filtered(self, rows: RowSet, col: Column) -> exp.Column:
        """The value of `col` where `rows` keeps the row and it is finite, else NULL."""
        key = (rows, col)
        if key not in self._filtered:
            keep, v = self.keep(rows), self.value(col)
            name = f"_f{len(self._filtered)}"
            self._last.append(exp.alias_(_if(exp.and_(keep, finite(v)), v.copy()), name))
            self._filtered[key] = name
        return column(self._filtered[key])

    def select(self, rows: Rows) -> exp.Select:
        """_win, branch, treated and filtered values, keep predicates: one row per client and
        part of `rows` (one relation is part 0)."""
        parts = [Part(0, rows)] if isinstance(rows, exp.Query) else list(rows)
        self._slots = sorted({name for part in parts for name in part.slots})
        first = [column(PART, "_r"), column("branch", "_r"),
                 *(exp.alias_(column(s, "_r"), s) for s in self._segments),
                 *(column(name, "_r") for name in self._slots), *self._layers[0]]
        tree = exp.select(*first).from_(self._union(parts).subquery("_r", copy=False), copy=False)
        for depth, layer in enumerate(self._layers[1:], start=1):
            if layer:
                tree = exp.select(exp.Star(), *layer).from_(tree.subquery(f"_l{depth}", copy=False), copy=False)
        return exp.select(exp.Star(), *self._last).from_(tree.subquery("_lk", copy=False), copy=False)

    def _union(self, parts: list[Part]) -> exp.Query:
        """The columns this batch reads from each part, under its part number, with its Slot
        values as constants; a column a part lacks (a covariate only some windows join) or a
        Slot without a value there is NULL."""
        wanted = [*self._segments, *self._sources]
        tree: exp.Query | None = None
        for number_, relation, has, slots in parts:
            relation = relation.copy()
            if isinstance(relation, exp.Select):
                relation.set("order", None)  # no aggregate needs the rows' order
            picks = [exp.alias_(integer(number_), PART), column("branch", "_q"),
                     *(exp.alias_(number(slots.get(name, math.nan)), name) for name in self._slots)]
            for name in wanted:
                picks.append(exp.alias_(column(name, "_q"), name) if has is None or name in has
                             else exp.alias_(exp.cast(exp.null(), BOOL if (
                                 name in self._segments or name in self._booleans) else FLOAT),
                                 name))
            part = exp.select(*picks).from_(relation.subquery("_q", copy=False), copy=False)
            tree = part if tree is None else exp.union(tree, part, distinct=False, copy=False)
        assert tree is not None
        return tree

    def long(self, rows: Rows, columns: list[list[exp.Expression]],
             parts: Sequence[Collection[int] | None] | None = None) -> exp.Select:
        """One row per (client, request) where the request's columns are all non-NULL:
        `_win`, `_i` (the request's position in `columns`), branch, `_c0`, `_c1`, ... (a
        request with fewer columns than others gets 0.0 for the rest); `parts[i]`: the parts
        request i is asked of (None: all). One scan serves every request."""
        width = max(len(c) for c in columns)
        index = column("_i")
        picks = []
        for j in range(width):
            per = [c[j] if j < len(c) else number(0.0) for c in columns]
            picks.append(exp.alias_(per_request(index, per), f"_c{j}"))
        values = self.select(rows).subquery("_v", copy=False)
        carried = [column(PART, "_v"), column("branch", "_v"),
                   *(column(name, "_v") for name in self._slots)]
        if len(columns) == 1:
            tree = exp.select(exp.alias_(integer(0), "_i"), *carried, *picks).from_(values, copy=False)
        else:
            numbers = [exp.select(exp.alias_(integer(i), "_i")) for i in range(len(columns))]
            table: exp.Query = numbers[0]
            for n in numbers[1:]:
                table = exp.union(table, n, distinct=False, copy=False)
            tree = (exp.select(index, *carried, *picks).from_(values, copy=False)
                    .join(table.subquery("_n", copy=False), join_type="CROSS", copy=False))
        present = [exp.Is(this=column(f"_c{j}"), expression=exp.null()).not_()
                   for j in range(width)]
        if parts is not None and any(p is not None for p in parts):
            present.append(exp.or_(*(
                column("_i").eq(integer(i)) if p is None else exp.and_(
                    column("_i").eq(integer(i)),
                    exp.In(this=column(PART), expressions=[integer(n) for n in sorted(p)]))
                for i, p in enumerate(parts))))
        return exp.select(exp.Star()).from_(tree.subquery("_w", copy=False), copy=False).where(exp.and_(*present), copy=False)


def per_request(index: exp.Expression, values: list[exp.Expression]) -> exp.Expression:
    """CASE _i WHEN 0 THEN values[0] ... END (the value itself for a single request)."""
    if len(values) == 1:
        return values[0].copy()
    return exp.Case(this=index.copy(), ifs=[exp.If(this=integer(i), true=v.copy())
                                             for i, v in enumerate(values)])
