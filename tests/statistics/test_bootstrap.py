"""bootstrap_mean and the resampling core: seeding, reuse, exactness of the schemes."""
import numpy as np
import pandas as pd
import pytest

from engine.statistics import compute
from engine.statistics.resample import (
    EXACT_CLIENTS,
    MAX_LEVELS,
    N_BINS,
    branch_rng,
    mean_replicates,
)


def _frame(rng, sizes, draw):
    return pd.DataFrame({"branch": np.repeat(list(sizes), list(sizes.values())),
                         "m": draw(rng, sum(sizes.values()))})


def _lognormal(rng, n):
    return rng.lognormal(0, 1, n)


def test_same_seed_same_numbers_other_seed_other_numbers():
    df = _frame(np.random.default_rng(0), {"control": 3000, "treatment": 3000}, _lognormal)
    a = compute("bootstrap_mean", df, "m", "control", {"num_samples": 500}, seed=7)
    b = compute("bootstrap_mean", df, "m", "control", {"num_samples": 500}, seed=7)
    c = compute("bootstrap_mean", df, "m", "control", {"num_samples": 500}, seed=8)
    assert [r.to_dict() for r in a] == [r.to_dict() for r in b]
    assert [r.lower for r in a] != [r.lower for r in c]


def test_branch_replicates_do_not_depend_on_other_branches():
    """Replicates are per branch (drawn once): adding a branch leaves the others' numbers
    (without clipping: drop_highest's threshold is pooled over the branches by design)."""
    rng = np.random.default_rng(1)
    two = _frame(rng, {"control": 800, "treatment": 800}, _lognormal)
    three = pd.concat([two, pd.DataFrame({"branch": "extra", "m": rng.lognormal(size=800)})])
    params = {"num_samples": 1000, "drop_highest": 0}
    small = {(r.branch, r.comparison): r
             for r in compute("bootstrap_mean", two, "m", "control", params)}
    big = {(r.branch, r.comparison): r
           for r in compute("bootstrap_mean", three, "m", "control", params)}
    for key, rec in small.items():
        assert big[key].lower == rec.lower and big[key].upper == rec.upper
    assert ("extra", "difference") in big


@pytest.mark.parametrize("exact", [False, True])
def test_replicate_moments_match_bayesian_bootstrap(exact):
    """Mean and sd of a Bayesian-bootstrap mean are known: xbar and pop_sd / sqrt(n + 1)."""
    x = np.random.default_rng(2).lognormal(size=MAX_LEVELS * 4)
    reps = mean_replicates(x, 6000, branch_rng(0, "b"), exact=exact)[:, 0]
    expected_sd = x.std() / np.sqrt(len(x) + 1)
    assert reps.mean() == pytest.approx(x.mean(), abs=4 * expected_sd / np.sqrt(6000))
    assert reps.std() == pytest.approx(expected_sd, rel=0.05)


def test_small_branches_are_resampled_exactly():
    x = np.random.default_rng(7).lognormal(size=EXACT_CLIENTS)  # all distinct, > MAX_LEVELS
    exact = mean_replicates(x, 300, branch_rng(0, "s"), exact=True)
    assert np.array_equal(mean_replicates(x, 300, branch_rng(0, "s")), exact)
    larger = np.append(x, 1.0)
    assert not np.array_equal(mean_replicates(larger, 300, branch_rng(0, "s")),
                              mean_replicates(larger, 300, branch_rng(0, "s"), exact=True))


@pytest.mark.parametrize("zeros", [0.7, 0.002])  # one big atom; an atom smaller than a bin
def test_atoms_among_continuous_values_keep_the_exact_moments(zeros):
    rng = np.random.default_rng(9)
    x = np.where(rng.random(40_000) < zeros, 0.0, rng.lognormal(0, 1.5, 40_000))
    x[:300] = x.max()  # a second atom, at the top (as drop_highest's threshold makes one)
    reps = mean_replicates(x, 6000, branch_rng(0, "z"))[:, 0]
    expected_sd = x.std() / np.sqrt(len(x) + 1)
    assert reps.mean() == pytest.approx(x.mean(), abs=4 * expected_sd / np.sqrt(6000))
    assert reps.std() == pytest.approx(expected_sd, rel=0.05)


