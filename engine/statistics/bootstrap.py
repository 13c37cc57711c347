"""bootstrap_mean: per-branch mean with Bayesian-bootstrap intervals and comparisons.

drop_highest clips at one threshold pooled over the branches (clipping.py). The replicates are
drawn from the branch's resampling cells (resample.py), which the rows' source computes."""
from __future__ import annotations

import numpy as np

from engine.statistics.clipping import fraction, pooled_threshold
from engine.statistics.context import BranchState, Context, branch_states
from engine.statistics.intervals import Estimate, Options, replicate_records
from engine.statistics.records import ALL_NULL, EMPTY_BRANCH, SINGLE_CLIENT
from engine.statistics.resample import Cells
from engine.statistics.summaries import Moments, Replicates, ResampleCells, Statistic


def replicates_of(ctx: Context, branch: str, cells: Cells) -> Replicates:
    """The request for one branch's replicates (drawn once; reused for every comparison)."""
    return Replicates(cells, int(ctx.params.get("num_samples", 10000)), ctx.seed,
                      (ctx.labels.statistic, ctx.metric, branch))


def mean_estimate(bv: BranchState, replicates: np.ndarray | None) -> Estimate:
    """Mean of one (already clipped) branch with its replicates."""
    if bv.state in (EMPTY_BRANCH, ALL_NULL):
        return Estimate(bv.branch, None, None, 0, bv.state, bv.reason)
    if bv.state == SINGLE_CLIENT or replicates is None:
        return Estimate(bv.branch, bv.moments.mean, None, bv.n, bv.state, bv.reason)
    return Estimate(bv.branch, bv.moments.mean, replicates[:, 0], bv.n, bv.state, bv.reason)


def bootstrap_mean(ctx: Context) -> Statistic:
    column = ctx.column()
    threshold = yield from pooled_threshold(ctx.rows, column, fraction(ctx.params))
    column = column.clipped(threshold)
    moments, cells = yield (Moments(ctx.rows, column),
                            ResampleCells(ctx.rows, (column,), bool(ctx.params.get("exact"))))
    states = branch_states(ctx.branches, moments)
    drawn = [b for b, s in states.items()
             if b in cells and s.state not in (EMPTY_BRANCH, ALL_NULL, SINGLE_CLIENT)]
    reps = yield tuple(replicates_of(ctx, b, cells[b]) for b in drawn)
    estimates = {b: mean_estimate(s, dict(zip(drawn, reps)).get(b)) for b, s in states.items()}
    return replicate_records(ctx.labels, estimates, ctx.reference_branch,
                             Options.from_params(ctx.params))
