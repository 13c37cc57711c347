"""linear_model_mean: branch means by OLS, optionally adjusted for a pre-enrollment covariate.

Model: y = alpha_branch + beta * (x - mean(x)) + e with homoskedastic errors, solved in closed
form from per-branch sufficient statistics (no design matrix): beta is the pooled within-branch
slope, alpha_g = ybar_g - beta (xbar_g - xbar) and
Cov(alpha_g, alpha_h) = s^2 (1[g=h] / n_g + (xbar_g - xbar)(xbar_h - xbar) / Sxx).
Without covariate beta = 0 and the means are the branch averages with a pooled variance.
The covariate is the column f"{metric}__pre"; its nulls are imputed by its mean.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.statistics.bootstrap import clip_highest
from engine.statistics.context import BranchValues, Context, branch_values
from engine.statistics.intervals import Options, normal_interval
from engine.statistics.records import (
    ZERO_REFERENCE,
    StatisticRecord,
    joined_reason,
    make_record,
    worse_state,
)

COVARIATE_SUFFIX = "__pre"


@dataclass(frozen=True)
class Fit:
    means: dict[str, float]
    cov: dict[tuple[str, str], float]
    n: dict[str, int]
    df: int


def _branch_data(ctx: Context, adjust: bool) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]],
                                                      dict[str, BranchValues]]:
    """Per-branch (y, x) used by the fit, and each branch's state (on y, nulls dropped)."""
    y_all = ctx.column()
    x_all = ctx.column(ctx.metric + COVARIATE_SUFFIX) if adjust else np.zeros_like(y_all)
    x_fill = float(np.nanmean(x_all)) if adjust and np.isfinite(x_all).any() else 0.0
    drop = float(ctx.params.get("drop_highest") or 0)
    influence = bool(ctx.params.get("clip_influence", False))
    out, states = {}, {}
    for b in ctx.branches:
        rows = ctx.rows(b)
        y, x = y_all[rows], np.nan_to_num(x_all[rows], nan=x_fill)
        states[b] = branch_values(b, y)
        keep = np.isfinite(y)
        out[b] = (clip_highest(y[keep], drop, influence), x[keep])
    return out, states


def fit(groups: dict[str, tuple[np.ndarray, np.ndarray]], adjust: bool) -> Fit | None:
    live = {b: (y, x) for b, (y, x) in groups.items() if len(y)}
    if not live:
        return None
    n = {b: len(y) for b, (y, _) in live.items()}
    ybar = {b: float(y.mean()) for b, (y, _) in live.items()}
    xbar_g = {b: float(x.mean()) for b, (_, x) in live.items()}
    total = sum(n.values())
    xbar = sum(xbar_g[b] * n[b] for b in live) / total
    syy = sum(float(((y - ybar[b]) ** 2).sum()) for b, (y, _) in live.items())
    sxx = sum(float(((x - xbar_g[b]) ** 2).sum()) for b, (_, x) in live.items())
    sxy = sum(float(((x - xbar_g[b]) * (y - ybar[b])).sum()) for b, (y, x) in live.items())
    slope = adjust and sxx > 0
    beta = sxy / sxx if slope else 0.0
    df = total - len(live) - (1 if slope else 0)
    ssr = max(syy - beta * sxy, 0.0)
    s2 = ssr / df if df > 0 else float("nan")
    lever = {b: (xbar_g[b] - xbar) for b in live}
    cov = {(g, h): s2 * ((1.0 / n[g] if g == h else 0.0)
                         + (lever[g] * lever[h] / sxx if slope else 0.0))
           for g in live for h in live}
    means = {b: ybar[b] - beta * lever[b] for b in live}
    return Fit(means, cov, n, df)


def linear_model_mean(ctx: Context) -> list[StatisticRecord]:
    opts = Options.from_params(ctx.params)
    adjust = bool(ctx.params.get("covariate_adjustment"))
    groups, states = _branch_data(ctx, adjust)
    model = fit(groups, adjust)
    records = []
    for b, bv in states.items():
        if model is None or b not in model.means:
            records.append(make_record(ctx.labels, b, point=None, ci_width=opts.ci, n=0,
                                       state=bv.state, reason=bv.reason))
            continue
        records.append(_record(ctx, b, None, model.means[b], model.cov[b, b], model.n[b],
                               model.df, opts, bv.state, bv.reason))
    ref = ctx.reference_branch
    for b in ctx.others:
        state = worse_state(states[b].state, states[ref].state)
        reason = joined_reason(states[b].reason, states[ref].reason)
        if model is None or b not in model.means or ref not in model.means:
            records += [make_record(ctx.labels, b, point=None, comparison=kind,
                                    comparison_to_branch=ref, ci_width=opts.ci, n=0,
                                    state=state, reason=reason)
                        for kind in ("difference", "relative_uplift")]
            continue
        t, r = model.means[b], model.means[ref]
        vt, vr, c = model.cov[b, b], model.cov[ref, ref], model.cov[b, ref]
        n = model.n[b] + model.n[ref]
        records.append(_record(ctx, b, "difference", t - r, vt + vr - 2 * c, n, model.df,
                               opts, state, reason))
        if r == 0:
            records.append(make_record(ctx.labels, b, point=None, comparison="relative_uplift",
                                       comparison_to_branch=ref, ci_width=opts.ci, n=n,
                                       state=ZERO_REFERENCE, reason="the reference mean is 0"))
            continue
        var_rel = vt / r ** 2 + t ** 2 * vr / r ** 4 - 2 * t * c / r ** 3
        records.append(_record(ctx, b, "relative_uplift", t / r - 1, var_rel, n, model.df,
                               opts, state, reason))
    return records


def _record(ctx: Context, branch: str, comparison: str | None, point: float, var: float, n: int,
            df: int, opts: Options, state: str, reason: str = "") -> StatisticRecord:
    lo = hi = p = None
    if df > 0 and math.isfinite(var):
        lo, hi, p = normal_interval(point, math.sqrt(max(var, 0.0)), opts, n, df=df)
    return make_record(ctx.labels, branch, point=point, lower=lo, upper=hi,
                       p_value=p if comparison else None, comparison=comparison,
                       comparison_to_branch=ctx.reference_branch if comparison else None,
                       ci_width=opts.ci, n=n, state=state, reason=reason)
