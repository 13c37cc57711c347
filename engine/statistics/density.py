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

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.statistics.context import BranchState, Context, branch_states
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
from engine.statistics.summaries import (
    POSITIVE,
    POSITIVE_LOG,
    BranchMoments,
    GridCounts,
    LinearBins,
    Moments,
    OrderStatistics,
    Statistic,
)

_FINE_PER_BANDWIDTH = 32   # fine-grid points per bandwidth
_MAX_FINE = 1 << 18         # fine-grid points at most (bounds time and memory)
_KERNEL_REACH = 8.0         # kernel truncated beyond 8 bandwidths (phi(8) ~ 5e-15)
_BANDWIDTH_FACTOR = {"normal_reference": 1.059, "scott": 1.059, "silverman": 0.9}


def _grid(ranges: list[tuple[float, float]], size: int) -> np.ndarray:
    """Evenly spaced over the pooled range (one point if there is no range; empty if no data)."""
    if not ranges:
        return np.empty(0)
    lo = min(a for a, _ in ranges)
    hi = max(b for _, b in ranges)
    return np.linspace(lo, hi, size) if hi > lo else np.array([lo])


def _ranges(states: Mapping[str, BranchState], log_space: bool) -> list[tuple[float, float]]:
    """Each branch's (min, max) of the values the grid spans (logs of positive values)."""
    if log_space:
        return [(float(np.log(s.moments.minimum)), float(np.log(s.moments.maximum)))
                for s in states.values() if s.n]
    return [(s.moments.minimum, s.moments.maximum) for s in states.values() if s.n]


def _lerp(a: float, b: float, t: float) -> float:
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t  # numpy's quantile lerp


def _quantile_ranks(n: int, q: float) -> tuple[int, int, float]:
    pos = q * (n - 1)
    k0 = int(math.floor(pos))
    return k0, min(k0 + 1, n - 1), pos - k0


def bandwidth(m: BranchMoments, quartiles: tuple[float, float], rule: str,
              adjust: float) -> float:
    iqr = (quartiles[1] - quartiles[0]) / 1.349
    sd = math.sqrt(m.m2 / (m.n - 1))
    spread = min(sd, iqr) if iqr > 0 else sd
    return adjust * _BANDWIDTH_FACTOR[rule] * spread * m.n ** -0.2


def fine_grid(grid: np.ndarray, h: float) -> tuple[int, int, float]:
    """(refinement r, fine-grid size, fine spacing) of the linear binning for bandwidth h."""
    step = (grid[-1] - grid[0]) / (len(grid) - 1)
    r_max = (_MAX_FINE - 1) // (len(grid) - 1)
    r = int(np.clip(np.ceil(step * _FINE_PER_BANDWIDTH / h), 1, r_max))
    return r, (len(grid) - 1) * r + 1, step / r


def binned_kde(counts: np.ndarray, n: int, h: float, r: int, delta: float) -> np.ndarray:
    """Gaussian KDE with bandwidth h at every r-th point of the fine grid whose linear-binning
    weights are `counts` (n values)."""
    size = len(counts)
    reach = min(size - 1, int(np.ceil(_KERNEL_REACH * h / delta)))
    offsets = np.arange(-reach, reach + 1) * (delta / h)
    kernel = np.exp(-0.5 * offsets ** 2) / (np.sqrt(2 * np.pi) * h * n)
    n_fft = 1 << int(size + 2 * reach).bit_length()
    full = np.fft.irfft(np.fft.rfft(counts, n_fft) * np.fft.rfft(kernel, n_fft), n_fft)
    return np.maximum(full[reach:reach + size:r], 0.0)  # FFT round-off can dip below 0


_NO_DENSITY = (EMPTY_BRANCH, ALL_NULL, SINGLE_CLIENT, ZERO_VARIANCE)
_NO_CDF = (EMPTY_BRANCH, ALL_NULL)


def _degenerate(ctx: Context, bv: BranchState, fatal: tuple[str, ...],
                note: str = "") -> StatisticRecord | None:
    if bv.state in fatal:
        return make_record(ctx.labels, bv.branch, point=None, n=bv.n, state=bv.state,
                           reason=joined_reason(note, bv.reason))
    return None


def _records(ctx: Context, bv: BranchState, grid: np.ndarray, values: np.ndarray,
             reason: str = "") -> list:
    shown = np.exp(grid) if ctx.params.get("log_space") else grid
    return [make_record(ctx.labels, bv.branch, point=v, parameter=x, n=bv.n, reason=reason)
            for x, v in zip(shown, values)]


