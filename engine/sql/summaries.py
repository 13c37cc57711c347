"""The summaries of `engine.statistics.summaries`, computed in the warehouse.

`summary_queries` turns one batch of requests into at most four queries over the per-client
rows (one row per client: branch, source columns, segment columns), however many requests of
each kind the batch holds:

* grouped: every Moments, GridCounts and Residuals request as aggregates of one
  `GROUP BY branch` (counts, sums, VAR_POP / COVAR_POP, COUNTIF per grid point, HC2 sums);
* ranks: OrderStatistics (`engine.sql.ranks`);
* cells: ResampleCells (`engine.sql.cells`);
* bins: LinearBins, the two neighbours' weights per grid point.

The window-function kinds read the rows once: each client row is repeated per request (a
cross join with the request numbers) and partitioned by request. The rows may be one relation
or the numbered parts of a combined query (`engine.sql.slots`): every group and partition is
then also by part (`_win`), and the reader is given one part's rows at a time. `read_answers` turns a
query's small result frame into exactly the answers of `engine.statistics.frame_source`
(same branches as dict keys, None for pooled; same array orders). Branch rows come back
sorted by branch name (the frame source orders its dicts by first appearance in the frame).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Collection, Sequence

import numpy as np
import pandas as pd
from sqlglot import exp

from engine.sql import cells, ranks
from engine.sql.dialect import column, literal
from engine.sql.ranks import Item, Parts
from engine.sql.slots import PART
from engine.sql.treatments import Rows, Values, integer, number, parenthesized, per_request
from engine.statistics.summaries import (
    BranchMoments,
    GridCounts,
    LinearBins,
    Moments,
    OrderStatistics,
    Request,
    ResampleCells,
    Residual,
    Residuals,
)

GROUPED, RANKS, CELLS, BINS = "grouped", "ranks", "cells", "bins"
_KINDS = {Moments: GROUPED, GridCounts: GROUPED, Residuals: GROUPED,
          OrderStatistics: RANKS, ResampleCells: CELLS, LinearBins: BINS}


@dataclass(frozen=True)
class SummaryQuery:
    """One query of a batch and the (position in the batch, request) pairs it answers, in
    the order the query numbers them; to read one part of a combined query, the pairs of
    that part (None where a request is not asked of it)."""
    kind: str
    tree: exp.Query
    requests: tuple[Item | None, ...]


def summary_queries(rows: Rows, requests: Sequence[Request], booleans: Collection[str] = (),
                    parts: Parts | None = None) -> list[SummaryQuery]:
    """At most one query per kind for the whole batch; `booleans` names the BOOL sources.
    `rows` is one relation or the parts of a combined query (`engine.sql.slots`): every
    answer is then per part (column `_win`), and `parts[i]` limits request i to its parts."""
    by_kind: dict[str, list[tuple[int, Request]]] = {}
    for i, request in enumerate(requests):
        by_kind.setdefault(_KINDS[type(request)], []).append((i, request))
    return [SummaryQuery(kind, parenthesized(_BUILDERS[kind](
                rows, items, booleans, [parts[i] for i, _ in items] if parts else None)),
                tuple(items)) for kind, items in by_kind.items()]


def kind_of(request: Request) -> str:
    """The kind of query that answers `request`."""
    return _KINDS[type(request)]


def read_answers(query: SummaryQuery, frame: pd.DataFrame) -> dict[int, Any]:
    """The answer of each request of `query` from its result frame (one part's rows), by
    batch position."""
    return _READERS[query.kind](query, frame)


def _asked(query: SummaryQuery) -> list[tuple[int, int, Request]]:
    """(number in the query, batch position, request) of the requests asked of the frame."""
    return [(k, *item) for k, item in enumerate(query.requests) if item is not None]


# --- grouped: moments, grid counts, residual sums ---------------------------------------

def _count_if(condition: exp.Expression) -> exp.Expression:
    return exp.CountIf(this=condition)


def _moments(values: Values, i: int, r: Moments) -> list[exp.Expression]:
    y = values.filtered(r.rows, r.y)
    out = [_count_if(values.keep(r.rows)).as_(f"_{i}_rows", copy=False),
           exp.Count(this=y.copy()).as_(f"_{i}_n", copy=False),
           exp.Sum(this=y.copy()).as_(f"_{i}_sum", copy=False),
           exp.VariancePop(this=y.copy()).as_(f"_{i}_var", copy=False),
           _count_if(exp.NEQ(this=y.copy(), expression=number(0.0))).as_(f"_{i}_nz", copy=False),
           exp.Min(this=y.copy()).as_(f"_{i}_min", copy=False),
           exp.Max(this=y.copy()).as_(f"_{i}_max", copy=False),
           _count_if(exp.NEQ(this=y.copy(), expression=exp.Round(this=y.copy())))
           .as_(f"_{i}_frac", copy=False)]
    if r.distinct:
        out.append(exp.Count(this=exp.Distinct(expressions=[y.copy()])).as_(f"_{i}_dist", copy=False))
    if r.x is not None:
        x = exp.If(this=exp.Is(this=y.copy(), expression=exp.null()).not_(),
                   true=values.value(r.x), false=exp.null())
        out += [exp.Sum(this=x.copy()).as_(f"_{i}_sx", copy=False),
                exp.VariancePop(this=x.copy()).as_(f"_{i}_vx", copy=False),
                exp.CovarPop(this=x.copy(), expression=y.copy()).as_(f"_{i}_cxy", copy=False)]
    return out


def _grid(values: Values, i: int, r: GridCounts) -> list[exp.Expression]:
    if not r.grid:
        return []
    y = values.filtered(r.rows, r.y)
    counts = [exp.Count(this=y.copy()) if math.isnan(g)  # NaN sorts after every value
              else _count_if(exp.LTE(this=y.copy(), expression=number(g))) for g in r.grid]
    return [exp.Array(expressions=counts).as_(f"_{i}_grid", copy=False)]


def _by_branch(pairs: tuple[tuple[str, float], ...]) -> exp.Expression:
    return exp.Case(this=column("branch"), ifs=[
        exp.If(this=literal(b), true=number(v)) for b, v in pairs])


def _residuals(values: Values, i: int, r: Residuals) -> list[exp.Expression]:
    """w = e^2 / (1 - h) (e^2 where h >= 1), in the oracle's order of operations."""
    y = values.filtered(r.rows, r.y)
    z = exp.Paren(this=exp.Sub(this=values.value(r.x), expression=number(r.centre)))
    e = exp.Paren(this=exp.Sub(
        this=exp.Sub(this=y.copy(), expression=_by_branch(r.alpha)),
        expression=exp.Mul(this=number(r.beta), expression=z.copy())))
    cross = exp.Case(this=column("branch"), ifs=[  # 2 v exactly, as the oracle's 2 * v
        exp.If(this=literal(b), true=exp.Mul(this=integer(2), expression=number(v)))
        for b, v in r.cross])
    h = exp.Paren(this=exp.Add(
        this=exp.Add(this=_by_branch(r.lever), expression=exp.Mul(this=cross, expression=z.copy())),
        expression=exp.Mul(this=number(r.curve),
                           expression=exp.Paren(this=exp.Mul(this=z.copy(), expression=z.copy())))))
    e2 = exp.Paren(this=exp.Mul(this=e.copy(), expression=e.copy()))
    w = exp.Paren(this=exp.If(
        this=exp.LT(this=h.copy(), expression=integer(1)),
        true=exp.Div(this=e2.copy(), expression=exp.Paren(
            this=exp.Sub(this=integer(1), expression=h.copy()))),
        false=e2.copy()))
    wz = exp.Mul(this=w.copy(), expression=z.copy())
    return [exp.Sum(this=w.copy()).as_(f"_{i}_w", copy=False),
            exp.Sum(this=wz.copy()).as_(f"_{i}_wz", copy=False),
            exp.Sum(this=exp.Mul(this=wz, expression=z.copy())).as_(f"_{i}_wzz", copy=False)]


_GROUPED_PARTS: dict[type, Callable[[Values, int, Any], list[exp.Expression]]] = {
    Moments: _moments, GridCounts: _grid, Residuals: _residuals}


def _grouped_query(rows: Rows, items: list[Item], booleans: Collection[str],
                   parts: Parts | None) -> exp.Query:
    values = Values(booleans)
    outputs = [part for i, r in items for part in _GROUPED_PARTS[type(r)](values, i, r)]
    return (exp.select(column(PART), column("branch"), *outputs)
            .from_(values.select(rows).subquery("_v", copy=False), copy=False)
            .group_by(column(PART), column("branch"), copy=False)
            .order_by(column(PART), column("branch"), copy=False))


def _branch_rows(frame: pd.DataFrame) -> list[tuple[str, Any]]:
    return [(str(row["branch"]), row) for row in frame.to_dict("records")
            if not pd.isna(row["branch"])]


def _read_moments(i: int, r: Moments, row: dict[str, Any]) -> BranchMoments:
    get = lambda name: row[f"_{i}_{name}"]  # noqa: E731
    n = int(get("n"))
    if not n:
        return BranchMoments(int(get("rows")), 0, distinct=0 if r.distinct else None)
    extra: dict[str, Any] = {}
    if r.x is not None:
        extra = dict(total_x=float(get("sx")), m2_x=n * float(get("vx")),
                     cross=n * float(get("cxy")))
    return BranchMoments(
        int(get("rows")), n, float(get("sum")), n * float(get("var")), int(get("nz")),
        float(get("min")), float(get("max")), int(get("frac")) == 0,
        int(get("dist")) if r.distinct else None, **extra)


def _total(value: Any) -> float:
    """A SUM: NULL over no rows, where numpy's sum is 0."""
    return 0.0 if pd.isna(value) else float(value)


def _read_grouped(query: SummaryQuery, frame: pd.DataFrame) -> dict[int, Any]:
    rows = _branch_rows(frame)
    out: dict[int, Any] = {}
    for _, i, r in _asked(query):
        if isinstance(r, Moments):
            out[i] = {b: _read_moments(i, r, row) for b, row in rows}
        elif isinstance(r, GridCounts):
            out[i] = {b: np.asarray(row[f"_{i}_grid"], dtype=np.int64) if r.grid
                      else np.zeros(0, dtype=np.int64) for b, row in rows}
        else:
            alpha = dict(r.alpha)
            out[i] = {b: Residual(*(_total(row[f"_{i}_{k}"]) for k in ("w", "wz", "wzz")))
                      for b, row in rows if b in alpha}
    return out


# --- bins: linear binning ---------------------------------------------------------------

def _bins_query(rows: Rows, items: list[Item], booleans: Collection[str],
                parts: Parts | None) -> exp.Query:
    values = Values(booleans)
    long = values.long(rows, [[values.filtered(r.rows, r.y)] for _, r in items], parts)
    if any(r.delta == 0 for _, r in items):
        raise ValueError("linear bins need a nonzero delta")
    index = column("_i")
    scaled = [exp.Div(this=exp.Paren(this=exp.Sub(this=column("_c0"), expression=number(r.origin))),
                      expression=number(r.delta)) for _, r in items]
    positions = [exp.func("LEAST", exp.func("GREATEST", s, number(0.0)), integer(r.size - 1))
                 for s, (_, r) in zip(scaled, items)]
    pos = exp.select(column(PART), index, column("branch"),
                     per_request(index, positions).as_("_pos", copy=False)
                     ).from_(long.subquery("_w", copy=False), copy=False)
    floor = exp.cast(exp.func("FLOOR", column("_pos")), exp.DataType.build("INT64", dialect="bigquery"))
    left = exp.func("LEAST", floor, per_request(index, [integer(r.size - 2) for _, r in items]))
    split = exp.select(column(PART), index, column("branch"), column("_pos"),
                       left.as_("_left", copy=False)
                       ).from_(pos.subquery("_p", copy=False), copy=False)
    frac = exp.Sub(this=column("_pos"), expression=column("_left"))
    return (exp.select(column(PART), index, column("branch"), column("_left"),
                       exp.Sum(this=exp.Sub(this=integer(1), expression=frac.copy())).as_("_wl", copy=False),
                       exp.Sum(this=frac).as_("_wr", copy=False))
            .from_(split.subquery("_s", copy=False), copy=False)
            .group_by(column(PART), index, column("branch"), column("_left"), copy=False))


def _read_bins(query: SummaryQuery, frame: pd.DataFrame) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for k, i, r in _asked(query):
        answer = {}
        rows = frame[(frame["_i"] == k) & frame["branch"].notna()]
        for b, group in rows.groupby("branch", sort=True):
            weights = np.zeros(r.size)
            left = group["_left"].to_numpy(dtype=np.int64)
            np.add.at(weights, left, group["_wl"].to_numpy(dtype=np.float64))
            np.add.at(weights, left + 1, group["_wr"].to_numpy(dtype=np.float64))
            answer[str(b)] = weights
        out[i] = answer
    return out


_BUILDERS: dict[str, Callable[[Rows, list[Item], Collection[str], Parts | None], exp.Query]] = {
    GROUPED: _grouped_query, RANKS: ranks.ranks_query, CELLS: cells.cells_query, BINS: _bins_query}
_READERS: dict[str, Callable[[SummaryQuery, pd.DataFrame], dict[int, Any]]] = {
    GROUPED: _read_grouped, RANKS: ranks.read_ranks, CELLS: cells.read_cells, BINS: _read_bins}