def test_binned_two_column_replicates_have_the_exact_covariance():
    """The within-bin term drawn as one normal per replicate keeps every moment that the
    per-bin draws had: mean, variances and the covariance of (numerator, denominator)."""
    rng = np.random.default_rng(8)
    den = rng.poisson(5, N_BINS * 40) + 1.0
    num = den * rng.lognormal(0, 1, len(den))
    x = np.column_stack((num, den))
    reps = mean_replicates(x, 8000, branch_rng(0, "c"))
    expected = np.cov(x.T, bias=True) / (len(x) + 1)
    assert np.all(np.abs(reps.mean(axis=0) - x.mean(axis=0))
                  <= 4 * np.sqrt(np.diag(expected) / len(reps)))
    assert np.cov(reps.T) == pytest.approx(expected, rel=0.08)


@pytest.mark.parametrize("draw", [
    lambda rng: rng.poisson(2.0, 50_000),            # few levels, large counts
    lambda rng: rng.negative_binomial(1, 0.02, 3000),  # wide: many levels of 1-3 clients
])
def test_few_distinct_values_use_the_exact_histogram(draw):
    x = draw(np.random.default_rng(3)).astype(float)
    reps = mean_replicates(x, 4000, branch_rng(0, "p"))[:, 0]
    expected_sd = x.std() / np.sqrt(len(x) + 1)
    assert reps.mean() == pytest.approx(x.mean(), abs=4 * expected_sd / np.sqrt(4000))
    assert reps.std() == pytest.approx(expected_sd, rel=0.06)


def test_drop_highest_clips_every_branch_at_the_pooled_quantile():
    rng = np.random.default_rng(12)
    x = rng.lognormal(0, 1, 1000)
    df = pd.DataFrame({"branch": np.repeat(["control", "treatment"], [600, 400]), "m": x})
    df.loc[df.branch == "treatment", "m"] *= 3  # its own 0.9 quantile is far above control's
    threshold = np.quantile(df.m, 0.9)
    recs = compute("bootstrap_mean", df, "m", "control", {"drop_highest": 0.1})
    for branch, group in df.groupby("branch"):
        [rec] = [r for r in recs if r.branch == branch and r.comparison is None]
        assert rec.point == pytest.approx(np.minimum(group.m, threshold).mean())
        assert rec.n == len(group)
        assert rec.lower < rec.point < rec.upper


def test_integer_data_are_clipped_at_an_integer_threshold():
    df = pd.DataFrame({"branch": "control", "m": np.arange(10, dtype=float)})
    [rec] = compute("bootstrap_mean", df, "m", "control", {"drop_highest": 0.15})
    # numpy's 0.85 quantile of 0..9 is 7.65: rounded up to 8, as upstream's linear model does
    assert rec.point == pytest.approx(np.minimum(np.arange(10), 8).mean())


def test_planted_effect_is_found_and_comparisons_share_replicates():
    rng = np.random.default_rng(4)
    df = _frame(rng, {"control": 5000, "treatment": 5000}, _lognormal)
    df.loc[df.branch == "treatment", "m"] *= 1.2
    recs = {(r.branch, r.comparison): r for r in
            compute("bootstrap_mean", df, "m", "control", {"num_samples": 2000})}
    rel = recs["treatment", "relative_uplift"]
    assert rel.lower > 0.05 and rel.upper < 0.35
    assert rel.p_value < 0.01
    assert recs["treatment", "difference"].p_value == rel.p_value  # same draws, same sign


@pytest.mark.parametrize("ci", [0.5, 0.9, 0.99])
def test_any_confidence_level_gives_bounds(ci):
    df = _frame(np.random.default_rng(5), {"control": 500, "treatment": 500}, _lognormal)
    widths = [r.upper - r.lower for r in compute("bootstrap_mean", df, "m", "control",
                                                 {"confidence_interval": ci})]
    assert all(w > 0 for w in widths)


def test_records_are_json_ready():
    df = _frame(np.random.default_rng(6), {"control": 50, "treatment": 50}, _lognormal)
    import json
    for rec in compute("bootstrap_mean", df, "m", "control"):
        d = rec.to_dict()
        json.dumps(d)
        assert {"metric", "statistic", "parameter", "branch", "comparison",
                "comparison_to_branch", "ci_width", "point", "lower", "upper", "segment",
                "analysis_basis", "window_index", "p_value", "n", "state"} <= set(d)
