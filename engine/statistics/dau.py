"""per_client_dau_impact: change in daily active users per enrolled client.

The metric is a per-client count of active days in the window (e.g. days_of_use). Its
bootstrapped mean divided by the window's length in days is the expected share of a client's
days that are active; the `difference` records therefore read as "DAU gained per enrolled
client" (multiply by the population to get DAU).
"""
from __future__ import annotations

from dataclasses import replace

from engine.statistics.bootstrap import mean_estimate
from engine.statistics.context import Context
from engine.statistics.intervals import Options, replicate_records
from engine.statistics.records import NOT_APPLICABLE, StatisticRecord, make_record


def per_client_dau_impact(ctx: Context) -> list[StatisticRecord]:
    opts = Options.from_params(ctx.params)
    days = ctx.analysis_period_days
    if not days:
        return [make_record(ctx.labels, b, point=None, ci_width=opts.ci, state=NOT_APPLICABLE,
                            reason="needs the analysis period's length in days")
                for b in ctx.branches]
    estimates = {}
    for bv in ctx.iter_split():
        est = mean_estimate(bv, ctx.params, ctx)
        estimates[bv.branch] = replace(
            est, point=None if est.point is None else est.point / days,
            replicates=None if est.replicates is None else est.replicates / days)
    return replicate_records(ctx.labels, estimates, ctx.reference_branch, opts)
