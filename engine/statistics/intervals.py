"""Interval, p-value and record construction shared by every statistic family."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import special

from engine.statistics import sequential
from engine.statistics.records import (
    ALL_NULL,
    EMPTY_BRANCH,
    NOT_APPLICABLE,
    OK,
    SINGLE_CLIENT,
    ZERO_REFERENCE,
    Labels,
    StatisticRecord,
    joined_reason,
    make_record,
    worse_state,
)

_NO_SPREAD = (EMPTY_BRANCH, ALL_NULL, SINGLE_CLIENT, NOT_APPLICABLE)


@dataclass(frozen=True)
class Options:
    ci: float = 0.95
    sequential: bool = False
    tuning: float = 10000.0
    discrete: bool = False  # replicates take data values: bounds are replicate values too

    @property
    def alpha(self) -> float:
        return 1.0 - self.ci

    @classmethod
    def from_params(cls, params: Mapping) -> Options:
        return cls(float(params.get("confidence_interval", 0.95)),
                   bool(params.get("sequential", False)),
                   float(params.get("sequential_tuning", 10000)))


@dataclass(frozen=True)
class Estimate:
    """One branch's estimate: the point and, when it has spread, its 1-D replicates."""
    branch: str
    point: float | None
    replicates: np.ndarray | None
    n: int
    state: str = OK
    reason: str = ""


def quantile_interval(reps: np.ndarray, ci: float,
                      discrete: bool = False) -> tuple[float, float]:
    """Percentile interval; `discrete` takes inverse-CDF quantiles (replicate values, no
    interpolation between two of them)."""
    lo, hi = np.quantile(reps, [(1 - ci) / 2, (1 + ci) / 2],
                         method="inverted_cdf" if discrete else "linear")
    return float(lo), float(hi)


def replicate_p_value(reps: np.ndarray) -> float:
    """Two-sided bootstrap p-value of 'the quantity is 0' (add-one so it is never exactly 0)."""
    m = len(reps)
    below = np.count_nonzero(reps <= 0)
    above = np.count_nonzero(reps >= 0)
    return float(min(1.0, 2 * (min(below, above) + 1) / (m + 1)))


def normal_interval(point: float, se: float, opts: Options, n: int,
                    df: float | None = None) -> tuple[float, float, float]:
    """(lower, upper, p-value of 0) from a normal (or t) approximation, or sequential."""
    if opts.sequential:
        hw = sequential.half_width(se, n, opts.alpha, opts.tuning)
        return point - hw, point + hw, sequential.p_value(point, se, n, opts.alpha, opts.tuning)
    hw = critical_value(opts.alpha, df) * se
    p = 2 * _upper_tail(abs(point) / se, df) if se > 0 else float(point == 0)
    return point - hw, point + hw, p


def critical_value(alpha: float, df: float | None = None) -> float:
    """Two-sided normal (or Student t) critical value; scipy.special avoids frozen-dist costs."""
    q = 1 - alpha / 2
    return float(special.stdtrit(df, q) if df else special.ndtri(q))


def _upper_tail(z: float, df: float | None) -> float:
    return float(special.stdtr(df, -z) if df else special.ndtr(-z))


def replicate_interval(point: float, reps: np.ndarray, opts: Options,
                       n: int) -> tuple[float, float, float]:
    if opts.sequential:
        return normal_interval(point, float(np.std(reps, ddof=1)), opts, n)
    lo, hi = quantile_interval(reps, opts.ci, opts.discrete)
    return lo, hi, replicate_p_value(reps)


def replicate_records(labels: Labels, estimates: Mapping[str, Estimate], reference: str,
                      opts: Options) -> list[StatisticRecord]:
    """Per-branch records, then each other branch against the reference (same replicates)."""
    return ([individual_record(labels, e, opts) for e in estimates.values()]
            + comparison_records(labels, estimates, reference, opts))


def comparison_records(labels: Labels, estimates: Mapping[str, Estimate], reference: str,
                       opts: Options) -> list[StatisticRecord]:
    ref = estimates[reference]
    return [_compare(labels, est, ref, kind, opts)
            for branch, est in estimates.items() if branch != reference
            for kind in ("difference", "relative_uplift")]


def individual_record(labels: Labels, est: Estimate, opts: Options) -> StatisticRecord:
    if est.state in _NO_SPREAD or est.replicates is None:
        return make_record(labels, est.branch, point=est.point, ci_width=opts.ci, n=est.n,
                           state=est.state, reason=est.reason)
    lo, hi, _ = replicate_interval(est.point, est.replicates, opts, est.n)
    return make_record(labels, est.branch, point=est.point, lower=lo, upper=hi, ci_width=opts.ci,
                       n=est.n, state=est.state, reason=est.reason)


def _compare(labels: Labels, est: Estimate, ref: Estimate, kind: str,
             opts: Options) -> StatisticRecord:
    state = worse_state(est.state, ref.state)
    reason = joined_reason(est.reason, ref.reason)
    point = None
    if est.point is not None and ref.point is not None:
        if kind == "difference":
            point = est.point - ref.point
        elif ref.point != 0:
            point = est.point / ref.point - 1
    if kind == "relative_uplift" and ref.point is not None and ref.replicates is not None \
            and (ref.point == 0 or np.any(ref.replicates == 0)):
        state, reason, point = ZERO_REFERENCE, "the reference branch's value is 0", None
    common = dict(comparison=kind, comparison_to_branch=ref.branch, ci_width=opts.ci,
                  n=est.n + ref.n, state=state, reason=reason)
    if state in _NO_SPREAD or state == ZERO_REFERENCE or point is None \
            or est.replicates is None or ref.replicates is None:
        return make_record(labels, est.branch, point=point, **common)
    if kind == "difference":
        reps = est.replicates - ref.replicates
    else:
        reps = est.replicates / ref.replicates - 1
    lo, hi, p = replicate_interval(point, reps, opts, est.n + ref.n)
    return make_record(labels, est.branch, point=point, lower=lo, upper=hi, p_value=p, **common)
