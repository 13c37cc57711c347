"""binomial: share of clients with a true (non-zero) value; Beta(1 + k, 1 + n - k) posterior.

Per-branch intervals are the exact Beta quantiles (any level). Comparisons use posterior
draws per branch, drawn once and reused. Every branch with at least one client has a proper
posterior, so all-false / all-true branches keep state "ok".
"""
from __future__ import annotations

import math

from scipy import special

from engine.statistics.context import BranchState, Context, branch_states
from engine.statistics.intervals import (
    Estimate,
    Options,
    comparison_records,
    normal_interval,
)
from engine.statistics.records import (
    ALL_NULL,
    EMPTY_BRANCH,
    OK,
    Labels,
    StatisticRecord,
    make_record,
)
from engine.statistics.resample import branch_rng
from engine.statistics.summaries import Moments, Statistic


def beta_posterior(bv: BranchState) -> tuple[float, float]:
    k = bv.moments.nonzero
    return 1.0 + k, 1.0 + bv.n - k


def binomial(ctx: Context) -> Statistic:
    opts = Options.from_params(ctx.params)
    num_samples = int(ctx.params.get("num_samples", 10000))
    individual, estimates = [], {}
    moments = yield Moments(ctx.rows, ctx.column())
    for bv in branch_states(ctx.branches, moments).values():
        if bv.state in (EMPTY_BRANCH, ALL_NULL):
            estimates[bv.branch] = Estimate(bv.branch, None, None, 0, bv.state, bv.reason)
            individual.append(make_record(ctx.labels, bv.branch, point=None, ci_width=opts.ci,
                                          n=0, state=bv.state, reason=bv.reason))
            continue
        a, b = beta_posterior(bv)
        rng = branch_rng(ctx.seed, ctx.labels.statistic, ctx.metric, bv.branch)
        estimates[bv.branch] = Estimate(bv.branch, a / (a + b),
                                        rng.beta(a, b, size=num_samples), bv.n)
        individual.append(_branch_record(ctx.labels, bv, a, b, opts))
    return individual + comparison_records(ctx.labels, estimates, ctx.reference_branch, opts)


def _branch_record(labels: Labels, bv: BranchState, a: float, b: float,
                   opts: Options) -> StatisticRecord:
    point = a / (a + b)
    if opts.sequential:
        sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        lo, hi, _ = normal_interval(point, sd, opts, bv.n)
    else:
        lo, hi = (float(special.betaincinv(a, b, q)) for q in (opts.alpha / 2, 1 - opts.alpha / 2))
    return make_record(labels, bv.branch, point=point, lower=lo, upper=hi, ci_width=opts.ci,
                       n=bv.n, state=OK)
