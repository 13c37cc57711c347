"""Seconds per compute() call of every statistic on a realistic window table.

Frame: N clients x 3 branches with lognormal (+ zero-inflated), Poisson, wide-ranging counts,
binary metrics and a pre-enrollment covariate; every statistic at its declared defaults (as
the pipeline calls it).
Times are process CPU seconds (best of 3), steadier than wall time on a shared machine.
Usage: python -m bench.statistics_per_call [N_PER_BRANCH] [--profile STATISTIC]
"""
from __future__ import annotations

import cProfile
import pstats
import sys
import time

import numpy as np
import pandas as pd

from bench._timing import best_of
from engine.statistics import compute

BRANCHES = ("control", "compact", "expanded")
CALLS: dict[str, tuple[str, dict]] = {
    "bootstrap_mean (lognormal)": ("bootstrap_mean", "hours", {}),
    "bootstrap_mean (Poisson)": ("bootstrap_mean", "searches", {}),
    "bootstrap_mean (zero-infl.)": ("bootstrap_mean", "ads", {}),
    "bootstrap_mean (wide counts)": ("bootstrap_mean", "uris", {}),
    "binomial": ("binomial", "retained", {}),
    "deciles": ("deciles", "hours", {}),
    "kernel_density_estimate": ("kernel_density_estimate", "hours", {}),
    "kde (log_space)": ("kernel_density_estimate", "hours", {"log_space": True}),
    "empirical_cdf": ("empirical_cdf", "searches", {}),
    "linear_model_mean (CUPED)": ("linear_model_mean", "hours",
                                  {"covariate_adjustment": {"period": "preenrollment_week"}}),
    "population_ratio": ("population_ratio", "ads", {"numerator": "ads",
                                                     "denominator": "searches"}),
    "per_client_dau_impact": ("per_client_dau_impact", "days", {}),
    "count": ("count", "hours", {}),
    "sum": ("sum", "hours", {}),
}


def frame(n_per_branch: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_per_branch * len(BRANCHES)
    hours = rng.lognormal(0.5, 1.2, n)
    return pd.DataFrame({
        "branch": np.repeat(BRANCHES, n_per_branch),
        "hours": hours,
        "hours__pre": hours * rng.lognormal(0, 0.5, n),
        "searches": rng.poisson(3.0, n).astype(float),
        "uris": rng.negative_binomial(1, 0.02, n).astype(float),  # ~300 distinct values
        "ads": np.where(rng.random(n) < 0.7, 0.0, rng.lognormal(0, 1, n)),
        "retained": (rng.random(n) < 0.6).astype(float),
        "days": rng.binomial(7, 0.5, n).astype(float),
    })


def call(df: pd.DataFrame, label: str) -> list:
    name, metric, params = CALLS[label]
    return compute(name, df, metric, "control", params, seed=7, analysis_period_days=7)


def seconds(df: pd.DataFrame, label: str, repeats: int = 3) -> float:
    return best_of(lambda: call(df, label), repeats, clock=time.process_time)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    profile = argv[argv.index("--profile") + 1] if "--profile" in argv else None
    sizes = [a for i, a in enumerate(argv) if a[0].isdigit() and argv[i - 1] != "--profile"]
    n = int(sizes[0]) if sizes else 10_000
    df = frame(n)
    if profile:
        call(df, profile)  # warm-up: imports are not the call's cost
        cProfile.runctx("call(df, profile)", globals(), {"df": df, "profile": profile},
                        "/tmp/statistics_per_call.prof")
        pstats.Stats("/tmp/statistics_per_call.prof").sort_stats("cumtime").print_stats(25)
        return 0
    for label in CALLS:
        call(df, label)  # warm-up: imports, first-touch
    print(f"{n:,} clients x {len(BRANCHES)} branches, declared defaults")
    print(f"{'statistic':<28} | {'CPU ms/call':>11} | records")
    print("-" * 52)
    for label in CALLS:
        print(f"{label:<28} | {1000 * seconds(df, label):>11.1f} | {len(call(df, label))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
