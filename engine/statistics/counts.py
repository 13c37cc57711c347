"""count and sum: per-branch totals, no intervals."""
from __future__ import annotations

from engine.statistics.context import Context
from engine.statistics.records import (
    ALL_NULL,
    EMPTY_BRANCH,
    OK,
    StatisticRecord,
    make_record,
)


def count(ctx: Context) -> list[StatisticRecord]:
    """Clients per branch (null values included: they are enrolled clients)."""
    return [make_record(ctx.labels, bv.branch, point=bv.n_rows, n=bv.n_rows,
                        state=EMPTY_BRANCH if bv.state == EMPTY_BRANCH else OK,
                        reason=bv.reason if bv.state == EMPTY_BRANCH else "")
            for bv in ctx.iter_split()]


def sum_(ctx: Context) -> list[StatisticRecord]:
    records = []
    for bv in ctx.iter_split():
        degenerate = bv.state in (EMPTY_BRANCH, ALL_NULL)
        records.append(make_record(
            ctx.labels, bv.branch, point=None if degenerate else float(bv.values.sum()), n=bv.n,
            state=bv.state if degenerate else OK, reason=bv.reason if degenerate else ""))
    return records
