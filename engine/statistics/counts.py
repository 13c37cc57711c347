"""count and sum: per-branch totals, no intervals."""
from __future__ import annotations

from engine.statistics.context import Context, branch_states
from engine.statistics.records import ALL_NULL, EMPTY_BRANCH, OK, make_record
from engine.statistics.summaries import Moments, Statistic


def count(ctx: Context) -> Statistic:
    """Clients per branch (null values included: they are enrolled clients)."""
    moments = yield Moments(ctx.rows, ctx.column())
    return [make_record(ctx.labels, s.branch, point=s.n_rows, n=s.n_rows,
                        state=EMPTY_BRANCH if s.state == EMPTY_BRANCH else OK,
                        reason=s.reason if s.state == EMPTY_BRANCH else "")
            for s in branch_states(ctx.branches, moments).values()]


def sum_(ctx: Context) -> Statistic:
    moments = yield Moments(ctx.rows, ctx.column())
    records = []
    for s in branch_states(ctx.branches, moments).values():
        degenerate = s.state in (EMPTY_BRANCH, ALL_NULL)
        records.append(make_record(
            ctx.labels, s.branch, point=None if degenerate else s.moments.total, n=s.n,
            state=s.state if degenerate else OK, reason=s.reason if degenerate else ""))
    return records
