"""kernel_density_estimate and empirical_cdf on a grid shared by all branches.

`parameter` of each record is the grid value (on the original scale, also with log_space).
The Gaussian KDE is binned: the data are linearly binned onto a grid `r` times finer than the
output grid (spacing <= h / 32, at most _MAX_FINE points) and convolved with the sampled kernel
by FFT, O(n + M log M) instead of O(n x grid). Linear binning's error is O((spacing / h)^2);
against the direct sum (scipy's gaussian_kde with the same bandwidth) it stays below 1e-4 of
the peak density (tests/statistics/test_density.py) unless the range exceeds ~8,000
bandwidths (extreme tails), where the cap coarsens the fine grid. The ECDF is exact.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from engine.statistics.context import BranchValues, Context, branch_values
from engine.statistics.records import (
    ALL_NULL,
    EMPTY_BRANCH,
    SINGLE_CLIENT,
    ZERO_VARIANCE,
    StatisticRecord,
    make_record,
)

_FINE_PER_BANDWIDTH = 32   # fine-grid points per bandwidth
_MAX_FINE = 1 << 18         # fine-grid points at most (bounds time and memory)
_KERNEL_REACH = 8.0         # kernel truncated beyond 8 bandwidths (phi(8) ~ 5e-15)
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


def binned_kde(values: np.ndarray, grid: np.ndarray, h: float) -> np.ndarray:
    """Gaussian KDE with bandwidth h at the evenly spaced `grid`, which spans all values."""
    step = (grid[-1] - grid[0]) / (len(grid) - 1)
    r_max = (_MAX_FINE - 1) // (len(grid) - 1)
    r = int(np.clip(np.ceil(step * _FINE_PER_BANDWIDTH / h), 1, r_max))
    size, delta = (len(grid) - 1) * r + 1, step / r
    pos = np.clip((values - grid[0]) / delta, 0, size - 1)
    left = np.minimum(pos.astype(np.int64), size - 2)
    frac = pos - left
    counts = (np.bincount(left, 1 - frac, minlength=size)
              + np.bincount(left + 1, frac, minlength=size))
    reach = min(size - 1, int(np.ceil(_KERNEL_REACH * h / delta)))
    offsets = np.arange(-reach, reach + 1) * (delta / h)
    kernel = np.exp(-0.5 * offsets ** 2) / (np.sqrt(2 * np.pi) * h * len(values))
    n_fft = 1 << int(size + 2 * reach).bit_length()
    full = np.fft.irfft(np.fft.rfft(counts, n_fft) * np.fft.rfft(kernel, n_fft), n_fft)
    return np.maximum(full[reach:reach + size:r], 0.0)  # FFT round-off can dip below 0


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


def _per_branch(ctx: Context, no_result: str,
                estimate: Callable[[BranchValues, np.ndarray], np.ndarray]) -> list[StatisticRecord]:
    """One record per grid point per branch, or one degenerate record for a branch without data."""
    split = _transformed(ctx)
    grid = _grid(split, int(ctx.params.get("grid_size", 256)))
    records = []
    for bv in split.values():
        bad = _degenerate(ctx, bv, no_result)
        if bad:
            records.append(bad)
            continue
        records += _records(ctx, bv, grid, estimate(bv, grid))
    return records


def kernel_density_estimate(ctx: Context) -> list[StatisticRecord]:
    def density(bv: BranchValues, grid: np.ndarray) -> np.ndarray:
        h = bandwidth(bv.values, ctx.params.get("bandwidth", "normal_reference"),
                      float(ctx.params.get("adjust", 1.0)))
        return binned_kde(bv.values, grid, h)

    return _per_branch(ctx, _NO_DENSITY, density)


def empirical_cdf(ctx: Context) -> list[StatisticRecord]:
    def cdf(bv: BranchValues, grid: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.sort(bv.values), grid, side="right") / bv.n

    return _per_branch(ctx, _NO_CDF, cdf)
