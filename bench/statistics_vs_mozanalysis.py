"""bootstrap_mean side by side with mozanalysis' Bayesian bootstrap (interval parity + speed).

mozanalysis is never a dependency of this project: run this with a separate virtualenv,
    python3 -m venv /tmp/mozbench && /tmp/mozbench/bin/pip install mozanalysis numpy pandas
    /tmp/mozbench/bin/python bench/statistics_vs_mozanalysis.py [N_PER_BRANCH] [MOZ_SPEED_SAMPLES]
Our package is imported from this repository via sys.path.

Parity: five distributions, 10,000 replicates, no clipping (the clip rules differ by design:
upstream clips each branch at its own quantile, we clip every branch at one pooled threshold;
see the README), binned default and `exact`. An endpoint
"agrees" when |ours - theirs| <= 2 Monte-Carlo standard errors of the difference of two
independent 10,000-replicate quantile estimates, sqrt(2 p (1-p) / B) * sd / phi(z_p), with sd
read off mozanalysis' own 95% interval (normal approximation of the replicate density).
Speed: 1M + 1M lognormal at upstream defaults; mozanalysis is run at fewer replicates and its
time scaled linearly to 10,000 (its cost is one Dirichlet draw over all distinct values per
replicate), which the table says.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mozanalysis.bayesian_stats import bayesian_bootstrap as mabsbb  # noqa: E402

from engine.statistics import compute  # noqa: E402

B = 10000
Z975, PHI975 = 1.959963984540054, 0.05844094433345147   # z_0.975 and the normal pdf there


def _lognormal(rng, n):
    return rng.lognormal(0.0, 1.0, n)


def _zero_inflated(rng, n):
    return rng.lognormal(0.0, 1.0, n) * (rng.random(n) < 0.3)


def _poisson(rng, n):
    return rng.poisson(3.0, n).astype(float)


def _binary(rng, n):
    return (rng.random(n) < 0.3).astype(float)


def _pareto(rng, n):
    return rng.pareto(2.5, n) + 1.0


DISTRIBUTIONS = {"lognormal": _lognormal, "zero-infl. lognormal": _zero_inflated,
                 "Poisson(3)": _poisson, "binary(0.3)": _binary, "Pareto(2.5)": _pareto}


def experiment(draw, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"branch": np.repeat(["control", "treatment"], n),
                         "m": draw(rng, 2 * n)})


def moz_endpoints(df: pd.DataFrame, samples: int = B,
                  threshold_quantile: float | None = None) -> dict[str, tuple[float, float]]:
    res = mabsbb.compare_branches(df, "m", ref_branch_label="control", num_samples=samples,
                                  threshold_quantile=threshold_quantile)
    out = {b: (float(res["individual"][b]["0.025"]), float(res["individual"][b]["0.975"]))
           for b in ("control", "treatment")}
    comp = res["comparative"]["treatment"]
    out["rel. uplift"] = (float(comp[("rel_uplift", "0.025")]),
                          float(comp[("rel_uplift", "0.975")]))
    return out


def our_endpoints(df: pd.DataFrame, **params) -> dict[str, tuple[float, float]]:
    recs = compute("bootstrap_mean", df, "m", "control",
                   {"num_samples": B, "drop_highest": 0, **params}, seed=3)
    out = {}
    for r in recs:
        if r.comparison in (None, "relative_uplift"):
            out["rel. uplift" if r.comparison else r.branch] = (r.lower, r.upper)
    return out


def mc_se(lower: float, upper: float) -> float:
    """Monte-Carlo s.e. of the difference of two independent B-replicate 2.5%/97.5% quantiles."""
    sd = (upper - lower) / (2 * Z975)
    return float(np.sqrt(2 * 0.025 * 0.975 / B) * sd / PHI975)


def parity(n: int) -> tuple[int, int]:
    agree = total = 0
    print(f"Interval endpoints (95%), {n:,} clients per branch, {B:,} replicates, no clip")
    head = (f"{'data':<21} | {'quantity':<11} | {'end':<5} | {'mozanalysis':>11} | "
            f"{'ours binned':>11} | {'ours exact':>11} | {'2 MC s.e.':>9} | agree (binned, exact)")
    print(head)
    print("-" * len(head))
    for i, (name, draw) in enumerate(DISTRIBUTIONS.items()):
        df = experiment(draw, n, seed=100 + i)
        theirs = moz_endpoints(df)
        binned = our_endpoints(df)
        exact = our_endpoints(df, exact=True)
        for quantity, (lo, hi) in theirs.items():
            tol = 2 * mc_se(lo, hi)
            for end, j in (("lower", 0), ("upper", 1)):
                ok_b = abs(binned[quantity][j] - theirs[quantity][j]) <= tol
                ok_e = abs(exact[quantity][j] - theirs[quantity][j]) <= tol
                agree += ok_b + ok_e
                total += 2
                print(f"{name:<21} | {quantity:<11} | {end:<5} | {theirs[quantity][j]:>11.5f} | "
                      f"{binned[quantity][j]:>11.5f} | {exact[quantity][j]:>11.5f} | "
                      f"{tol:>9.5f} | {'yes' if ok_b else 'NO'}, {'yes' if ok_e else 'NO'}")
    print(f"agreement: {agree}/{total} endpoints within 2 MC s.e. "
          f"(about 95% expected by chance alone)\n")
    return agree, total


def speed(n: int, moz_samples: int) -> None:
    df = experiment(_lognormal, n, seed=7)
    compute("bootstrap_mean", df, "m", "control", {"num_samples": 100})  # warm-up
    start = time.perf_counter()
    compute("bootstrap_mean", df, "m", "control")  # upstream defaults: 10,000, 0.5% clip
    ours = time.perf_counter() - start
    start = time.perf_counter()
    moz_endpoints(df, moz_samples, threshold_quantile=0.995)
    moz = (time.perf_counter() - start) * B / moz_samples
    print(f"Speed: bootstrap_mean at defaults ({B:,} replicates, 0.5% clip), "
          f"{n:,} + {n:,} lognormal clients")
    print(f"{'implementation':<40} | {'seconds':>9}")
    print("-" * 53)
    print(f"{'ours (binned, pooled clip)':<40} | {ours:>9.2f}")
    print(f"{f'mozanalysis ({moz_samples} replicates, x{B // moz_samples})':<40} | {moz:>9.1f}")
    print(f"{'ratio':<40} | {moz / ours:>8.0f}x")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else 10_000
    moz_samples = int(argv[1]) if len(argv) > 1 else 500
    parity(n)
    speed(1_000_000, moz_samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
