"""deciles: per-branch deciles with distribution-free order-statistic intervals.

The number of values below the q-quantile is Binomial(n, q), so the order statistics at ranks
Binom.ppf(alpha/2) and Binom.ppf(1 - alpha/2) + 1 bracket it with probability >= 1 - alpha;
no resampling. Comparisons use the normal approximation with each decile's standard error
read off its interval.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from engine.statistics.context import Context
from engine.statistics.intervals import Options, critical_value, normal_interval
from engine.statistics.records import (
    ALL_NULL,
    EMPTY_BRANCH,
    SINGLE_CLIENT,
    ZERO_REFERENCE,
    StatisticRecord,
    joined_reason,
    make_record,
    worse_state,
)

DECILES = tuple(round(i / 10, 1) for i in range(1, 10))


def order_statistic_ranks(sizes: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """0-based (lower, upper) ranks of every decile's interval for every branch size: arrays
    (len(sizes), len(DECILES)) from one vectorised Binomial ppf call (per-value calls were a
    visible share of the pipeline)."""
    sizes = np.asarray(sizes, dtype=float)
    tails = np.array([(1 - ci) / 2, (1 + ci) / 2])
    ppf = stats.binom.ppf(tails[None, None, :], sizes[:, None, None],
                          np.array(DECILES)[None, :, None])
    ranks = ppf.astype(np.int64)
    last = sizes.astype(np.int64)[:, None] - 1
    return np.maximum(ranks[..., 0] - 1, 0), np.minimum(ranks[..., 1], last)


def deciles(ctx: Context) -> list[StatisticRecord]:
    opts = Options.from_params(ctx.params)
    z = critical_value(opts.alpha)
    split = {bv.branch: bv for bv in ctx.iter_split()}
    ordered = {b: np.sort(bv.values) for b, bv in split.items()}
    spread = [b for b, bv in split.items()
              if bv.state not in (EMPTY_BRANCH, ALL_NULL, SINGLE_CLIENT)]
    lows, highs = order_statistic_ranks(np.array([split[b].n for b in spread]), opts.ci)
    bounds = {b: (ordered[b][lows[i]], ordered[b][highs[i]]) for i, b in enumerate(spread)}
    table: dict[str, dict[float, tuple[float | None, float | None]]] = {}
    records, none = [], [None] * len(DECILES)
    for b, bv in split.items():
        points = np.quantile(ordered[b], DECILES).tolist() if bv.n else none
        lower, upper = (v.tolist() for v in bounds[b]) if b in bounds else (none, none)
        table[b] = {}
        for q, point, lo, hi in zip(DECILES, points, lower, upper):
            table[b][q] = (point, None if lo is None else (hi - lo) / (2 * z))
            records.append(make_record(ctx.labels, b, point=point, lower=lo, upper=hi,
                                       parameter=q, ci_width=opts.ci, n=bv.n, state=bv.state,
                                       reason=bv.reason))
    ref = ctx.reference_branch
    for branch in ctx.others:
        state = worse_state(split[branch].state, split[ref].state)
        reason = joined_reason(split[branch].reason, split[ref].reason)
        for q in DECILES:
            records += _compare(ctx, branch, q, table[branch][q], table[ref][q], (state, reason),
                                split[branch].n + split[ref].n, opts)
    return records


def _compare(ctx: Context, branch: str, q: float, est: tuple, ref: tuple,
             status: tuple[str, str], n: int, opts: Options) -> list[StatisticRecord]:
    (t, se_t), (r, se_r), (state, reason) = est, ref, status
    out = []
    for kind in ("difference", "relative_uplift"):
        point = se = None
        kind_state, kind_reason = state, reason
        if t is not None and r is not None:
            if kind == "difference":
                point = t - r
                se = math.hypot(se_t, se_r) if se_t is not None and se_r is not None else None
            elif r == 0:
                kind_state, kind_reason = ZERO_REFERENCE, "the reference decile is 0"
            else:
                point = t / r - 1
                if se_t is not None and se_r is not None:
                    se = math.sqrt((se_t / r) ** 2 + (t * se_r / r ** 2) ** 2)
        lo = hi = p = None
        if se is not None and kind_state != ZERO_REFERENCE:
            lo, hi, p = normal_interval(point, se, opts, n)
        out.append(make_record(ctx.labels, branch, point=point, lower=lo, upper=hi, p_value=p,
                               parameter=q, comparison=kind,
                               comparison_to_branch=ctx.reference_branch, ci_width=opts.ci, n=n,
                               state=kind_state, reason=kind_reason))
    return out
