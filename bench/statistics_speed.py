"""bootstrap_mean speed and memory on 1M + 1M lognormal clients at upstream defaults.

Goals: 10,000 replicates with the 0.5% clip in <= 2 s, peak memory <= input + 64 MB
(tracemalloc, which sees numpy's buffers); 1,000 replicates in <= 0.3 s.
Usage: python -m bench.statistics_speed [N_PER_BRANCH]
"""
from __future__ import annotations

import sys
import tracemalloc

import numpy as np
import pandas as pd

from bench._timing import best_of
from engine.statistics import compute

GOALS = {10000: 2.0, 1000: 0.3}
MEMORY_GOAL_MB = 64


def frame(n_per_branch: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"branch": np.repeat(["control", "treatment"], n_per_branch),
                         "m": rng.lognormal(0.0, 1.0, 2 * n_per_branch)})


def run(df: pd.DataFrame, num_samples: int, **params) -> list:
    return compute("bootstrap_mean", df, "m", "control",
                   {"num_samples": num_samples, "drop_highest": 0.005, **params}, seed=1)


def timed(df: pd.DataFrame, num_samples: int, repeats: int = 3) -> float:
    return best_of(lambda: run(df, num_samples), repeats)


def peak_mb(df: pd.DataFrame, num_samples: int) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    run(df, num_samples)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2 ** 20


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else 1_000_000
    df = frame(n)
    input_mb = df.memory_usage(deep=True).sum() / 2 ** 20
    run(df, 100)  # warm-up (imports, first-touch)
    print(f"bootstrap_mean, {n:,} + {n:,} lognormal clients, drop_highest 0.005; "
          f"input {input_mb:.0f} MB (metric column {2 * n * 8 / 2 ** 20:.0f} MB)")
    print(f"{'replicates':>10} | {'seconds':>8} | {'goal s':>6} | {'peak MB over input':>18} "
          f"| {'goal MB':>7} | ok")
    print("-" * 70)
    ok = True
    for samples, goal in GOALS.items():
        seconds = timed(df, samples)
        peak = peak_mb(df, samples)
        passed = seconds <= goal and peak <= MEMORY_GOAL_MB
        ok &= passed
        print(f"{samples:>10} | {seconds:>8.3f} | {goal:>6.1f} | {peak:>18.1f} | "
              f"{MEMORY_GOAL_MB:>7} | {'yes' if passed else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
