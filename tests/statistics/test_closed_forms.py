"""Statistics against closed forms computed independently (scipy / numpy)."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine.statistics import compute


def _frame(rng, n=400, effect=0.0):
    branch = np.repeat(["control", "treatment", "other"], n)
    pre = rng.normal(10, 3, 3 * n)
    y = 2 + 0.8 * pre + rng.normal(0, 1, 3 * n) + effect * (branch == "treatment")
    return pd.DataFrame({"branch": branch, "y": y, "y__pre": pre,
                         "flag": rng.random(3 * n) < 0.2})


def _by(records, branch, comparison=None, parameter=None):
    [rec] = [r for r in records if r.branch == branch and r.comparison == comparison
             and r.parameter == parameter]
    return rec


@pytest.mark.parametrize("ci", [0.95, 0.8, 0.999])
def test_binomial_matches_beta_quantiles(ci):
    df = _frame(np.random.default_rng(1))
    records = compute("binomial", df, "flag", "control", {"confidence_interval": ci})
    for branch in ("control", "treatment", "other"):
        k = int(df.flag[df.branch == branch].sum())
        n = int((df.branch == branch).sum())
        lo, hi = stats.beta.ppf([(1 - ci) / 2, (1 + ci) / 2], 1 + k, 1 + n - k)
        rec = _by(records, branch)
        assert rec.lower == pytest.approx(lo, rel=1e-12)
        assert rec.upper == pytest.approx(hi, rel=1e-12)
        assert rec.point == pytest.approx((1 + k) / (2 + n))
        assert rec.ci_width == ci


def _numpy_hc2(df, covariate):
    """OLS on the full design matrix with the HC2 sandwich, straight from the textbook."""
    names = ["control", "treatment", "other"]
    x = np.column_stack([(df.branch == b).to_numpy(float) for b in names])
    if covariate:
        x = np.column_stack([x, df.y__pre - df.y__pre.mean()])
    y = df.y.to_numpy()
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    bread = np.linalg.inv(x.T @ x)
    lever = np.einsum("ij,jk,ik->i", x, bread, x)
    cov = bread @ (x.T * (resid ** 2 / (1 - lever))) @ x @ bread
    if covariate:  # + beta^2 Var(x) / N: the centring point is estimated (in every mean)
        cov[:3, :3] += beta[3] ** 2 * df.y__pre.var(ddof=1) / len(df)
    return dict(zip(names, beta)), cov


@pytest.mark.parametrize("covariate", [False, True])
def test_linear_model_mean_matches_numpy_ols_with_hc2_errors(covariate):
    df = _frame(np.random.default_rng(2), effect=0.3)
    params = {"drop_highest": 0}
    if covariate:
        params["covariate_adjustment"] = {"period": "preenrollment_week"}
    records = compute("linear_model_mean", df, "y", "control", params)
    means, cov = _numpy_hc2(df, covariate)
    for i, branch in enumerate(["control", "treatment", "other"]):
        rec = _by(records, branch)
        n = int((df.branch == branch).sum())
        assert rec.point == pytest.approx(means[branch], rel=1e-9)
        assert rec.upper - rec.point == pytest.approx(
            stats.t.ppf(0.975, n - 1) * np.sqrt(cov[i, i]), rel=1e-9)
    diff = _by(records, "treatment", "difference")
    var = cov[1, 1] + cov[0, 0] - 2 * cov[0, 1]
    welch = (cov[0, 0] + cov[1, 1]) ** 2 / (cov[0, 0] ** 2 / 399 + cov[1, 1] ** 2 / 399)
    d = means["treatment"] - means["control"]
    assert diff.point == pytest.approx(d, rel=1e-9)
    assert diff.lower == pytest.approx(d - stats.t.ppf(0.975, welch) * np.sqrt(var), rel=1e-9)
    assert diff.p_value == pytest.approx(2 * stats.t.sf(abs(d) / np.sqrt(var), welch), rel=1e-6)


def test_linear_model_without_covariate_is_welch():
    """HC2 without covariate is each branch's own s^2 / n: scipy's Welch t-test."""
    rng = np.random.default_rng(21)
    df = pd.DataFrame({"branch": np.repeat(["control", "treatment"], [900, 100]),
                       "y": np.concatenate([rng.normal(0, 1, 900), rng.normal(0.2, 4, 100)])})
    diff = _by(compute("linear_model_mean", df, "y", "control", {"drop_highest": 0}),
               "treatment", "difference")
    t, c = df.y[df.branch == "treatment"], df.y[df.branch == "control"]
    assert diff.p_value == pytest.approx(stats.ttest_ind(t, c, equal_var=False).pvalue, rel=1e-9)


def test_covariate_adjustment_narrows_the_interval():
    df = _frame(np.random.default_rng(3), effect=0.3)
    plain = _by(compute("linear_model_mean", df, "y", "control"), "treatment", "difference")
    cuped = _by(compute("linear_model_mean", df, "y", "control",
                        {"covariate_adjustment": {"period": "preenrollment_week"}}),
                "treatment", "difference")
    assert (cuped.upper - cuped.lower) < 0.5 * (plain.upper - plain.lower)


def test_deciles_match_direct_order_statistics():
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"branch": ["control"] * 501 + ["treatment"] * 300,
                       "y": rng.lognormal(size=801)})
    records = compute("deciles", df, "y", "control", {"confidence_interval": 0.9})
    for branch, group in df.groupby("branch"):
        s = np.sort(group.y.to_numpy())
        n = len(s)
        for q in np.arange(1, 10) / 10:
            rec = _by(records, branch, parameter=round(q, 1))
            # rank j (1-based) = smallest j with P(Binom(n, q) < j) >= ...: brute force it
            cdf = stats.binom.cdf(np.arange(n + 1), n, q)
            j = int(np.argmax(cdf >= 0.05))   # 1-based lower rank
            k = int(np.argmax(cdf >= 0.95)) + 1
            assert rec.lower == s[j - 1]
            assert rec.upper == s[min(k, n) - 1]
            assert rec.point == np.quantile(s, q, method="inverted_cdf")
            coverage = stats.binom.cdf(k - 1, n, q) - stats.binom.cdf(j - 1, n, q)
            assert coverage >= 0.9