def _no_positive(ctx: Context, split: Mapping[str, BranchState]) -> list[StatisticRecord]:
    return [make_record(ctx.labels, b, point=None, n=bv.n, state=NOT_APPLICABLE,
                        reason="log_space: no client has a value > 0")
            for b, bv in split.items()]


def _grid_size(ctx: Context) -> int:
    return int(ctx.params.get("grid_size", 256))


def _split(ctx: Context) -> Statistic:
    """(every value's states, the grid's values' states, their column): the grid's values
    are the logs of the positive values with log_space."""
    column = ctx.column()
    log_space = bool(ctx.params.get("log_space"))
    if not log_space:
        split = branch_states(ctx.branches, (yield Moments(ctx.rows, column)))
        return split, split, column, split
    every, positive, logs = yield (Moments(ctx.rows, column),
                                   Moments(ctx.rows, column.then(POSITIVE)),
                                   Moments(ctx.rows, column.then(POSITIVE_LOG)))
    return (branch_states(ctx.branches, every), branch_states(ctx.branches, logs),
            column.then(POSITIVE_LOG), branch_states(ctx.branches, positive))


def kernel_density_estimate(ctx: Context) -> Statistic:
    split, shown, values, ranged = yield from _split(ctx)
    log_space = bool(ctx.params.get("log_space"))
    grid = _grid(_ranges(ranged, log_space), _grid_size(ctx))
    if log_space and grid.size == 0 and any(bv.n for bv in split.values()):
        return _no_positive(ctx, split)
    notes, live = {}, {}
    for b, bv in shown.items():
        excluded = split[b].n - bv.n
        notes[b] = (f"log_space: density of log(value) over the {bv.n} of {split[b].n} "
                    f"clients with a value > 0, scaled by their share; {excluded} at or below "
                    "0 are not in it") if excluded else ""
        if bv.state not in _NO_DENSITY:
            live[b] = bv
    windows = tuple((b, k, k) for b, bv in live.items() for q in (0.25, 0.75)
                    for k in _quantile_ranks(bv.n, q)[:2])
    ordered = (yield OrderStatistics(ctx.rows, values, windows)) if windows else {}
    geometry: dict[str, tuple[float, int, int, float]] = {}
    for b, bv in live.items():
        quartiles = []
        for q in (0.25, 0.75):
            k0, k1, t = _quantile_ranks(bv.n, q)
            a, c = (float(v) for v in ordered[b].at([k0, k1]))
            quartiles.append(_lerp(a, c, t))
        h = bandwidth(bv.moments, (quartiles[0], quartiles[1]),
                      ctx.params.get("bandwidth", "normal_reference"),
                      float(ctx.params.get("adjust", 1.0)))
        geometry[b] = (h, *fine_grid(grid, h))
    asked = tuple(LinearBins(ctx.rows, values, float(grid[0]), delta, size)
                  for _, _, size, delta in geometry.values())
    answers = (yield asked) if asked else ()
    weights = {b: answer[b] for b, answer in zip(geometry, answers)}
    records = []
    for b, bv in shown.items():
        bad = _degenerate(ctx, bv, _NO_DENSITY, notes[b])
        if bad:
            records.append(bad)
            continue
        h, r, _, delta = geometry[b]
        share = bv.n / split[b].n
        density = binned_kde(weights[b], bv.n, h, r, delta) * share
        records += _records(ctx, split[b], grid, density, notes[b])
    return records


def empirical_cdf(ctx: Context) -> Statistic:
    split, _, _, ranged = yield from _split(ctx)
    log_space = bool(ctx.params.get("log_space"))
    grid = _grid(_ranges(ranged, log_space), _grid_size(ctx))
    if log_space and grid.size == 0 and any(bv.n for bv in split.values()):
        return _no_positive(ctx, split)
    at = np.exp(grid) if log_space else grid
    column = ctx.column()
    asked = (GridCounts(ctx.rows, column, tuple(float(g) for g in at)),
             *((GridCounts(ctx.rows, column, (0.0,)),) if log_space else ()))
    answers = (yield asked) if grid.size else ({}, {})
    counts, at_zero = answers[0], answers[-1]
    records: list[Any] = []
    for bv in split.values():
        bad = _degenerate(ctx, bv, _NO_CDF)
        if bad:
            records.append(bad)
            continue
        if log_space and bv.moments.minimum <= 0:
            records.append(make_record(
                ctx.labels, bv.branch, point=int(at_zero[bv.branch][0]) / bv.n,
                parameter=0.0, n=bv.n,
                reason="log_space: share of clients with a value <= 0 (below the grid)"))
        records += _records(ctx, bv, grid, counts[bv.branch] / bv.n)
    return records
