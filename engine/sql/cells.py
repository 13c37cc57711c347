"""The Bayesian-bootstrap cells of `engine.statistics.resample.cells_of`, in the warehouse.

Per request and branch, over the rows whose every column is kept and finite:

* levels first: GROUP BY the columns' values (a count metric's million rows are a few
  levels), so every later step works on levels; n is the sum of their counts;
* a histogram (`cells_of`'s levels) when the request is exact, the levels are at most
  MAX_LEVELS or n at most EXACT_CLIENTS;
* else atoms: levels of at least DIV(n + N_BINS - 1, N_BINS) clients (`_atoms`'s runs);
* and equal-count bins of the other m clients, in lexicographic order of the values (one
  ordered window over the levels): a level holds spread ranks [start, through), rank r is in
  bin DIV((r + 1) K + m - 1, m) - 1 with K `resample.bin_count`'s integer formula, bin j
  starts at DIV(j m, K) (`_bins`'s edges: empty bins never appear). A level gives a piece
  to its first and last bin; bins strictly between hold only its value, so they come back as
  a range that `read_cells` fills in (the result stays bounded by bins).

One row comes back per level, atom or bin: count, values (exact) or means, and for bins the
within-bin covariance over (count + 1), like `_bins`, from deviations from the bin's mean
(two passes, as numpy does). The result is bounded by levels (MAX_LEVELS, EXACT_CLIENTS, or
every distinct value for `exact`) or by atoms plus bins.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlglot import exp

from engine.sql.dialect import column
from engine.sql.slots import PART
from engine.sql.treatments import Rows, Values, integer
from engine.statistics import resample
from engine.statistics.summaries import Request

LEVEL, ATOM, BIN = 0, 1, 2
INT64 = exp.DataType.build("INT64", dialect="bigquery")


def _window(func: exp.Expression, columns: list[exp.Expression] | None,
            end: str | None = None) -> exp.Window:
    """func over the request's branch, ordered by `columns` (levels: no two rows tie), with
    ROWS from the first to the current row (end "CURRENT ROW") or to the last ("UNBOUNDED":
    the whole branch, in the same sort as the ordered windows)."""
    order = (exp.Order(expressions=[exp.Ordered(this=c.copy(), nulls_first=True)
                                    for c in columns]) if columns else None)
    spec = None
    if end is not None:
        spec = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end=end,
                              end_side="FOLLOWING" if end == "UNBOUNDED" else None)
    return exp.Window(this=func, partition_by=[column(PART), column("_i"), column("branch")],
                      order=order, spec=spec)


def _int(tree: exp.Expression) -> exp.Expression:
    """INT64 (DuckDB's SUM of integers is 128-bit, and arithmetic on it is slow)."""
    return exp.cast(tree, INT64)


def _layer(tree: exp.Select, alias: str, *outputs: exp.Expression) -> exp.Select:
    return exp.select(exp.Star(), *outputs).from_(tree.subquery(alias), copy=False)


def _bin(rank: exp.Expression, bins: exp.Expression, m: exp.Expression) -> exp.Expression:
    """The bin of the 0-based spread rank: DIV((rank + 1) * K + m - 1, m) - 1."""
    top = exp.Sub(this=exp.Add(this=exp.Mul(this=exp.Add(this=rank, expression=integer(1)),
                                             expression=bins.copy()),
                               expression=m.copy()), expression=integer(1))
    return exp.Sub(this=exp.IntDiv(this=top, expression=m.copy()), expression=integer(1))


def _edge(j: exp.Expression, bins: exp.Expression, m: exp.Expression) -> exp.Expression:
    """The first spread rank of bin j: DIV(j * m, K) (`_bins`'s edges)."""
    return exp.IntDiv(this=exp.Mul(this=j, expression=m.copy()), expression=bins.copy())


def cells_query(rows: Rows, items: list[tuple[int, Request]], booleans: Collection[str],
                parts: Sequence[Collection[int] | None] | None = None) -> exp.Query:
    values = Values(booleans)
    long = values.long(rows, [[values.filtered(r.rows, c) for c in r.columns]
                              for _, r in items], parts)
    width = max(len(r.columns) for _, r in items)
    cs = [column(f"_c{j}") for j in range(width)]
    cnt = column("_cnt")
    levels = (exp.select(column(PART), column("_i"), column("branch"), *cs,
                         exp.Count(this=exp.Star()).as_("_cnt", copy=False))
              .from_(long.subquery("_w", copy=False), copy=False)
              .group_by(column(PART), column("_i"), column("branch"), *cs, copy=False))
    sized = _layer(levels, "_a", _int(_window(exp.Sum(this=cnt.copy()), None)).as_("_n", copy=False),
                   _window(exp.Count(this=exp.Star()), None).as_("_levels", copy=False))
    n = column("_n")
    exact = [k for k, (_, r) in enumerate(items) if r.exact]
    histogram = exp.or_(
        exp.In(this=column("_i"), expressions=[integer(k) for k in exact]) if exact
        else exp.false(),
        exp.LTE(this=column("_levels"), expression=integer(resample.MAX_LEVELS)),
        exp.LTE(this=n.copy(), expression=integer(resample.EXACT_CLIENTS)))
    size = exp.IntDiv(this=exp.Add(this=n.copy(), expression=integer(resample.N_BINS - 1)),
                      expression=integer(resample.N_BINS))
    kind = exp.Case(ifs=[exp.If(this=histogram, true=integer(LEVEL)),
                         exp.If(this=exp.GTE(this=cnt.copy(), expression=size),
                                true=integer(ATOM))],
                    default=integer(BIN))
    kinds = _layer(sized, "_b", kind.as_("_kind", copy=False))
    is_bin = column("_kind").eq(integer(BIN))
    spread_cnt = exp.If(this=is_bin.copy(), true=cnt.copy(), false=integer(0))
    ordered = _layer(kinds, "_c",
                     _window(exp.func("ROW_NUMBER"), cs).as_("_lvl", copy=False),
                     _int(_window(exp.Sum(this=spread_cnt.copy()), cs, "CURRENT ROW")).as_("_through", copy=False),
                     _int(_window(exp.Sum(this=spread_cnt.copy()), cs, "UNBOUNDED")).as_("_m", copy=False))
    m = column("_m")
    bins = exp.func("GREATEST", integer(1), exp.IntDiv(
        this=exp.Add(this=exp.Mul(this=integer(2 * resample.N_BINS), expression=m.copy()),
                     expression=n.copy()),
        expression=exp.Mul(this=integer(2), expression=n.copy())))
    start = exp.Sub(this=column("_through"), expression=cnt.copy())  # first spread rank
    last = exp.Sub(this=column("_through"), expression=integer(1))
    spans = _layer(ordered, "_d",
                   exp.If(this=is_bin.copy(), true=_bin(start.copy(), bins, m),
                          false=column("_lvl")).as_("_j1", copy=False),
                   exp.If(this=is_bin.copy(), true=_bin(last, bins, m),
                          false=column("_lvl")).as_("_j2", copy=False),
                   start.as_("_start", copy=False), bins.copy().as_("_k", copy=False))
    # A bin level's rank range [start, through) meets bins _j1 .. _j2: one piece in _j1 and,
    # when it reaches further, one in _j2; bins strictly between are wholly this level's
    # value (returned as a range, `_mid`, and filled in by `read_cells`).
    first = column("_t").eq(integer(0))
    piece = exp.Case(ifs=[
        exp.If(this=exp.not_(is_bin.copy()), true=cnt.copy()),
        exp.If(this=first.copy(), true=exp.Sub(
            this=exp.func("LEAST", column("_through"), _edge(
                exp.Add(this=column("_j1"), expression=integer(1)), column("_k"), m)),
            expression=column("_start")))],
        default=exp.Sub(this=column("_through"), expression=_edge(column("_j2"), column("_k"), m)))
    middle = exp.and_(is_bin.copy(), first.copy(), exp.GT(
        this=column("_j2"), expression=exp.Add(this=column("_j1"), expression=integer(1))))
    offsets = exp.union(exp.select(integer(0).as_("_t", copy=False)), exp.select(integer(1).as_("_t", copy=False)),
                        distinct=False)
    pieces = (exp.select(column(PART), column("_i"), column("branch"), column("_kind"), *cs, m.copy(),
                         column("_k"),
                         exp.If(this=first.copy(), true=column("_j1"), false=column("_j2")).as_("_j", copy=False),
                         piece.as_("_p", copy=False),
                         exp.If(this=middle, true=exp.Sub(this=column("_j2"), expression=integer(1)),
                                false=exp.null()).as_("_mid", copy=False))
              .from_(spans.subquery("_e", copy=False), copy=False).join(offsets.subquery("_o", copy=False), join_type="CROSS", copy=False)
              .where(exp.or_(first.copy(), exp.and_(is_bin.copy(), exp.GT(
                  this=column("_j2"), expression=column("_j1")))), copy=False))
    j = column("_j")
    p = column("_p")
    by_cell = [column(PART), column("_i"), column("branch"), column("_kind"), j.copy()]
    total = exp.Window(this=exp.Sum(this=p.copy()), partition_by=[c.copy() for c in by_cell])
    means = _layer(pieces, "_f", *(exp.Div(
        this=exp.Window(this=exp.Sum(this=exp.Mul(this=p.copy(), expression=c.copy())),
                        partition_by=[c.copy() for c in by_cell]),
        expression=total.copy()).as_(f"_mean{k}", copy=False) for k, c in enumerate(cs)))
    count = exp.Sum(this=p.copy())
    outputs = [*by_cell, count.copy().as_("_count", copy=False), exp.func("MIN", m.copy()).as_("_spread", copy=False),
               exp.func("MIN", column("_k")).as_("_bins", copy=False), exp.func("MAX", column("_mid")).as_("_mid", copy=False)]
    for k, c in enumerate(cs):
        outputs.append(exp.func("MIN", exp.If(this=is_bin.copy(), true=column(f"_mean{k}"),
                                              false=c.copy())).as_(f"_m{k}", copy=False))
        outputs.append(exp.func("MIN", exp.If(this=exp.Is(this=column("_mid"), expression=exp.null()).not_(),
                                              true=c.copy(), false=exp.null())).as_(f"_v{k}", copy=False))
    for a in range(width):
        for b in range(a, width):
            dev = [exp.Sub(this=cs[x].copy(), expression=column(f"_mean{x}")) for x in (a, b)]
            moment = exp.Sum(this=exp.Mul(this=exp.Mul(this=p.copy(), expression=dev[0]),
                                             expression=dev[1]))
            cov = exp.Div(this=exp.Div(this=moment, expression=count.copy()),
                          expression=exp.Add(this=count.copy(), expression=integer(1)))
            outputs.append(exp.If(this=is_bin.copy(), true=cov, false=integer(0))
                           .as_(f"_cov{a}_{b}", copy=False))
    return (exp.select(*outputs).from_(means.subquery("_g", copy=False), copy=False)
            .group_by(*(c.copy() for c in by_cell), copy=False))


def _cells(group: pd.DataFrame, d: int) -> resample.Cells:
    if (group["_kind"] == LEVEL).any():
        group = group.sort_values("_j")
        return resample._levels(group[[f"_m{k}" for k in range(d)]].to_numpy(dtype=np.float64),
                                group["_count"].to_numpy(dtype=np.int64))
    keys = [group["_kind"].to_numpy(dtype=np.int64), group["_j"].to_numpy(dtype=np.int64)]
    counts = [group["_count"].to_numpy(dtype=np.float64)]
    means = [group[[f"_m{k}" for k in range(d)]].to_numpy(dtype=np.float64)]
    cov = [np.column_stack([group[f"_cov{min(a, b)}_{max(a, b)}"].to_numpy(dtype=np.float64)
                            for a in range(d) for b in range(d)])]
    for _, row in group[group["_mid"].notna()].iterrows():  # bins wholly one value
        spread, bins = int(row["_spread"]), int(row["_bins"])
        js = np.arange(int(row["_j"]) + 1, int(row["_mid"]) + 1)
        keys[0] = np.append(keys[0], np.full(len(js), BIN))
        keys[1] = np.append(keys[1], js)
        counts.append(((js + 1) * spread // bins - js * spread // bins).astype(float))
        means.append(np.tile(row[[f"_v{k}" for k in range(d)]].to_numpy(dtype=np.float64),
                             (len(js), 1)))
        cov.append(np.zeros((len(js), d * d)))
    order = np.lexsort((keys[1], keys[0]))
    return resample.Cells(np.concatenate(counts)[order], np.concatenate(means)[order],
                          np.concatenate(cov)[order])


def read_cells(query: Any, frame: pd.DataFrame) -> dict[int, Any]:
    """Cells per request position and branch, in `cells_of`'s order (levels as `_levels`
    splits them; else atoms by value, then bins by rank)."""
    out: dict[int, Any] = {}
    for k, item in enumerate(query.requests):
        if item is None:  # not asked of this part
            continue
        i, r = item
        rows = frame[(frame["_i"] == k) & frame["branch"].notna()]
        out[i] = {str(b): _cells(group, len(r.columns))
                  for b, group in rows.groupby("branch", sort=True)}
    return out
