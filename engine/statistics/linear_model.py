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

The covariate is the source column f"{metric}__pre" (joined once per table, by client). Its nulls and non-finite values are imputed by
its finite mean (the records' reason counts them); a configured covariate whose column is
missing gives state "not_applicable". drop_highest clips y and the covariate, each at its
quantile pooled over the branches, as upstream (clipping.py).

Everything comes from per-branch summaries: counts, sums, centred second moments and the
cross-moment give the fit and the bread; the HC2 meat needs each client's leverage, so with a
covariate it is one more pass (`Residuals`, the fitted parameters as literals); without one
every client of a branch has leverage 1 / n_g and the meat is the branch's second moment.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from engine.statistics.clipping import fraction, pooled_threshold
from engine.statistics.context import (
    COVARIATE_SUFFIX,
    BranchState,
    Context,
    branch_states,
)
from engine.statistics.drive import ask, together
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
from engine.statistics.summaries import (
    DROP_NONFINITE,
    FILL_NONFINITE,
    BranchMoments,
    Column,
    Moments,
    Residuals,
    Statistic,
)


@dataclass(frozen=True)
class Fit:
    means: dict[str, float]
    cov: dict[tuple[str, str], float]
    n: dict[str, int]


def _columns(ctx: Context, adjust: bool) -> Statistic:
    """(y, x, note, moments): y clipped; x imputed by its finite mean and clipped (None
    without covariate); the note counts the imputed values; the moments are the fit's."""
    drop = fraction(ctx.params)
    y = ctx.column()
    if not adjust or ctx.covariate is None:
        y = y.clipped((yield from pooled_threshold(ctx.rows, y, drop)))
        return y, None, "", (yield Moments(ctx.rows, y))
    x = ctx.covariate
    y_threshold, x_threshold, raw = yield from together(
        pooled_threshold(ctx.rows, y, drop), pooled_threshold(ctx.rows, x, drop),
        ask(Moments(ctx.rows, x)))
    y = y.clipped(y_threshold)
    finite = sum(m.n for m in raw.values())
    fill = sum(m.total for m in raw.values()) / finite if finite else 0.0
    x = x.then(FILL_NONFINITE, fill).clipped(x_threshold)
    with_y, with_both, moments = yield (
        Moments(ctx.rows, y), Moments(ctx.rows.with_column(ctx.covariate.then(DROP_NONFINITE)), y),
        Moments(ctx.rows, y, x))
    bad = sum(m.n for m in with_y.values()) - sum(m.n for m in with_both.values())
    note = (f"{bad} covariate value(s) null or not finite: imputed by the covariate mean"
            if bad else "")
    return y, x, note, moments


def fit(ctx: Context, y: Column, x: Column | None,
        moments: Mapping[str, BranchMoments]) -> Statistic:
    live = {b: m for b, m in moments.items() if b in ctx.branches and m.n}
    if not live:
        return None
    names = list(live)
    n = np.array([live[b].n for b in names], dtype=float)
    sum_x = np.array([live[b].total_x for b in names])
    xbar = float(sum_x.sum() / n.sum())
    zbar = sum_x / n - xbar
    szz = float(sum(live[b].m2_x for b in names))
    slope = bool(x is not None and szz > 0)
    beta = float(sum(live[b].cross for b in names)) / szz if slope else 0.0
    ybar = np.array([live[b].mean for b in names])
    alpha = ybar - beta * zbar
    g = len(names)
    p = g + (1 if slope else 0)
    xtx = np.zeros((p, p))
    xtx[range(g), range(g)] = n
    if slope:
        xtx[:g, g] = xtx[g, :g] = n * zbar
        xtx[g, g] = szz + float((n * zbar ** 2).sum())
    bread = np.linalg.pinv(xtx)
    meat = np.zeros((p, p))
    if slope:
        sums = yield Residuals(
            ctx.rows, y, x, xbar, beta, float(bread[g, g]),
            tuple(zip(names, alpha.tolist())),
            tuple((b, float(bread[i, i])) for i, b in enumerate(names)),
            tuple((b, float(bread[i, g])) for i, b in enumerate(names)))
        for i, b in enumerate(names):
            meat[i, i] = sums[b].weights
            meat[i, g] = meat[g, i] = sums[b].weighted_z
            meat[g, g] += sums[b].weighted_zz
    else:  # leverage 1 / n_g for every client of the branch
        for i, b in enumerate(names):
            lever = bread[i, i]
            meat[i, i] = live[b].m2 / (1 - lever) if lever < 1 else live[b].m2
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


def linear_model_mean(ctx: Context) -> Statistic:
    opts = Options.from_params(ctx.params)
    adjust = bool(ctx.params.get("covariate_adjustment"))
    if adjust and ctx.covariate is None:
        reason = ("covariate_adjustment is set but the rows have no column "
                  f"{ctx.metric + COVARIATE_SUFFIX!r}")
        return [make_record(ctx.labels, b, point=None, comparison=kind,
                            comparison_to_branch=None if kind is None else ctx.reference_branch,
                            ci_width=opts.ci, n=0, state=NOT_APPLICABLE, reason=reason)
                for b in ctx.branches for kind in (None, "difference", "relative_uplift")
                if kind is None or b != ctx.reference_branch]
    y, x, note, moments = yield from _columns(ctx, adjust)
    states = branch_states(ctx.branches, moments)
    model = yield from fit(ctx, y, x, moments)
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


def _comparisons(ctx: Context, model: Fit | None, states: dict[str, BranchState], note: str,
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
