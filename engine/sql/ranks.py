"""Order statistics in the warehouse: each run of equal values that meets an asked rank
window, with the first rank it holds there.

The requests' rows are counted per distinct value and branch (and over all rows, for pooled
windows), so the warehouse sorts distinct values, once per value column however many
requests rank it; running counts give each run its ranks; the runs are joined to the wanted
windows, a small table of constants. Called by `engine.sql.summaries`.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlglot import exp

from engine.sql.dialect import column, literal
from engine.sql.slots import PART, PerPart
from engine.sql.treatments import Rows, Values, integer
from engine.statistics.summaries import OrderStatistics, Request, Runs

Item = tuple[int, Request]  # (position in the batch, request)
Parts = Sequence[Collection[int] | None]  # per request of a batch: the parts it is asked of


def _running(count: exp.Expression) -> exp.Window:
    """The running total of `count` in value order: the rank just past each value's run
    (one row per distinct value, so every row is its own frame end)."""
    return exp.Window(this=exp.Sum(this=count), partition_by=[column(PART), column("_i")],
                      order=exp.Order(expressions=[exp.Ordered(this=column("_y"), nulls_first=True)]),
                      spec=exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING",
                                          end="CURRENT ROW"))


def _rank_windows(r: OrderStatistics) -> dict[int | None, tuple]:
    """The request's rank windows per part (None: the same in every part)."""
    return r.windows.by_part if isinstance(r.windows, PerPart) else {None: r.windows}


def _wanted(items: list[Item], every_part: list[int], value_of: list[int]) -> list[tuple]:
    """(part, value number, request number, branch or None for a pooled window, first, last)
    of every nonempty rank window."""
    rows = []
    for k, (_, r) in enumerate(items):
        for part, spans in _rank_windows(r).items():
            rows += [(n, value_of[k], k, b, max(first, 0), last) for b, first, last in spans
                     if last >= max(first, 0)
                     for n in (every_part if part is None else (part,))]
    return rows


def _distinct_values(values: Values, items: list[Item], parts: Parts | None
                     ) -> tuple[list[exp.Expression], list[int], Parts | None]:
    """The requests' value expressions once each (deciles and densities rank the same
    column), each request's number among them, and the parts each is asked of."""
    number: dict[str, int] = {}
    unique: list[exp.Expression] = []
    asked: list[set[int] | None] = []
    value_of = []
    for k, (_, r) in enumerate(items):
        y = values.filtered(r.rows, r.y)
        n = number.setdefault(y.sql(), len(unique))
        if n == len(unique):
            unique.append(y)
            asked.append(set())
        mine = parts[k] if parts else None
        asked[n] = None if asked[n] is None or mine is None else asked[n] | set(mine)
        value_of.append(n)
    return unique, value_of, asked if parts else None


def _constant(value: int | str | None) -> exp.Expression:
    if value is None:
        return exp.cast(exp.null(), exp.DataType.build("STRING", dialect="bigquery"))
    return literal(value) if isinstance(value, str) else integer(value)


