"""per_client_dau_impact: DAU gained if a branch were deployed to the experiment's population.

As upstream: the metric is a per-client count of active days in the window (e.g.
days_of_use); its branch means come from linear_model_mean (drop_highest defaults to 0). The
`difference` records are the difference of means scaled by the number of enrolled clients in
the analysed frame (every branch, null values included): "sum of DAU gained over the
window by this population". `relative_uplift` records are the relative difference of the
means, unscaled. No per-branch records: absolute values depend on the enrollment size and
are not meaningful on their own (upstream omits them for that reason).
"""
from __future__ import annotations

from engine.statistics.context import Context
from engine.statistics.drive import ask, together
from engine.statistics.linear_model import linear_model_mean
from engine.statistics.summaries import Moments, Statistic


def _scaled(value: float | None, factor: int) -> float | None:
    return None if value is None else value * factor


def per_client_dau_impact(ctx: Context) -> Statistic:
    everyone, fitted = yield from together(ask(Moments(ctx.rows, ctx.column())),
                                           linear_model_mean(ctx))
    enrolled = sum(m.n_rows for m in everyone.values())
    records = []
    for rec in fitted:
        if rec.comparison == "difference":
            rec = rec.with_values(point=_scaled(rec.point, enrolled),
                                  lower=_scaled(rec.lower, enrolled),
                                  upper=_scaled(rec.upper, enrolled))
        if rec.comparison is not None:
            records.append(rec)
    return records
