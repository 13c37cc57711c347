"""linear_model_mean: branch means by OLS, optionally adjusted for a pre-enrollment covariate.

Model: y = alpha_branch + beta * (x - mean(x)) + e, solved in closed form from per-branch
sums: beta is the pooled within-branch slope and alpha_g = ybar_g - beta (xbar_g - xbar).
Without covariate beta = 0 and alpha_g is the branch average.

Errors are heteroskedasticity-robust (HC2 sandwich, (X'X)^-1 X' diag(e_i^2 / (1 - h_ii)) X
(X'X)^-1, on the (branches + 1)-column design), not upstream's homoskedastic OLS error, which
pools one residual variance over branches: with branches of unequal variance and size it
covers the small noisy branch's mean 63 % of the time. Without covariate HC2 is exactly the
per-branch variance s_g^2 / n_g (Welch). With a covariate, each branch's mean also carries
beta^2 Var(x) / N, the randomness of the centring point xbar (the sandwich conditions on the
covariate values; without it a CUPED per-branch interval covers the branch's mean too rarely,
as upstream's does); it cancels from differences. Per-branch intervals use t with n_g - 1
degrees of freedom, comparisons t with Welch-Satterthwaite degrees of freedom.

The covariate is the column f"{metric}__pre". Its nulls and non-finite values are imputed by
its finite mean (the records' reason counts them); a configured covariate whose column is
missing gives state "not_applicable". drop_highest clips y and the covariate, each at its
quantile pooled over the branches, as upstream (clipping.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.statistics.clipping import clip, fraction, pooled_threshold
from engine.statistics.context import BranchValues, Context, branch_values
from engine.statistics.intervals import Options, normal_interval
from engine.statistics.records import (
    NOT_APPLICABLE,
    OK,
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


def _branch_data(ctx: Context, adjust: bool) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]],
                                                      dict[str, BranchValues], str]:
    """Per-branch (y, x) used by the fit, each branch's state (on y, nulls dropped) and a note
    on imputed covariate values."""
    drop = fraction(ctx.params)
    y_all = ctx.column()
    y_all = clip(y_all, pooled_threshold(y_all, drop))
    note = ""
    if adjust:
        x_all = ctx.column(ctx.metric + COVARIATE_SUFFIX)
        finite = np.isfinite(x_all)
        x_fill = float(x_all[finite].mean()) if finite.any() else 0.0
        bad = int(np.count_nonzero(~finite & np.isfinite(y_all)))
        if bad:
            note = (f"{bad} covariate value(s) null or not finite: imputed by the covariate "
                    "mean")
        x_all = clip(np.where(finite, x_all, x_fill), pooled_threshold(x_all, drop))
    else:
        x_all = np.zeros_like(y_all)
    out, states = {}, {}
    for b in ctx.branches:
        rows = ctx.rows(b)
        y, x = y_all[rows], x_all[rows]
        states[b] = branch_values(b, y)
        keep = np.isfinite(y)
        out[b] = (y[keep], x[keep])
    return out, states, note


def fit(groups: dict[str, tuple[np.ndarray, np.ndarray]], adjust: bool) -> Fit | None:
    live = {b: (y, x) for b, (y, x) in groups.items() if len(y)}
    if not live:
        return None
    names = list(live)
    n = np.array([len(y) for y, _ in live.values()], dtype=float)
    xbar = sum(float(x.sum()) for _, x in live.values()) / n.sum()
    z = {b: x - xbar for b, (_, x) in live.items()}
    zbar = np.array([float(z[b].mean()) for b in names])
    szz = sum(float(((z[b] - zbar[i]) ** 2).sum()) for i, b in enumerate(names))
    slope = bool(adjust and szz > 0)
    beta = (sum(float(((z[b] - zbar[i]) * live[b][0]).sum()) for i, b in enumerate(names)) / szz
            if slope else 0.0)
    ybar = np.array([float(y.mean()) for y, _ in live.values()])
    alpha = ybar - beta * zbar
    g = len(names)
    p = g + (1 if slope else 0)
    xtx = np.zeros((p, p))
    xtx[range(g), range(g)] = n
    if slope:
        xtx[:g, g] = xtx[g, :g] = n * zbar
        xtx[g, g] = sum(float((zb ** 2).sum()) for zb in z.values())
    bread = np.linalg.pinv(xtx)
    meat = np.zeros((p, p))
    for i, b in enumerate(names):
        y, zb = live[b][0], z[b]
        resid2 = (y - alpha[i] - beta * zb) ** 2
        lever = bread[i, i] + (2 * bread[i, g] * zb + bread[g, g] * zb ** 2 if slope else 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(lever < 1, resid2 / (1 - lever), resid2)
        meat[i, i] = float(w.sum())
        if slope:
            meat[i, g] = meat[g, i] = float((w * zb).sum())
            meat[g, g] += float((w * zb ** 2).sum())
    sandwich = bread @ meat @ bread
    if slope:  # the centring point xbar is itself estimated: beta (xbar - E x) moves every mean
        sandwich[:g, :g] += beta ** 2 * xtx[g, g] / (n.sum() - 1) / n.sum()
    cov = {(a, c): float(sandwich[i, j]) for i, a in enumerate(names)
           for j, c in enumerate(names)}
    return Fit(dict(zip(names, alpha.tolist())), cov,
               {b: int(k) for b, k in zip(names, n)})


def _welch_df(parts: list[tuple[float, int]]) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of variances (variance, clients)."""
    num = sum(v for v, _ in parts) ** 2
    den = sum(v * v / (k - 1) for v, k in parts if k > 1)
    return num / den if den > 0 else float("nan")