def ranks_query(rows: Rows, items: list[Item], booleans: Collection[str],
                 parts: Parts | None) -> exp.Query:
    """The requests' distinct values, each counted per branch and over all rows, in one
    sort per value column and part (a metric of a few dozen levels sorts a few dozen rows,
    not every client's); running counts give each run of ties its ranks; the runs that meet
    a wanted window (a small table of constants, a window per decile and branch: the SQL
    holds no condition per window) come back with the first rank they hold in it."""
    values = Values(booleans)
    unique, value_of, asked = _distinct_values(values, items, parts)
    long = values.long(rows, [[y] for y in unique], asked)
    every_part = [0] if isinstance(rows, exp.Query) else [p.number for p in rows]
    windows = _wanted(items, every_part, value_of)
    branches = sorted({b for *_, b, _, _ in windows if b is not None})
    # counts as FLOAT64 (exact below 2^53): DuckDB's running SUM of a BIGINT accumulates a
    # HUGEINT, 3x slower than of a DOUBLE
    counts = [*(exp.CountIf(this=column("branch").eq(literal(b))) for b in branches),
              exp.Count(this=exp.Star())]
    names = [*(f"_k{j}" for j in range(len(branches))), "_kp"]
    counted = (exp.select(column(PART), column("_i"), column("_c0").as_("_y", copy=False),
                          *(exp.cast(c, exp.DataType.build("FLOAT64", dialect="bigquery")).as_(
                              name, copy=False) for c, name in zip(counts, names)))
               .from_(long.subquery("_w", copy=False), copy=False)
               .group_by(column(PART), column("_i"), column("_c0"), copy=False))
    ranked = exp.select(exp.Star(), *(_running(column(k)).as_(f"_e{k[2:]}", copy=False)
                                      for k in names)
                        ).from_(counted.subquery("_g", copy=False), copy=False).subquery(
        "_o", copy=False)
    out = [column(PART, "_q"), column("_i", "_q"), column("branch", "_q"), column("_y", "_o")]
    if not windows:
        return (exp.select(column(PART, "_o"), column("_i", "_o"), _constant(None).as_("branch"),
                           column("_y", "_o"), column("_kp", "_o").as_("_at", copy=False))
                .from_(ranked, copy=False).where(exp.false(), copy=False))
    which = {b: j for j, b in enumerate(branches)}
    table = _windows_table([(*w[:4], which.get(w[3], -1), *w[4:]) for w in windows])

    def of_window(prefix: str) -> exp.Expression:  # the window's branch's count or total
        if not branches:
            return column(f"{prefix}p", "_o")
        return exp.Case(this=column("_b", "_q"), ifs=[
            exp.If(this=integer(j), true=column(f"{prefix}{j}", "_o")) for j in range(len(branches))],
            default=column(f"{prefix}p", "_o"))

    k, end = of_window("_k"), of_window("_e")
    start = exp.Paren(this=exp.Sub(this=end.copy(), expression=k.copy()))
    on = exp.and_(column(PART, "_o").eq(column(PART, "_q")),
                  column("_i", "_o").eq(column("_v", "_q")),
                  exp.GT(this=k, expression=integer(0)),
                  exp.LTE(this=start.copy(), expression=column("_hi", "_q")),
                  exp.GT(this=end, expression=column("_lo", "_q")))
    first = exp.func("GREATEST", start, column("_lo", "_q"))
    return (exp.select(*out, first.as_("_at", copy=False)).distinct().from_(ranked, copy=False)
            .join(table, on=on, join_type="INNER", copy=False))


def _windows_table(rows: list[tuple]) -> exp.Expression:
    """(part, value number, request number, branch, branch number or -1 pooled, first, last)."""
    return exp.values([tuple(_constant(v) for v in row) for row in rows], alias="_q",
                      columns=[PART, "_v", "_i", "branch", "_b", "_lo", "_hi"])


def _runs(ranks: np.ndarray, values: np.ndarray) -> Runs:
    order = np.argsort(ranks, kind="stable")
    at, v = ranks[order].astype(np.int64), values[order].astype(np.float64)
    start = np.concatenate(([True], v[1:] != v[:-1])) if len(at) else np.zeros(0, dtype=bool)
    return Runs(v[start], at[start])


def read_ranks(query: Any, frame: pd.DataFrame) -> dict[int, Any]:
    """Runs per request position and branch (None: pooled), from one part's rows."""
    out: dict[int, Any] = {}
    for k, item in enumerate(query.requests):
        if item is None:  # not asked of this part
            continue
        i, r = item
        rows = frame[frame["_i"] == k]
        answer = {}
        for b in dict.fromkeys(b for b, _, _ in r.windows):
            mine = rows[rows["branch"].isna()] if b is None else rows[rows["branch"] == b]
            answer[b] = _runs(mine["_at"].to_numpy(dtype=np.int64),
                              mine["_y"].to_numpy(dtype=np.float64))
        out[i] = answer
    return out
