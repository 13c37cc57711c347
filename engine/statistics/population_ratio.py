"""population_ratio: sum(numerator) / sum(denominator) per branch, Bayesian-bootstrapped.

Each client's (numerator, denominator) pair is resampled jointly, so replicates are ratios of
weighted means. drop_highest clips (winsorises) the numerator at its quantile pooled over the
branches (clipping.py); no client is dropped and the denominator is left as it is.
"""
from __future__ import annotations

import numpy as np

from engine.statistics.clipping import clip, fraction, pooled_threshold
from engine.statistics.context import Context
from engine.statistics.intervals import Estimate, Options, replicate_records
from engine.statistics.records import (
    ALL_NULL,
    EMPTY_BRANCH,
    NOT_APPLICABLE,
    SINGLE_CLIENT,
    ZERO_VARIANCE,
    StatisticRecord,
)
from engine.statistics.resample import branch_rng, mean_replicates


def population_ratio(ctx: Context) -> list[StatisticRecord]:
    num_name, den_name = ctx.params.get("numerator"), ctx.params.get("denominator")
    num_all, den_all = ctx.column(num_name), ctx.column(den_name)
    threshold = pooled_threshold(num_all, fraction(ctx.params))
    estimates = {}
    for b in ctx.branches:
        rows = ctx.rows(b)
        num, den = num_all[rows], den_all[rows]
        keep = np.isfinite(num) & np.isfinite(den)
        estimates[b] = _estimate(ctx, b, clip(num[keep], threshold), den[keep],
                                 int(np.count_nonzero(rows)))
    return replicate_records(ctx.labels, estimates, ctx.reference_branch,
                             Options.from_params(ctx.params))


def _estimate(ctx: Context, b: str, num: np.ndarray, den: np.ndarray, n_rows: int) -> Estimate:
    if n_rows == 0:
        return Estimate(b, None, None, 0, EMPTY_BRANCH, "no client in this branch")
    if len(num) == 0:
        return Estimate(b, None, None, 0, ALL_NULL, "no client has both values")
    total = float(den.sum())
    if total == 0:
        return Estimate(b, None, None, len(num), NOT_APPLICABLE, "the denominator sums to 0")
    point = float(num.sum()) / total
    if len(num) == 1:
        return Estimate(b, point, None, 1, SINGLE_CLIENT, "only one client has both values")
    if num.min() == num.max() and den.min() == den.max():
        return Estimate(b, point, np.full(1, point), len(num), ZERO_VARIANCE,
                        "every client has the same pair of values")
    rng = branch_rng(ctx.seed, ctx.labels.statistic, ctx.metric, b)
    reps = mean_replicates(np.column_stack((num, den)), int(ctx.params.get("num_samples", 10000)),
                           rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = reps[:, 0] / reps[:, 1]
    return Estimate(b, point, ratio, len(num))
