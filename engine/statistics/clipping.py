"""drop_highest: one clipping rule for every family that clips.

Values above the (1 - drop_highest) quantile of the metric over **all branches together**
(the pooled column of the frame being analysed) are set to that quantile (winsorised), so no
client is lost. When every value is an integer the threshold is rounded up, so integer data
stay integer (upstream's linear model does both). One threshold for every branch is what
upstream's linear model does; upstream's bootstrap families clip each branch at its own
quantile instead, which makes the clipped means of two identical branches differ by the
two thresholds' noise. A shared threshold moves both branches alike, so it cancels from the
comparisons to first order and needs no variance correction; intervals treat it as fixed,
i.e. they are for the mean of the metric capped at the observed threshold.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np


def fraction(params: Mapping) -> float:
    return float(params.get("drop_highest") or 0)


def pooled_threshold(column: np.ndarray, drop: float) -> float | None:
    """The clip threshold of a whole column (nulls and non-finite values ignored), or None
    when nothing is clipped."""
    if not drop:
        return None
    finite = column[np.isfinite(column)]
    if finite.size < 2:
        return None
    integral = bool(np.all(finite == np.round(finite)))
    pos = (1.0 - drop) * (finite.size - 1)  # numpy's default (linear) quantile, by partition
    k0 = int(np.floor(pos))
    k1 = min(k0 + 1, finite.size - 1)
    finite.partition([k0, k1])  # in place: boolean indexing made a copy
    threshold = float(finite[k0] + (pos - k0) * (finite[k1] - finite[k0]))
    return float(np.ceil(threshold)) if integral else threshold


def clip(values: np.ndarray, threshold: float | None) -> np.ndarray:
    return values if threshold is None else np.minimum(values, threshold)
