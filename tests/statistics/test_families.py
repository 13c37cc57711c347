"""The other families: density, ECDF, counts, population ratio, DAU impact, pooled clipping."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine.statistics import compute


def _frame(rng, n=2000):
    df = pd.DataFrame({"branch": np.repeat(["control", "treatment"], n),
                       "m": rng.lognormal(0, 1, 2 * n), "d": rng.poisson(4, 2 * n) + 1.0})
    df.loc[::7, "m"] = np.nan
    return df


def _one(records, branch, comparison=None):
    [rec] = [r for r in records if r.branch == branch and r.comparison == comparison]
    return rec


def test_count_and_sum():
    df = _frame(np.random.default_rng(0))
    counts = compute("count", df, "m", "control")
    sums = compute("sum", df, "m", "control")
    for branch, group in df.groupby("branch"):
        assert _one(counts, branch).point == len(group)  # null values are still clients
        assert _one(sums, branch).point == pytest.approx(group.m.sum())


def test_kde_matches_scipy_with_the_same_bandwidth():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"branch": "control", "m": rng.normal(3, 2, 5000)})
    records = compute("kernel_density_estimate", df, "m", "control", {"grid_size": 64})
    x = df.m.to_numpy()
    iqr = np.subtract(*np.quantile(x, [0.75, 0.25])) / 1.349
    h = 1.059 * min(x.std(ddof=1), iqr) * len(x) ** -0.2
    reference = stats.gaussian_kde(x, bw_method=h / x.std(ddof=1))
    grid = np.array([r.parameter for r in records])
    ours = np.array([r.point for r in records])
    assert np.max(np.abs(ours - reference(grid))) < 0.002
    assert np.trapezoid(ours, grid) == pytest.approx(1.0, abs=0.02)


def test_empirical_cdf_is_exact_and_log_space_uses_positive_grid():
    df = _frame(np.random.default_rng(2))
    records = compute("empirical_cdf", df, "m", "control", {"grid_size": 50})
    control = df.m[(df.branch == "control") & df.m.notna()].to_numpy()
    for rec in (r for r in records if r.branch == "control"):
        assert rec.point == pytest.approx(np.mean(control <= rec.parameter))
    logged = compute("empirical_cdf", df, "m", "control", {"log_space": True, "grid_size": 50})
    xs = [r.parameter for r in logged if r.branch == "control"]
    assert min(xs) > 0 and np.allclose(np.diff(np.log(xs)), np.diff(np.log(xs))[0])


def test_population_ratio_point_and_spread():
    df = _frame(np.random.default_rng(3)).dropna()
    records = compute("population_ratio", df, "ratio", "control",
                      {"numerator": "m", "denominator": "d", "drop_highest": 0,
                       "num_samples": 4000})
    control = df[df.branch == "control"]
    rec = _one(records, "control")
    ratio = control.m.sum() / control.d.sum()
    assert rec.point == pytest.approx(ratio)
    # delta-method standard error of a ratio of means
    n = len(control)
    resid = control.m - ratio * control.d
    se = np.sqrt((resid ** 2).mean() / n) / control.d.mean()
    assert (rec.upper - rec.lower) / (2 * 1.96) == pytest.approx(se, rel=0.1)


def test_dau_impact_scales_the_difference_by_enrolled_clients_as_upstream():
    df = _frame(np.random.default_rng(4))
    df.loc[::11, "d"] = np.nan  # null values are still enrolled clients
    records = compute("per_client_dau_impact", df, "d", "control", analysis_period_days=7)
    means = df.groupby("branch").d.mean()
    diff = _one(records, "treatment", "difference")
    assert diff.point == pytest.approx((means["treatment"] - means["control"]) * len(df))
    plain = _one(compute("linear_model_mean", df, "d", "control", {"drop_highest": 0}),
                 "treatment", "difference")
    assert diff.lower == pytest.approx(plain.lower * len(df))
    rel = _one(records, "treatment", "relative_uplift")
    assert rel.point == pytest.approx(means["treatment"] / means["control"] - 1)
    assert all(r.comparison is not None for r in records)  # no per-branch records


def test_pooled_threshold_cancels_in_the_a_a_difference():
    """Same data in both branches: one pooled threshold gives a difference of exactly 0,
    whatever the tail; per-branch thresholds would not."""
    rng = np.random.default_rng(5)
    x = rng.pareto(1.5, 3000)
    df = pd.DataFrame({"branch": np.repeat(["control", "treatment"], 3000),
                       "m": np.concatenate([x, x])})
    for name in ("bootstrap_mean", "linear_model_mean"):
        diff = _one(compute(name, df, "m", "control", {"num_samples": 200}
                            if name == "bootstrap_mean" else {}), "treatment", "difference")
        assert diff.point == 0.0


def test_sequential_option_is_wider_and_consistent_with_its_p_value():
    df = _frame(np.random.default_rng(6)).dropna()
    df.loc[df.branch == "treatment", "m"] *= 1.15
    for name in ("bootstrap_mean", "binomial", "linear_model_mean"):
        params = {"num_samples": 2000} if name != "linear_model_mean" else {}
        fixed = _one(compute(name, df, "m", "control", params), "treatment", "difference")
        seq = _one(compute(name, df, "m", "control", {**params, "sequential": True}),
                   "treatment", "difference")
        assert seq.upper - seq.lower > fixed.upper - fixed.lower
        assert (seq.p_value < 0.05) == (seq.lower > 0 or seq.upper < 0)
