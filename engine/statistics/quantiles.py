"""deciles: per-branch deciles, order-statistic intervals, Bayesian-bootstrap comparisons.

Point: the inverse-CDF sample quantile (the smallest value with at least q of the clients at
or below it), so a decile is always a value of the data (integer data give integer deciles).

Per-branch interval: distribution-free. The number of values below the q-quantile is
Binomial(n, q), so the order statistics at ranks Binom.ppf(alpha/2) and
Binom.ppf(1 - alpha/2) + 1 bracket it with probability >= 1 - alpha; no resampling.

Comparisons: a Bayesian bootstrap of each branch's decile, drawn without weights. With
Dirichlet(1, ..., 1) weights on the sorted values, the weight of the k smallest is
Beta(k, n - k), so the replicate decile -- the value at the first rank whose cumulative
weight reaches q -- sits at rank <= k with probability 1 - I_q(k, n - k): each replicate is
one uniform pushed through that rank distribution (computed over the ranks within ~10
standard deviations of nq), exactly the replicate a full Bayesian bootstrap would give,
at O(num_samples) instead of O(num_samples x n). The replicate ranks depend only on n and the
seed, so they are drawn first and only the ranks they reach are asked of the warehouse. Ties
need no special case: clients sharing a value (an atom: zeros, small integers) are adjacent
ranks with one value, which is the histogram-cell bootstrap of resample.py. Replicates are drawn once per branch and reused for
every comparison; intervals are inverse-CDF quantiles of the replicate differences (ratios),
so they are differences of data values too (no half-integers for integer data).

Why not a normal approximation: an SE read off order-statistic intervals is meaningless when
a decile sits on the edge of an atom (A/A with 40 % zeros: the q = 0.4 difference excluded 0
in 15.7 % of runs). At such an edge the decile is a discontinuous function of the
distribution; the bootstrap is conservative there (about 1 %, see
bench/statistics_calibration.py). That is the price of validity: the null "equal deciles" also
holds when the atom's edge is at q for one branch and q lies inside the atom for the other,
where a test of equal shares below the atom (exact at a shared edge) would reject almost
always. Inside an atom both branches' deciles equal the atom's
value with probability -> 1 and the difference is exactly 0: nothing is falsely detected.
"""
from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
from scipy import special, stats

from engine.statistics.context import BranchState, Context, branch_states
from engine.statistics.intervals import Estimate, Options, comparison_records
from engine.statistics.records import ALL_NULL, EMPTY_BRANCH, SINGLE_CLIENT, make_record
from engine.statistics.resample import branch_rng
from engine.statistics.summaries import Moments, OrderStatistics, Runs, Statistic

DECILES = tuple(round(i / 10, 1) for i in range(1, 10))
_REACH = 10.0  # rank window of the replicate distribution, in binomial standard deviations


