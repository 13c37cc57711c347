"""drop_highest: one clipping rule for every family that clips.

Values above the (1 - drop_highest) quantile of the metric over **all branches together**
(the pooled values of the rows being analysed) are set to that quantile (winsorised), so no
client is lost. When every value is an integer the threshold is rounded up, so integer data
stay integer (upstream's linear model does both). One threshold for every branch is what
upstream's linear model does; upstream's bootstrap families clip each branch at its own
quantile instead, which makes the clipped means of two identical branches differ by the
two thresholds' noise. A shared threshold moves both branches alike, so it cancels from the
comparisons to first order and needs no variance correction; intervals treat it as fixed,
i.e. they are for the mean of the metric capped at the observed threshold.

The threshold costs two small requests: the pooled count (moments) and the two order
statistics the quantile interpolates between.
"""
from __future__ import annotations

import math
from collections.abc import Generator, Mapping
from typing import Any

from engine.statistics.summaries import Column, Moments, OrderStatistics, RowSet


def fraction(params: Mapping) -> float:
    return float(params.get("drop_highest") or 0)


def pooled_threshold(rows: RowSet, column: Column,
                     drop: float) -> Generator[Any, Any, float | None]:
    """The clip threshold of `column` over `rows` (non-finite values ignored), or None when
    nothing is clipped."""
    if not drop:
        return None
    moments = yield Moments(rows, column)
    total = sum(m.n for m in moments.values())
    if total < 2:
        return None
    integral = all(m.integral for m in moments.values() if m.n)
    pos = (1.0 - drop) * (total - 1)
    k0 = int(math.floor(pos))
    k1 = min(k0 + 1, total - 1)
    runs = yield OrderStatistics(rows, column, ((None, k0, k1),))
    low, high = (float(v) for v in runs[None].at([k0, k1]))
    threshold = low + (pos - k0) * (high - low)
    return float(math.ceil(threshold)) if integral else threshold
