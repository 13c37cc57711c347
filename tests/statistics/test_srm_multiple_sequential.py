"""SRM test, multiple-testing adjustment and the sequential boundary."""
import numpy as np
import pytest
from scipy import stats

from engine.statistics import sequential
from engine.statistics.multiple import adjust
from engine.statistics.records import StatisticRecord
from engine.statistics.srm import srm_test


def test_srm_matches_scipy_chisquare():
    counts = {"control": 5100, "treatment": 4900, "other": 10100}
    ratios = {"control": 1, "treatment": 1, "other": 2}
    res = srm_test(counts, ratios)
    ref = stats.chisquare([5100, 4900, 10100], [5025, 5025, 10050])
    assert res.chi2 == pytest.approx(ref.statistic)
    assert res.p_value == pytest.approx(ref.pvalue)
    assert res.df == 2 and not res.mismatch
    assert res.expected["other"] == pytest.approx(10050)


def test_srm_flags_mismatch_missing_and_stray_branches():
    assert srm_test({"a": 5300, "b": 4700}, {"a": 0.5, "b": 0.5}).mismatch
    missing = srm_test({"a": 1000}, {"a": 0.5, "b": 0.5})
    assert missing.mismatch and missing.observed["b"] == 0
    stray = srm_test({"a": 500, "b": 500, "c": 3}, {"a": 0.5, "b": 0.5})
    assert stray.mismatch and "c" in stray.reason
    empty = srm_test({}, {"a": 0.5, "b": 0.5})
    assert not empty.mismatch and empty.p_value == 1.0


def _rec(metric, p, branch="treatment"):
    return StatisticRecord(metric, "bootstrap_mean", None, branch, "difference", "control",
                           0.95, 0.0, -1.0, 1.0, "all", "enrollments", "1", p_value=p)


def test_holm_and_bh_against_hand_computed_values():
    ps = [0.01, 0.04, 0.03, 0.005]
    records = [_rec(f"m{i}", p) for i, p in enumerate(ps)]
    records.append(_rec("m0", 0.5, branch="other"))  # another family: left alone
    records.append(StatisticRecord("m9", "count", None, "treatment", None, None, None, 3.0,
                                   None, None, "all", "enrollments", "1"))
    holm = adjust(records, "holm")
    assert [r.p_value_holm for r in holm[:4]] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm[4].p_value_holm == pytest.approx(0.5)
    assert holm[5].p_value_holm is None
    bh = adjust(records, "bh")
    assert [r.p_value_bh for r in bh[:4]] == pytest.approx([0.02, 0.04, 0.04, 0.02])
    with pytest.raises(ValueError):
        adjust(records, "bonferroni")


def test_sequential_p_value_and_interval_agree():
    se, n, alpha, tuning = 0.1, 5000, 0.05, 10000
    hw = sequential.half_width(se, n, alpha, tuning)
    assert hw > stats.norm.ppf(0.975) * se  # wider than the fixed-horizon interval
    assert sequential.p_value(hw * 0.999, se, n, alpha, tuning) > alpha
    assert sequential.p_value(hw * 1.001, se, n, alpha, tuning) < alpha


def test_sequential_boundary_crossing_probability_by_simulation():
    """A random walk of z-statistics crosses the boundary over 50 looks in <= 5% of paths."""
    rng = np.random.default_rng(0)
    paths, looks, step = 2000, 50, 200
    sums = np.cumsum(rng.normal(size=(paths, looks)) * np.sqrt(step), axis=1)
    n = step * np.arange(1, looks + 1)
    se = np.sqrt(n)
    crossed = np.zeros(paths, dtype=bool)
    for j in range(looks):
        crossed |= np.abs(sums[:, j]) > sequential.half_width(se[j], int(n[j]), 0.05, 2000)
    assert crossed.mean() <= 0.05