def order_statistic_ranks(sizes: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """0-based (lower, upper) ranks of every decile's interval for every branch size: arrays
    (len(sizes), len(DECILES)) from one vectorised Binomial ppf call (per-value calls were a
    visible share of the pipeline)."""
    sizes = np.asarray(sizes, dtype=float)
    tails = np.array([(1 - ci) / 2, (1 + ci) / 2])
    ppf = stats.binom.ppf(tails[None, None, :], sizes[:, None, None],
                          np.array(DECILES)[None, :, None])
    ranks = ppf.astype(np.int64)
    last = sizes.astype(np.int64)[:, None] - 1
    return np.maximum(ranks[..., 0] - 1, 0), np.minimum(ranks[..., 1], last)


def point_ranks(n: int) -> np.ndarray:
    """0-based rank of each inverse-CDF decile: the first k with k / n >= q."""
    return np.maximum(np.ceil(np.round(np.array(DECILES) * n, 9)).astype(np.int64) - 1, 0)


def _reach(n: int, q: float) -> tuple[int, int]:
    """1-based counts [lo, hi] of the replicate distribution's window."""
    sd = np.sqrt(n * q * (1 - q))
    lo = max(1, int(np.floor(n * q - _REACH * sd)) - 1)
    hi = min(n - 1, int(np.ceil(n * q + _REACH * sd)) + 1)
    return lo, hi


def rank_windows(n: int) -> list[tuple[int, int]]:
    """0-based rank ranges holding every value a branch of n clients' deciles use (points,
    interval bounds and every replicate): about 20 sqrt(n q (1 - q)) ranks per decile."""
    if n <= 1:
        return [(0, n - 1)] if n else []
    return [(lo - 1, hi) for lo, hi in (_reach(n, q) for q in DECILES)]


@functools.lru_cache(maxsize=1024)
def _replicate_cdf(n: int, q: float) -> tuple[int, np.ndarray]:
    """(lo, P(replicate rank <= k) for k = lo..hi): one per branch size and decile, shared by
    every metric, segment and window whose branch has n values (most of an analysis')."""
    lo, hi = _reach(n, q)
    k = np.arange(lo, hi + 1)  # 1-based counts of the smallest values
    cdf = 1.0 - special.betainc(k, n - k, q)  # k < n
    cdf.flags.writeable = False
    return lo, cdf


def replicate_ranks(n: int, q: float, u: np.ndarray) -> np.ndarray:
    """0-based ranks of Bayesian-bootstrap replicates of the q-quantile of n sorted values,
    one per uniform in `u`. The uniforms are searched in sorted order (numpy's searchsorted
    then starts each search where the last ended: 4x faster) and the ranks put back in
    draw order."""
    lo, cdf = _replicate_cdf(n, q)
    order = np.argsort(u)
    ranks = np.empty(len(u), dtype=np.int64)
    ranks[order] = lo + np.searchsorted(cdf, u[order], side="left")  # 1-based; hi + 1 past
    return np.minimum(ranks, n) - 1


def _replicates(ctx: Context, bv: BranchState, num_samples: int) -> np.ndarray | None:
    """0-based ranks of every decile's replicates (len(DECILES), num_samples); None where the
    branch has none. They depend only on n and the seed, so they are drawn before any value
    is asked for, and the warehouse returns only the ranks they reach."""
    if bv.state in (EMPTY_BRANCH, ALL_NULL, SINGLE_CLIENT):
        return None
    rng = branch_rng(ctx.seed, ctx.labels.statistic, ctx.metric, bv.branch)
    u = rng.random((len(DECILES), num_samples))
    return np.stack([replicate_ranks(bv.n, q, u[i]) for i, q in enumerate(DECILES)])


def _windows(n: int, replicates: np.ndarray | None, bounds: tuple[np.ndarray, np.ndarray] | None
             ) -> list[tuple[int, int]]:
    """Per decile, the ranks from the lowest to the highest its point, interval and
    replicates use (within `rank_windows`, usually a third of it)."""
    if n <= 1 or replicates is None or bounds is None:
        return rank_windows(n)
    points = point_ranks(n)
    return [(int(min(points[i], bounds[0][i], replicates[i].min())),
             int(max(points[i], bounds[1][i], replicates[i].max()))) for i in range(len(DECILES))]


def _estimates(bv: BranchState, s: Runs | None, replicates: np.ndarray | None) -> list[Estimate]:
    """One Estimate per decile."""
    if bv.state in (EMPTY_BRANCH, ALL_NULL):
        return [Estimate(bv.branch, None, None, 0, bv.state, bv.reason) for _ in DECILES]
    points = s.at(point_ranks(bv.n))
    if replicates is None:
        return [Estimate(bv.branch, float(p), None, bv.n, bv.state, bv.reason) for p in points]
    return [Estimate(bv.branch, float(p), s.at(replicates[i]), bv.n, bv.state, bv.reason)
            for i, p in enumerate(points)]


def deciles(ctx: Context) -> Statistic:
    opts = replace(Options.from_params(ctx.params), discrete=True)
    num_samples = int(ctx.params.get("num_samples", 10000))
    column = ctx.column()
    split = branch_states(ctx.branches, (yield Moments(ctx.rows, column)))
    spread = [b for b, bv in split.items()
              if bv.state not in (EMPTY_BRANCH, ALL_NULL, SINGLE_CLIENT)]
    lows, highs = order_statistic_ranks(np.array([split[b].n for b in spread]), opts.ci)
    interval = {b: (lows[i], highs[i]) for i, b in enumerate(spread)}
    replicates = {b: _replicates(ctx, bv, num_samples) for b, bv in split.items()}
    windows = tuple((b, first, last) for b, bv in split.items()
                    for first, last in _windows(bv.n, replicates[b], interval.get(b)))
    ordered = (yield OrderStatistics(ctx.rows, column, windows)) if windows else {}
    bounds = {b: (ordered[b].at(lo), ordered[b].at(hi)) for b, (lo, hi) in interval.items()}
    per_decile = {b: _estimates(bv, ordered.get(b), replicates[b]) for b, bv in split.items()}
    records, none = [], [None] * len(DECILES)
    for b, bv in split.items():
        lower, upper = (v.tolist() for v in bounds[b]) if b in bounds else (none, none)
        for q, est, lo, hi in zip(DECILES, per_decile[b], lower, upper):
            records.append(make_record(ctx.labels, b, point=est.point, lower=lo, upper=hi,
                                       parameter=q, ci_width=opts.ci, n=bv.n, state=bv.state,
                                       reason=bv.reason))
    for i, q in enumerate(DECILES):
        records += [r.with_values(parameter=q) for r in comparison_records(
            ctx.labels, {b: per_decile[b][i] for b in split}, ctx.reference_branch, opts)]
    return records
