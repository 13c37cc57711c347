"""Pre-treatments as steps of a treated column, and `treat()`, which resolves their quantiles.

Each implementation turns its parameters into a `Step` of `summaries.Column` (applied where the
rows are: in the warehouse, or in numpy by the frame source); the censoring by a quantile asks
for that quantile first, over all branches together (as upstream) and over the clients the
earlier steps kept. A step that drops a client (remove_nulls, remove_indefinites) drops it from
every column of the statistic, as for a frame. Null and NaN are one thing here: null.
"""
from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.statistics.pretreatments.declarations import PRETREATMENTS
from engine.statistics.summaries import (
    CLIP_LOWER,
    CLIP_UPPER,
    DIVIDE,
    DROP_NONFINITE,
    DROP_NULL,
    FILL_ZERO,
    LOG1P,
    Column,
    Moments,
    OrderStatistics,
    RowSet,
    Step,
)


@dataclass(frozen=True)
class AtQuantile:
    """A clip at the pooled `q` quantile of the values so far (resolved by `treat`)."""
    op: str
    q: float


Treatment = Step | AtQuantile


def remove_nulls(params: Mapping[str, Any], days: int | None) -> Treatment:
    return Step(DROP_NULL)


def remove_indefinites(params: Mapping[str, Any], days: int | None) -> Treatment:
    return Step(DROP_NONFINITE)


def censor_highest(params: Mapping[str, Any], days: int | None) -> Treatment:
    return AtQuantile(CLIP_UPPER, float(params["fraction"]))


def censor_lowest(params: Mapping[str, Any], days: int | None) -> Treatment:
    return AtQuantile(CLIP_LOWER, float(params["fraction"]))


def censor_below(params: Mapping[str, Any], days: int | None) -> Treatment:
    return Step(CLIP_LOWER, float(params["threshold"]))


def censor_above(params: Mapping[str, Any], days: int | None) -> Treatment:
    return Step(CLIP_UPPER, float(params["threshold"]))


def normalize(params: Mapping[str, Any], days: int | None) -> Treatment:
    if not days:
        raise ValueError("normalize_over_analysis_period needs the analysis period's length")
    return Step(DIVIDE, float(days))


def log(params: Mapping[str, Any], days: int | None) -> Treatment:
    base = params.get("base")
    return Step(LOG1P, float(base) if base else None)


def zero_fill(params: Mapping[str, Any], days: int | None) -> Treatment:
    return Step(FILL_ZERO)


def pooled_quantile(rows: RowSet, column: Column, q: float) -> Generator[Any, Any, float | None]:
    """The linear-interpolation q quantile of the finite values over every branch (numpy's
    and pandas' default), None without values."""
    moments = yield Moments(rows, column)
    total = sum(m.n for m in moments.values())
    if not total:
        return None
    pos = q * (total - 1)
    k0 = int(pos // 1)
    k1 = min(k0 + 1, total - 1)
    runs = yield OrderStatistics(rows, column, ((None, k0, k1),))
    a, b = (float(v) for v in runs[None].at([k0, k1]))
    t = pos - k0
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t  # numpy's lerp


def treat(rows: RowSet, columns: Sequence[str], specs: Sequence[Any],
          days: int | None) -> Generator[Any, Any, tuple[RowSet, dict[str, Column]]]:
    """Apply the pre-treatment chain (specs with .name and .params) to each source column in
    turn; returns the rows that remain and the treated column of each source."""
    treated: dict[str, Column] = {}
    for name in columns:
        column = Column(name)
        for spec in specs:
            definition = PRETREATMENTS.get(spec.name)
            if definition is None:
                raise ValueError(f"unknown pre-treatment {spec.name!r}")
            step = definition.load()({**definition.defaults(), **dict(spec.params)}, days)
            if isinstance(step, AtQuantile):
                value = yield from pooled_quantile(rows.with_column(column), column, step.q)
                if value is None:
                    continue
                step = Step(step.op, value)
            column = Column(name, (*column.steps, step))
        treated[name] = column
        rows = rows.with_column(column)
    return rows, treated
