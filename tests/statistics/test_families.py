"""The other families: density, ECDF, counts, population ratio, DAU impact, clip variance."""
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


def test_dau_impact_is_the_mean_per_day():
    df = _frame(np.random.default_rng(4)).dropna()
    records = compute("per_client_dau_impact", df, "d", "control", {"drop_highest": 0},
                      analysis_period_days=7)
    means = df.groupby("branch").d.mean() / 7
    assert _one(records, "control").point == pytest.approx(means["control"])
    assert _one(records, "treatment", "difference").point == pytest.approx(
        means["treatment"] - means["control"])


def test_clip_influence_widens_only_where_the_threshold_moves():
    rng = np.random.default_rng(5)
    cont = pd.DataFrame({"branch": "control", "m": rng.lognormal(0, 1, 20000)})
    binary = pd.DataFrame({"branch": "control", "m": (rng.random(20000) < 0.3).astype(float)})
    for df, wider in ((cont, True), (binary, False)):
        fixed = _one(compute("bootstrap_mean", df, "m", "control",
                             {"clip_influence": False, "num_samples": 3000}), "control")
        moving = _one(compute("bootstrap_mean", df, "m", "control",
                              {"clip_influence": True, "num_samples": 3000}), "control")
        assert moving.point == pytest.approx(fixed.point)
        ratio = (moving.upper - moving.lower) / (fixed.upper - fixed.lower)
        assert (ratio > 1.04) if wider else ratio == pytest.approx(1.0, abs=0.05)


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


def test_clip_influence_matches_the_sampling_spread_of_the_clipped_mean():
    from engine.statistics.bootstrap import clip_highest
    rng = np.random.default_rng(8)
    n, runs = 3000, 500
    means, fixed_se, influence_se = [], [], []
    for _ in range(runs):
        x = rng.lognormal(0, 1, n)
        means.append(clip_highest(x, 0.005).mean())
        fixed_se.append(clip_highest(x, 0.005).std() / np.sqrt(n))
        influence_se.append(clip_highest(x, 0.005, influence=True).std() / np.sqrt(n))
    spread = np.std(means)
    assert np.mean(influence_se) / spread == pytest.approx(1.0, abs=0.08)
    assert np.mean(fixed_se) / spread < np.mean(influence_se) / spread
