"""kernel_density_estimate and empirical_cdf on a grid shared by all branches.

`parameter` of each record is the grid value (on the original scale, also with log_space).
The Gaussian KDE is binned: the data are linearly binned onto a grid `r` times finer than the
output grid (spacing <= h / 32, at most _MAX_FINE points) and convolved with the sampled kernel
by FFT, O(n + M log M) instead of O(n x grid). Linear binning's error is O((spacing / h)^2);
against the direct sum (scipy's gaussian_kde with the same bandwidth) it stays below 1e-4 of
the peak density (tests/statistics/test_density.py) unless the range exceeds ~8,000
bandwidths (extreme tails), where the cap coarsens the fine grid. The ECDF is exact.

Bandwidth: `normal_reference` / `scott` = 1.059 x min(sd, IQR / 1.349) x n^(-1/5), `silverman`
= 0.9 x the same; `adjust` multiplies it. Upstream passes bandwidth="scott" to scikit-learn,
whose 'scott' is n^(-1/5) *unscaled* (the data's spread is ignored, so the same metric in
seconds or hours gets a different smoothing); ours scales with the data, as Scott's rule
does, and matches scikit-learn's KernelDensity at our bandwidth.

log_space: the grid is evenly spaced in log(value) over the positive values. Zeros and
negatives have no logarithm, so they are accounted for explicitly, never silently dropped:
the ECDF is P(X <= x) over every client (its value at the first grid point includes the mass
at or below 0) and each branch with values <= 0 gets one more record at parameter 0 holding
P(X <= 0); the KDE is the density of log(X) over the clients with X > 0 scaled by their
share, so it integrates to P(X > 0), and its records' reason says how many clients were at
or below 0.
"""
from __future__ import annotations

import numpy as np

from engine.statistics.context import BranchValues, Context, branch_values
from engine.statistics.records import (
    ALL_NULL,
    EMPTY_BRANCH,
    NOT_APPLICABLE,
    SINGLE_CLIENT,
    ZERO_VARIANCE,
    StatisticRecord,
    joined_reason,
    make_record,
)

_FINE_PER_BANDWIDTH = 32   # fine-grid points per bandwidth
_MAX_FINE = 1 << 18         # fine-grid points at most (bounds time and memory)
_KERNEL_REACH = 8.0         # kernel truncated beyond 8 bandwidths (phi(8) ~ 5e-15)
_BANDWIDTH_FACTOR = {"normal_reference": 1.059, "scott": 1.059, "silverman": 0.9}


def _positive_logs(split: dict[str, BranchValues]) -> dict[str, BranchValues]:
    """log of each branch's positive values (n_rows: the branch's clients)."""
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


def _degenerate(ctx: Context, bv: BranchValues, fatal: tuple[str, ...],
                note: str = "") -> StatisticRecord | None:
    if bv.state in fatal:
        return make_record(ctx.labels, bv.branch, point=None, n=bv.n, state=bv.state,
                           reason=joined_reason(note, bv.reason))
    return None


def _records(ctx: Context, bv: BranchValues, grid: np.ndarray, values: np.ndarray,
             reason: str = "") -> list:
    shown = np.exp(grid) if ctx.params.get("log_space") else grid
    return [make_record(ctx.labels, bv.branch, point=v, parameter=x, n=bv.n, reason=reason)
            for x, v in zip(shown, values)]


def _no_positive(ctx: Context, split: dict[str, BranchValues]) -> list[StatisticRecord]:
    return [make_record(ctx.labels, b, point=None, n=bv.n, state=NOT_APPLICABLE,
                        reason="log_space: no client has a value > 0")
            for b, bv in split.items()]


def _grid_size(ctx: Context) -> int:
    return int(ctx.params.get("grid_size", 256))


def kernel_density_estimate(ctx: Context) -> list[StatisticRecord]:
    split = ctx.split()
    log_space = bool(ctx.params.get("log_space"))
    shown = _positive_logs(split) if log_space else split
    grid = _grid(shown, _grid_size(ctx))
    if log_space and grid.size == 0 and any(bv.n for bv in split.values()):
        return _no_positive(ctx, split)
    records = []
    for b, bv in shown.items():
        excluded = split[b].n - bv.n
        note = (f"log_space: density of log(value) over the {bv.n} of {split[b].n} clients "
                f"with a value > 0, scaled by their share; {excluded} at or below 0 are not "
                "in it") if excluded else ""
        bad = _degenerate(ctx, bv, _NO_DENSITY, note)
        if bad:
            records.append(bad)
            continue
        h = bandwidth(bv.values, ctx.params.get("bandwidth", "normal_reference"),
                      float(ctx.params.get("adjust", 1.0)))
        share = bv.n / split[b].n
        records += _records(ctx, split[b], grid, binned_kde(bv.values, grid, h) * share, note)
    return records


def empirical_cdf(ctx: Context) -> list[StatisticRecord]:
    split = ctx.split()
    log_space = bool(ctx.params.get("log_space"))
    grid = _grid(_positive_logs(split) if log_space else split, _grid_size(ctx))
    if log_space and grid.size == 0 and any(bv.n for bv in split.values()):
        return _no_positive(ctx, split)
    at = np.exp(grid) if log_space else grid
    records = []
    for bv in split.values():
        bad = _degenerate(ctx, bv, _NO_CDF)
        if bad:
            records.append(bad)
            continue
        ordered = np.sort(bv.values)
        if log_space and ordered[0] <= 0:
            records.append(make_record(
                ctx.labels, bv.branch, point=np.searchsorted(ordered, 0.0, side="right") / bv.n,
                parameter=0.0, n=bv.n,
                reason="log_space: share of clients with a value <= 0 (below the grid)"))
        records += _records(ctx, bv, grid, np.searchsorted(ordered, at, side="right") / bv.n)
    return records