def linear_model_mean(ctx: Context) -> list[StatisticRecord]:
    opts = Options.from_params(ctx.params)
    adjust = bool(ctx.params.get("covariate_adjustment"))
    covariate = ctx.metric + COVARIATE_SUFFIX
    if adjust and covariate not in ctx.data.columns:
        reason = f"covariate_adjustment is set but the frame has no column {covariate!r}"
        return [make_record(ctx.labels, b, point=None, comparison=kind,
                            comparison_to_branch=None if kind is None else ctx.reference_branch,
                            ci_width=opts.ci, n=0, state=NOT_APPLICABLE, reason=reason)
                for b in ctx.branches for kind in (None, "difference", "relative_uplift")
                if kind is None or b != ctx.reference_branch]
    groups, states, note = _branch_data(ctx, adjust)
    model = fit(groups, adjust)
    records = []
    for b, bv in states.items():
        if model is None or b not in model.means:
            records.append(make_record(ctx.labels, b, point=None, ci_width=opts.ci, n=0,
                                       state=bv.state, reason=bv.reason))
            continue
        var = model.cov[b, b]
        records.append(_record(ctx, b, None, model.means[b], var, model.n[b],
                               model.n[b] - 1, opts, bv.state, joined_reason(bv.reason, note)))
    records += _comparisons(ctx, model, states, note, opts)
    return records


def _comparisons(ctx: Context, model: Fit | None, states: dict[str, BranchValues], note: str,
                 opts: Options) -> list[StatisticRecord]:
    ref, records = ctx.reference_branch, []
    for b in ctx.others:
        state = worse_state(states[b].state, states[ref].state)
        reason = joined_reason(states[b].reason, states[ref].reason, note)
        if model is None or b not in model.means or ref not in model.means:
            records += [make_record(ctx.labels, b, point=None, comparison=kind,
                                    comparison_to_branch=ref, ci_width=opts.ci, n=0,
                                    state=state, reason=reason)
                        for kind in ("difference", "relative_uplift")]
            continue
        t, r = model.means[b], model.means[ref]
        vt, vr, c = model.cov[b, b], model.cov[ref, ref], model.cov[b, ref]
        n = model.n[b] + model.n[ref]
        df = _welch_df([(vt, model.n[b]), (vr, model.n[ref])])
        records.append(_record(ctx, b, "difference", t - r, vt + vr - 2 * c, n, df,
                               opts, state, reason))
        if r == 0:
            records.append(make_record(ctx.labels, b, point=None, comparison="relative_uplift",
                                       comparison_to_branch=ref, ci_width=opts.ci, n=n,
                                       state=ZERO_REFERENCE, reason="the reference mean is 0"))
            continue
        var_rel = vt / r ** 2 + t ** 2 * vr / r ** 4 - 2 * t * c / r ** 3
        records.append(_record(ctx, b, "relative_uplift", t / r - 1, var_rel, n, df,
                               opts, state, reason))
    return records


def _record(ctx: Context, branch: str, comparison: str | None, point: float, var: float, n: int,
            df: float, opts: Options, state: str, reason: str = "") -> StatisticRecord:
    lo = hi = p = None
    if df > 0 and math.isfinite(var) and math.isfinite(point):
        lo, hi, p = normal_interval(point, math.sqrt(max(var, 0.0)), opts, n, df=df)
    elif state == OK:  # never "ok" without numbers
        state, reason = NOT_APPLICABLE, joined_reason(reason, "no finite standard error")
    return make_record(ctx.labels, branch, point=point, lower=lo, upper=hi,
                       p_value=p if comparison else None, comparison=comparison,
                       comparison_to_branch=ctx.reference_branch if comparison else None,
                       ci_width=opts.ci, n=n, state=state, reason=reason)
