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

from engine.statistics.context import BranchValues, Context
from engine.statistics.intervals import Options, critical_value, normal_interval
from engine.statistics.records import (EMPTY_BRANCH, ALL_NULL, SINGLE_CLIENT, ZERO_REFERENCE,
                                       StatisticRecord, joined_reason, make_record, worse_state)

DECILES = tuple(round(i / 10, 1) for i in range(1, 10))


def order_statistic_interval(sorted_values: np.ndarray, q: float, ci: float) -> tuple[float, float]:
    n = len(sorted_values)
    alpha = 1 - ci
    lo = int(stats.binom.ppf(alpha / 2, n, q)) - 1
    hi = int(stats.binom.ppf(1 - alpha / 2, n, q))
    return float(sorted_values[max(lo, 0)]), float(sorted_values[min(hi, n - 1)])


def deciles(ctx: Context) -> list[StatisticRecord]:
    opts = Options.from_params(ctx.params)
    z = critical_value(opts.alpha)
    table: dict[str, dict[float, tuple[float | None, float | None]]] = {}
    branch_info: dict[str, BranchValues] = {}
    records = []
    for bv in ctx.iter_split():
        branch_info[bv.branch] = bv
        table[bv.branch] = {}
        s = np.sort(bv.values)
        for q in DECILES:
            point = float(np.quantile(s, q)) if bv.n else None
            lo = hi = se = None
            if bv.state not in (EMPTY_BRANCH, ALL_NULL, SINGLE_CLIENT):
                lo, hi = order_statistic_interval(s, q, opts.ci)
                se = (hi - lo) / (2 * z)
            table[bv.branch][q] = (point, se)
            records.append(make_record(ctx.labels, bv.branch, point=point, lower=lo, upper=hi,
                                       parameter=q, ci_width=opts.ci, n=bv.n, state=bv.state,
                                       reason=bv.reason))
    ref = ctx.reference_branch
    for branch in ctx.others:
        state = worse_state(branch_info[branch].state, branch_info[ref].state)
        reason = joined_reason(branch_info[branch].reason, branch_info[ref].reason)
        for q in DECILES:
            records += _compare(ctx, branch, q, table[branch][q], table[ref][q], (state, reason),
                                branch_info[branch].n + branch_info[ref].n, opts)
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
