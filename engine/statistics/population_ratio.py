"""population_ratio: sum(numerator) / sum(denominator) per branch, Bayesian-bootstrapped.

Each client's (numerator, denominator) pair is resampled jointly (two-dimensional cells), so
replicates are ratios of weighted means. drop_highest clips (winsorises) the numerator at its
quantile pooled over the branches (clipping.py); no client is dropped and the denominator is
left as it is. Clients without both values finite are left out.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.statistics.bootstrap import replicates_of
from engine.statistics.clipping import fraction, pooled_threshold
from engine.statistics.context import Context
from engine.statistics.intervals import Estimate, Options, replicate_records
from engine.statistics.records import (
    ALL_NULL,
    EMPTY_BRANCH,
    NOT_APPLICABLE,
    OK,
    SINGLE_CLIENT,
    ZERO_VARIANCE,
)
from engine.statistics.summaries import (
    DROP_NONFINITE,
    EMPTY_MOMENTS,
    BranchMoments,
    Moments,
    ResampleCells,
    Statistic,
)


def population_ratio(ctx: Context) -> Statistic:
    num = ctx.column(ctx.params.get("numerator"))
    den = ctx.column(ctx.params.get("denominator"))
    threshold = yield from pooled_threshold(ctx.rows, num, fraction(ctx.params))
    num = num.clipped(threshold)
    both = ctx.rows.with_column(num.then(DROP_NONFINITE)).with_column(den.then(DROP_NONFINITE))
    everyone, nums, dens, cells = yield (
        Moments(ctx.rows, num), Moments(both, num), Moments(both, den),
        ResampleCells(ctx.rows, (num, den)))
    estimates = {b: _estimate(b, nums.get(b, EMPTY_MOMENTS), dens.get(b, EMPTY_MOMENTS),
                              everyone.get(b, EMPTY_MOMENTS).n_rows) for b in ctx.branches}
    drawn = [b for b, e in estimates.items() if e.replicates is None and e.state == OK
             and b in cells]
    reps = yield tuple(replicates_of(ctx, b, cells[b]) for b in drawn)
    for b, r in zip(drawn, reps):
        with np.errstate(divide="ignore", invalid="ignore"):
            estimates[b] = replace(estimates[b], replicates=r[:, 0] / r[:, 1])
    return replicate_records(ctx.labels, estimates, ctx.reference_branch,
                             Options.from_params(ctx.params))


def _estimate(b: str, num: BranchMoments, den: BranchMoments, n_rows: int) -> Estimate:
    """The branch's point and state; replicates are drawn for the "ok" ones."""
    if n_rows == 0:
        return Estimate(b, None, None, 0, EMPTY_BRANCH, "no client in this branch")
    if num.n == 0:
        return Estimate(b, None, None, 0, ALL_NULL, "no client has both values")
    if den.total == 0:
        return Estimate(b, None, None, num.n, NOT_APPLICABLE, "the denominator sums to 0")
    point = num.total / den.total
    if num.n == 1:
        return Estimate(b, point, None, 1, SINGLE_CLIENT, "only one client has both values")
    if num.minimum == num.maximum and den.minimum == den.maximum:
        return Estimate(b, point, np.full(1, point), num.n, ZERO_VARIANCE,
                        "every client has the same pair of values")
    return Estimate(b, point, None, num.n)
