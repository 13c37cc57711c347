"""Reduced simulations (the full ones are in bench/statistics_simulation.py).

Bounds are deliberately tolerant: with R runs the false-positive count is Binomial(R, 0.05),
so the bounds sit about 3 standard deviations from 5%.
"""
import numpy as np
import pandas as pd

from engine.statistics import compute

RUNS = 150
N = 150


def _aa_frame(rng, draw):
    return pd.DataFrame({"branch": np.repeat(["control", "treatment"], N), "m": draw(rng, 2 * N)})


def _excludes_zero(records):
    [rel] = [r for r in records if r.comparison == "relative_uplift"]
    return rel.lower > 0 or rel.upper < 0


def _false_positive_rate(name, draw, params):
    rng = np.random.default_rng(2024)
    hits = sum(_excludes_zero(compute(name, _aa_frame(rng, draw), "m", "control", params, seed=i))
               for i in range(RUNS))
    return hits / RUNS


def test_aa_false_positive_rates_are_near_five_percent():
    lognormal = lambda rng, n: rng.lognormal(0, 1, n)  # noqa: E731
    binary = lambda rng, n: (rng.random(n) < 0.3).astype(float)  # noqa: E731
    rates = {
        "bootstrap_mean": _false_positive_rate("bootstrap_mean", lognormal,
                                               {"num_samples": 400, "drop_highest": 0}),
        "binomial": _false_positive_rate("binomial", binary, {"num_samples": 400}),
        "linear_model_mean": _false_positive_rate("linear_model_mean", lognormal,
                                                  {"drop_highest": 0}),
    }
    for name, rate in rates.items():
        assert 0.01 <= rate <= 0.11, (name, rate)


def test_planted_effect_coverage():
    rng = np.random.default_rng(7)
    covered = 0
    for i in range(RUNS):
        df = pd.DataFrame({"branch": np.repeat(["control", "treatment"], N),
                           "m": rng.normal(10, 2, 2 * N)})
        df.loc[df.branch == "treatment", "m"] += 1.0
        [diff] = [r for r in compute("bootstrap_mean", df, "m", "control",
                                     {"num_samples": 400, "drop_highest": 0}, seed=i)
                  if r.comparison == "difference"]
        covered += diff.lower <= 1.0 <= diff.upper
    assert 0.89 <= covered / RUNS <= 0.99


def test_sequential_interval_survives_daily_peeking():
    """Look every 'day' at the growing data; any exclusion of 0 counts as a false positive."""
    rng = np.random.default_rng(11)
    runs, days, per_day = 60, 7, 30
    fixed_hits = sequential_hits = 0
    for i in range(runs):
        values = rng.normal(0, 1, 2 * days * per_day)
        branch = np.tile(["control", "treatment"], days * per_day)
        seen_fixed = seen_seq = False
        for day in range(1, days + 1):
            df = pd.DataFrame({"branch": branch[: 2 * day * per_day],
                               "m": values[: 2 * day * per_day] + 5})
            for sequential in (False, True):
                [diff] = [r for r in compute("linear_model_mean", df, "m", "control",
                                             {"drop_highest": 0, "sequential": sequential,
                                              "sequential_tuning": 400})
                          if r.comparison == "difference"]
                hit = diff.lower > 0 or diff.upper < 0
                if sequential:
                    seen_seq |= hit
                else:
                    seen_fixed |= hit
        fixed_hits += seen_fixed
        sequential_hits += seen_seq
    assert sequential_hits / runs <= 0.07
    assert sequential_hits <= fixed_hits
