"""Simulated experiments: A/A false positives, coverage of planted effects, daily peeking.

For bootstrap_mean, binomial and linear_model_mean (defaults except num_samples=1000, to
keep the bench short): share of A/A runs whose 95% interval of the
relative uplift excludes 0 (goal 4-6%), and share of runs with a planted +10% effect whose
interval covers it (goal 93.5-96.5%). Then daily peeking: an A/A experiment looked at on each
of 14 days; share of runs that ever exclude 0, with fixed and sequential intervals (goal for
sequential <= 5%).
Usage: python -m bench.statistics_simulation [RUNS] [PEEK_RUNS]
"""
from __future__ import annotations

import sys
import time
import zlib

import numpy as np
import pandas as pd

from engine.statistics import compute

N = 5000          # clients per branch
EFFECT = 0.10     # planted relative effect
DAYS, PER_DAY = 14, 150


def _lognormal(rng, n, scale):
    return rng.lognormal(0.0, 1.0, n) * scale


def _binary(rng, n, scale):
    return (rng.random(n) < 0.3 * scale).astype(float)


CASES = {  # statistic -> (draw, params)
    "bootstrap_mean": (_lognormal, {"num_samples": 1000}),
    "binomial": (_binary, {"num_samples": 1000}),
    "linear_model_mean": (_lognormal, {}),
}


def _relative(records):
    return next(r for r in records if r.comparison == "relative_uplift")


def _experiment(rng, draw, effect):
    return pd.DataFrame({"branch": np.repeat(["control", "treatment"], N),
                         "m": np.concatenate([draw(rng, N, 1.0), draw(rng, N, 1.0 + effect)])})


def rates(name: str, runs: int) -> tuple[float, float]:
    draw, params = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    false_pos = covered = 0
    for i in range(runs):
        aa = _relative(compute(name, _experiment(rng, draw, 0.0), "m", "control", params, seed=i))
        false_pos += aa.lower > 0 or aa.upper < 0
        ab = _relative(compute(name, _experiment(rng, draw, EFFECT), "m", "control", params,
                               seed=runs + i))
        covered += ab.lower <= EFFECT <= ab.upper
    return false_pos / runs, covered / runs


def peeking(name: str, runs: int) -> tuple[float, float]:
    draw, params = CASES[name]
    rng = np.random.default_rng(99)
    hits = {False: 0, True: 0}
    for i in range(runs):
        values = draw(rng, 2 * DAYS * PER_DAY, 1.0)
        branch = np.tile(["control", "treatment"], DAYS * PER_DAY)
        seen = {False: False, True: False}
        for day in range(1, DAYS + 1):
            df = pd.DataFrame({"branch": branch[: 2 * day * PER_DAY],
                               "m": values[: 2 * day * PER_DAY]})
            for sequential in (False, True):
                rel = _relative(compute(name, df, "m", "control",
                                        {**params, "sequential": sequential}, seed=i))
                seen[sequential] |= rel.lower > 0 or rel.upper < 0
        for key in hits:
            hits[key] += seen[key]
    return hits[False] / runs, hits[True] / runs


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    runs = int(argv[0]) if argv else 2000
    peek_runs = int(argv[1]) if len(argv) > 1 else 1000
    ok = True
    print(f"{runs} simulated experiments per statistic, {N} clients per branch, "
          f"planted effect +{EFFECT:.0%}")
    print(f"{'statistic':<18} | {'A/A excl. 0':>11} | {'coverage':>8} | {'seconds':>7} | ok")
    print("-" * 60)
    for name in CASES:
        start = time.perf_counter()
        fpr, cov = rates(name, runs)
        passed = 0.04 <= fpr <= 0.06 and 0.935 <= cov <= 0.965
        ok &= passed
        print(f"{name:<18} | {fpr:>11.2%} | {cov:>8.2%} | {time.perf_counter() - start:>7.0f} | "
              f"{'yes' if passed else 'NO'}")
    print(f"\ndaily peeking: {peek_runs} A/A runs, {DAYS} looks, +{PER_DAY} clients/branch/day")
    print(f"{'statistic':<18} | {'fixed: ever excl. 0':>19} | {'sequential':>10} | ok")
    print("-" * 60)
    for name in ("linear_model_mean", "binomial"):
        fixed, seq = peeking(name, peek_runs)
        passed = seq <= 0.05
        ok &= passed
        print(f"{name:<18} | {fixed:>19.2%} | {seq:>10.2%} | {'yes' if passed else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
