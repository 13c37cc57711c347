"""bootstrap_mean: per-branch mean with Bayesian-bootstrap intervals and comparisons.

drop_highest clips at one threshold pooled over the branches (clipping.py)."""
from __future__ import annotations

from typing import Mapping

from engine.statistics.clipping import clip, fraction, pooled_threshold
from engine.statistics.context import BranchValues, Context, branch_values
from engine.statistics.intervals import Estimate, Options, replicate_records
from engine.statistics.records import (
    ALL_NULL,
    EMPTY_BRANCH,
    SINGLE_CLIENT,
    StatisticRecord,
)
from engine.statistics.resample import branch_rng, mean_replicates


def clipped(bv: BranchValues, threshold: float | None) -> BranchValues:
    """The branch's values capped at `threshold` (states recomputed: clipping can leave no
    spread)."""
    if threshold is None or bv.n == 0:
        return bv
    return branch_values(bv.branch, clip(bv.values, threshold), bv.n_rows)


def mean_estimate(bv: BranchValues, params: Mapping, ctx: Context) -> Estimate:
    """Mean of one (already clipped) branch and its replicates (drawn once; reused for every
    comparison)."""
    if bv.state in (EMPTY_BRANCH, ALL_NULL):
        return Estimate(bv.branch, None, None, 0, bv.state, bv.reason)
    point = float(bv.values.mean())
    if bv.state == SINGLE_CLIENT:
        return Estimate(bv.branch, point, None, bv.n, bv.state, bv.reason)
    rng = branch_rng(ctx.seed, ctx.labels.statistic, ctx.metric, bv.branch)
    reps = mean_replicates(bv.values, int(params.get("num_samples", 10000)), rng,
                           exact=bool(params.get("exact", False)))[:, 0]
    return Estimate(bv.branch, point, reps, bv.n, bv.state, bv.reason)


def bootstrap_mean(ctx: Context) -> list[StatisticRecord]:
    threshold = pooled_threshold(ctx.column(), fraction(ctx.params))
    estimates = {bv.branch: mean_estimate(clipped(bv, threshold), ctx.params, ctx)
                 for bv in ctx.iter_split()}
    return replicate_records(ctx.labels, estimates, ctx.reference_branch,
                             Options.from_params(ctx.params))
