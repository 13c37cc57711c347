"""kernel_density_estimate and empirical_cdf on a grid shared by all branches.

`parameter` of each record is the grid value (on the original scale, also with log_space).
The KDE is evaluated from a fine histogram (linear in the data, grid_size x bins in the grid),
the ECDF exactly by binary search on the sorted values.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from engine.statistics.context import BranchValues, Context, branch_values
from engine.statistics.records import (ALL_NULL, EMPTY_BRANCH, SINGLE_CLIENT,
                                       ZERO_VARIANCE, StatisticRecord, make_record)

_FINE_BINS = 4096
_BANDWIDTH_FACTOR = {"normal_reference": 1.059, "scott": 1.059, "silverman": 0.9}


def _transformed(ctx: Context) -> dict[str, BranchValues]:
    """Per-branch values, in log space (positive values only) when asked."""
    split = ctx.split()
    if not ctx.params.get("log_space"):
        return split
    return {b: branch_values(b, np.log(bv.values[bv.values > 0]), bv.n_rows)
            for b, bv in split.items()}


def _grid(split: dict[str, BranchValues], size: int) -> np.ndarray:
    """Evenly spaced over the pooled range (one point if there is no range; empty if no data)."""
    pooled = [bv.values for bv in split.values() if bv.n]
    if not pooled:
        return np.empty(0)
    lo = min(float(v.min()) for v in pooled)
    hi = max(float(v.max()) for v in pooled)
    return np.linspace(lo, hi, size) if hi > lo else np.array([lo])


def bandwidth(values: np.ndarray, rule: str, adjust: float) -> float:
    iqr = float(np.subtract(*np.quantile(values, [0.75, 0.25]))) / 1.349
    sd = float(np.std(values, ddof=1))
    spread = min(sd, iqr) if iqr > 0 else sd
    return adjust * _BANDWIDTH_FACTOR[rule] * spread * len(values) ** -0.2


_NO_DENSITY = (EMPTY_BRANCH, ALL_NULL, SINGLE_CLIENT, ZERO_VARIANCE)
_NO_CDF = (EMPTY_BRANCH, ALL_NULL)


def _degenerate(ctx: Context, bv: BranchValues, fatal: tuple[str, ...]) -> StatisticRecord | None:
    if bv.state in fatal:
        return make_record(ctx.labels, bv.branch, point=None, n=bv.n, state=bv.state,
                           reason=bv.reason)
    return None


def _records(ctx: Context, bv: BranchValues, grid: np.ndarray, values: np.ndarray) -> list:
    shown = np.exp(grid) if ctx.params.get("log_space") else grid
    return [make_record(ctx.labels, bv.branch, point=v, parameter=x, n=bv.n)
            for x, v in zip(shown, values)]


def kernel_density_estimate(ctx: Context) -> list[StatisticRecord]:
    split = _transformed(ctx)
    grid = _grid(split, int(ctx.params.get("grid_size", 256)))
    records = []
    for bv in split.values():
        bad = _degenerate(ctx, bv, _NO_DENSITY)
        if bad:
            records.append(bad)
            continue
        h = bandwidth(bv.values, ctx.params.get("bandwidth", "normal_reference"),
                      float(ctx.params.get("adjust", 1.0)))
        counts, edges = np.histogram(bv.values, bins=_FINE_BINS)
        centers = (edges[:-1] + edges[1:]) / 2
        weights = stats.norm.pdf((grid[:, None] - centers[None, :]) / h)
        records += _records(ctx, bv, grid, weights @ counts / (bv.n * h))
    return records


def empirical_cdf(ctx: Context) -> list[StatisticRecord]:
    split = _transformed(ctx)
    grid = _grid(split, int(ctx.params.get("grid_size", 256)))
    records = []
    for bv in split.values():
        bad = _degenerate(ctx, bv, _NO_CDF)
        if bad:
            records.append(bad)
            continue
        s = np.sort(bv.values)
        records += _records(ctx, bv, grid, np.searchsorted(s, grid, side="right") / bv.n)
    return records
