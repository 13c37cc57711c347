"""The Bayesian-bootstrap cells of `engine.statistics.resample.cells_of`, in the warehouse.

Per request and branch, over the rows whose every column is kept and finite, ordered
lexicographically by the columns (window functions partitioned by request and branch):

* levels: DENSE_RANK numbers the distinct rows; a level's size is COUNT(*) over its peers
  minus RANK plus one; n is the largest ROW_NUMBER and the number of levels the largest
  DENSE_RANK. A histogram (`cells_of`'s levels) when the request is exact, the levels are at
  most MAX_LEVELS or n at most EXACT_CLIENTS;
* else atoms: levels of at least DIV(n + N_BINS - 1, N_BINS) rows (`_atoms`'s runs);
* and equal-count bins of the other m rows: a row's rank among them is its ROW_NUMBER minus
  the atom rows at or below its value, its bin DIV((r + 1) K + m - 1, m) - 1 with K the integer
  formula of `resample.bin_count` (np.unique of `_bins`'s edges: empty bins never appear).

One row comes back per level, atom or bin: count, values (MIN, exact) or means (AVG), and
for bins COVAR_POP / (count + 1) per pair of columns, like `_bins`. The result is bounded by
levels (MAX_LEVELS, EXACT_CLIENTS, or every distinct value for `exact`) or atoms plus bins.
"""
from __future__ import annotations

from typing import Any, Collection

import numpy as np
import pandas as pd
from sqlglot import exp

from engine.sql.dialect import column
from engine.sql.treatments import Values, integer
from engine.statistics import resample
from engine.statistics.summaries import Request

LEVEL, ATOM, BIN = 0, 1, 2


def _window(func: exp.Expression, columns: list[exp.Expression] | None) -> exp.Window:
    order = (exp.Order(expressions=[exp.Ordered(this=c.copy()) for c in columns])
             if columns else None)
    return exp.Window(this=func, partition_by=[column("_i"), column("branch")], order=order)


def _layer(tree: exp.Select, alias: str, *outputs: exp.Expression) -> exp.Select:
    return exp.select(exp.Star(), *outputs).from_(tree.subquery(alias))


def _ones(condition: exp.Expression) -> exp.Expression:
    return exp.func("SUM", exp.If(this=condition, true=integer(1), false=integer(0)))


def cells_query(relation: exp.Query, items: list[tuple[int, Request]],
                booleans: Collection[str]) -> exp.Query:
    values = Values(booleans)
    long = values.long(relation, [[values.filtered(r.rows, c) for c in r.columns]
                                  for _, r in items])
    width = max(len(r.columns) for _, r in items)
    cs = [column(f"_c{j}") for j in range(width)]
    count = exp.Count(this=exp.Star())
    ranked = _layer(long, "_w",
                    _window(exp.func("ROW_NUMBER"), cs).as_("_r"),
                    _window(exp.func("RANK"), cs).as_("_lo"),
                    _window(count.copy(), cs).as_("_hi"),
                    _window(exp.func("DENSE_RANK"), cs).as_("_lvl"))
    sized = _layer(ranked, "_a", _window(exp.func("MAX", column("_r")), None).as_("_n"),
                   _window(exp.func("MAX", column("_lvl")), None).as_("_levels"))
    n = column("_n")
    exact = [k for k, (_, r) in enumerate(items) if r.exact]
    histogram = exp.or_(
        exp.In(this=column("_i"), expressions=[integer(k) for k in exact]) if exact
        else exp.false(),
        exp.LTE(this=column("_levels"), expression=integer(resample.MAX_LEVELS)),
        exp.LTE(this=n.copy(), expression=integer(resample.EXACT_CLIENTS)))
    size = exp.IntDiv(this=exp.Add(this=n.copy(), expression=integer(resample.N_BINS - 1)),
                      expression=integer(resample.N_BINS))
    level_size = exp.Add(this=exp.Sub(this=column("_hi"), expression=column("_lo")),
                         expression=integer(1))
    kind = exp.Case(ifs=[exp.If(this=histogram, true=integer(LEVEL)),
                         exp.If(this=exp.GTE(this=level_size, expression=size),
                                true=integer(ATOM))],
                    default=integer(BIN))
    kinds = _layer(sized, "_b", kind.as_("_kind"))
    spread = _layer(kinds, "_c",
                    _window(_ones(column("_kind").eq(integer(ATOM))), cs).as_("_atoms"),
                    _window(_ones(column("_kind").eq(integer(BIN))), None).as_("_m"))
    m = column("_m")
    rank = exp.Sub(this=exp.Sub(this=column("_r"), expression=integer(1)),
                   expression=column("_atoms"))
    bins = exp.func("GREATEST", integer(1), exp.IntDiv(
        this=exp.Add(this=exp.Mul(this=integer(2 * resample.N_BINS), expression=m.copy()),
                     expression=n.copy()),
        expression=exp.Mul(this=integer(2), expression=n.copy())))
    bin_ = exp.Sub(this=exp.IntDiv(
        this=exp.Sub(this=exp.Add(
            this=exp.Mul(this=exp.Paren(this=exp.Add(this=rank, expression=integer(1))),
                         expression=bins),
            expression=m.copy()), expression=integer(1)),
        expression=m.copy()), expression=integer(1))
    is_bin = column("_kind").eq(integer(BIN))
    keyed = exp.select(column("_i"), column("branch"), column("_kind"), *cs,
                       exp.If(this=is_bin.copy(), true=bin_, false=column("_lvl")).as_("_key")
                       ).from_(spread.subquery("_d"))
    outputs = [column("_i"), column("branch"), column("_kind"), column("_key"),
               count.copy().as_("_count")]
    for j, c in enumerate(cs):
        outputs.append(exp.If(this=is_bin.copy(), true=exp.func("AVG", c.copy()),
                              false=exp.func("MIN", c.copy())).as_(f"_m{j}"))
    for a in range(width):
        for b in range(a, width):
            cov = exp.Div(this=exp.func("COVAR_POP", cs[a].copy(), cs[b].copy()),
                          expression=exp.Paren(this=exp.Add(this=count.copy(),
                                                            expression=integer(1))))
            outputs.append(exp.If(this=is_bin.copy(), true=cov, false=integer(0))
                           .as_(f"_cov{a}_{b}"))
    return (exp.select(*outputs).from_(keyed.subquery("_e"))
            .group_by(column("_i"), column("branch"), column("_kind"), column("_key")))


def _cells(group: pd.DataFrame, d: int) -> resample.Cells:
    group = group.sort_values(["_kind", "_key"])
    counts = group["_count"].to_numpy(dtype=np.int64)
    means = group[[f"_m{j}" for j in range(d)]].to_numpy(dtype=np.float64)
    if (group["_kind"] == LEVEL).any():
        return resample._levels(means, counts)
    cov = np.column_stack([group[f"_cov{min(a, b)}_{max(a, b)}"].to_numpy(dtype=np.float64)
                           for a in range(d) for b in range(d)])
    return resample.Cells(counts.astype(float), means, cov)


def read_cells(query: Any, frame: pd.DataFrame) -> dict[int, Any]:
    """Cells per request position and branch, in `cells_of`'s order (levels as `_levels`
    splits them; else atoms by value, then bins by rank)."""
    out: dict[int, Any] = {}
    for k, (i, r) in enumerate(query.requests):
        rows = frame[(frame["_i"] == k) & frame["branch"].notna()]
        out[i] = {str(b): _cells(group, len(r.columns))
                  for b, group in rows.groupby("branch", sort=True)}
    return out
