"""Calibration of every interval family: A/A misses and planted-effect coverage.

For each design, size and statistic (defaults except num_samples = 1,000, ample for 95 %
percentile intervals), R A/A runs and R runs with a planted effect. Each cell is the share
of runs whose interval misses the truth (A/A; for comparisons the truth is 0, so this is the
false-positive rate, goal 4-6 %) or covers it (planted effect, goal 93.5-96.5 %), with its
binomial standard error. Per-branch records (the reference "ref" and the compared branch
"trt") are cells too. Truths are closed forms; with drop_highest (default 0.005) the
truth is the mean capped at the run's own pooled threshold (clipping.py: intervals are for
the capped mean), so clipped families are checked at what they estimate.

Designs (clients per branch n; "unequal" has branches n, 2n/7, n/7 and compares the smallest):
  heavy    40 % zeros, else Pareto(1.5) from 1 (infinite variance); effect x1.1
  count    negative binomial (2, 0.3): integers with atoms; effect +Bernoulli(0.5)
  binary   5 % conversions; effect 5.5 %
  unequal  normal, sd 1 / 1 / 3, pre-period covariate (rho 0.7 with sd-1 branches); effect +0.1
Deciles cells marked "atom" sit inside an atom of the design, where both deciles equal the
atom's value with probability -> 1: the truth is hit exactly, so a miss rate near 0 and
coverage near 100 % is the right answer, not a defect. q = 0.4 in "heavy" is an atom's edge.

Usage: python -m bench.statistics_calibration [--runs R] [--sizes 500,2000,20000]
       [--designs heavy,count,binary,unequal] [--statistics bootstrap_mean,...]
"""
from __future__ import annotations

import argparse
import sys
import time
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats

from engine.statistics import compute
from engine.statistics.clipping import pooled_threshold
from engine.statistics.drive import run_one
from engine.statistics.frame_source import FrameSource
from engine.statistics.summaries import Column, RowSet

ALPHA_PARETO = 1.5
NB = stats.nbinom(2, 0.3)
QS = (0.1, 0.4, 0.5, 0.9)
SAMPLES = {"num_samples": 1000}
_SUPPORT = np.arange(0, 400)


@dataclass(frozen=True)
class Design:
    """Data of one run and, for each branch, the truth of each statistic."""
    draw: Callable[[np.random.Generator, int, bool], pd.DataFrame]
    capped_mean: Callable[[str, bool, float], float]  # branch, planted, threshold -> E min(Y, c)
    decile: Callable[[str, bool, float], float]
    atoms: tuple[float, ...]  # deciles inside an atom
    statistics: tuple[str, ...]


# --- heavy: 40 % zeros, Pareto(1.5) from 1; the treatment is scaled by 1.1 ------------------

def _heavy_draw(rng, n, planted):
    y = np.where(rng.random(2 * n) < 0.4, 0.0, 1 + rng.pareto(ALPHA_PARETO, 2 * n))
    y[n:] *= 1.1 if planted else 1.0
    return pd.DataFrame({"branch": np.repeat(["ref", "trt"], n), "m": y,
                         "days": 1.0 + rng.poisson(5, 2 * n)})


def _heavy_scale(branch, planted):
    return 1.1 if planted and branch == "trt" else 1.0


def _heavy_capped(branch, planted, c):
    s = _heavy_scale(branch, planted)
    k = c / s
    capped = k if k < 1 else 1 + (1 - k ** (1 - ALPHA_PARETO)) / (ALPHA_PARETO - 1)
    return 0.6 * s * capped


def _heavy_decile(branch, planted, q):
    if q <= 0.4 + 1e-12:
        return 0.0
    return _heavy_scale(branch, planted) * (1 - (q - 0.4) / 0.6) ** (-1 / ALPHA_PARETO)


# --- count: negative binomial; the treatment adds Bernoulli(0.5) -----------------------------

def _count_draw(rng, n, planted):
    y = NB.rvs(size=2 * n, random_state=rng).astype(float)
    if planted:
        y[n:] += rng.random(n) < 0.5
    return pd.DataFrame({"branch": np.repeat(["ref", "trt"], n), "m": y,
                         "days": 1.0 + rng.poisson(5, 2 * n)})


def _count_pmf(branch, planted):
    pmf = NB.pmf(_SUPPORT)
    if planted and branch == "trt":
        pmf = 0.5 * pmf + 0.5 * np.concatenate(([0.0], pmf[:-1]))
    return pmf


def _count_capped(branch, planted, c):
    survival = 1 - np.cumsum(_count_pmf(branch, planted))  # P(Y > j)
    return float(survival[: int(np.ceil(c)) if np.isfinite(c) else None].sum())


def _count_decile(branch, planted, q):
    return float(np.searchsorted(np.cumsum(_count_pmf(branch, planted)), q - 1e-12))


# --- binary: 5 % vs 5.5 % -------------------------------------------------------------------

def _binary_p(branch, planted):
    return 0.055 if planted and branch == "trt" else 0.05


def _binary_draw(rng, n, planted):
    p = np.repeat([0.05, 0.055 if planted else 0.05], n)
    return pd.DataFrame({"branch": np.repeat(["ref", "trt"], n),
                         "m": (rng.random(2 * n) < p).astype(float)})


def _binary_capped(branch, planted, c):
    return _binary_p(branch, planted) * min(c, 1.0)


# --- unequal: three branches n, 2n/7, n/7 with sd 1, 1, 3 and a covariate -------------------

UNEQUAL_SD = {"ref": 1.0, "mid": 1.0, "trt": 3.0}
UNEQUAL_SHARE = {"ref": 1.0, "mid": 2 / 7, "trt": 1 / 7}


def _unequal_mean(branch, planted):
    return 10.0 + (0.1 if planted and branch != "ref" else 0.0)


def _unequal_draw(rng, n, planted):
    sizes = {b: max(2, int(round(n * s))) for b, s in UNEQUAL_SHARE.items()}
    branch = np.repeat(list(sizes), list(sizes.values()))
    pre = rng.standard_normal(len(branch))
    sd = np.array([UNEQUAL_SD[b] for b in branch])
    mean = np.array([_unequal_mean(b, planted) for b in branch])
    y = mean + 0.7 * pre + np.sqrt(sd ** 2 - 0.49) * rng.standard_normal(len(branch))
    return pd.DataFrame({"branch": branch, "m": y, "m__pre": pre})


def _unequal_capped(branch, planted, c):
    mu, sd = _unequal_mean(branch, planted), UNEQUAL_SD[branch]
    if not np.isfinite(c):
        return mu
    d = (c - mu) / sd
    return mu - (sd * stats.norm.pdf(d) - (c - mu) * stats.norm.sf(d))


def _unequal_decile(branch, planted, q):
    return _unequal_mean(branch, planted) + UNEQUAL_SD[branch] * stats.norm.ppf(q)


MEANS = ("bootstrap_mean", "linear_model_mean")
DESIGNS = {
    "heavy": Design(_heavy_draw, _heavy_capped, _heavy_decile, (0.1,),
                    (*MEANS, "population_ratio", "deciles")),
    "count": Design(_count_draw, _count_capped, _count_decile, (0.1, 0.4, 0.5, 0.9),
                    (*MEANS, "per_client_dau_impact", "population_ratio", "deciles")),
    "binary": Design(_binary_draw, _binary_capped, lambda b, p, q: 0.0, (),
                     ("binomial", *MEANS)),
    "unequal": Design(_unequal_draw, _unequal_capped, _unequal_decile, (),
                      (*MEANS, "linear_model_mean+cuped", "deciles")),
}


def _call(name: str, df: pd.DataFrame, seed: int) -> tuple[list, float | None]:
    """Records of one statistic and the clip threshold it used (None: not clipped)."""
    params: dict = {}
    column = "m"
    if name in ("bootstrap_mean", "deciles", "population_ratio"):
        params.update(SAMPLES)
    if name == "linear_model_mean+cuped":
        name, params = "linear_model_mean", {"covariate_adjustment": {"period": "preenrollment_week"}}
    if name == "population_ratio":
        params.update(numerator="m", denominator="days")
        column = "ratio"
    drop = 0.0 if name in ("per_client_dau_impact", "binomial", "deciles") else 0.005
    threshold = (run_one(pooled_threshold(RowSet("all"), Column("m"), drop),
                         FrameSource(df).evaluate) if drop else None)
    return compute(name, df, column, "ref", params, seed=seed), threshold


def _truths(design: Design, name: str, planted: bool, threshold: float | None,
            df: pd.DataFrame) -> dict[tuple, float]:
    """(branch, comparison, parameter) -> truth for the compared branch "trt"."""
    out = {}
    if name == "deciles":
        for q in QS:
            t, r = design.decile("trt", planted, q), design.decile("ref", planted, q)
            out["ref", None, q], out["trt", None, q] = r, t
            out["trt", "difference", q] = t - r
            if r != 0:
                out["trt", "relative_uplift", q] = t / r - 1
        return out
    c = np.inf if threshold is None else threshold
    if name == "binomial":
        t, r = _binary_p("trt", planted), _binary_p("ref", planted)
    else:
        t, r = design.capped_mean("trt", planted, c), design.capped_mean("ref", planted, c)
    scale = 6.0 if name == "population_ratio" else 1.0  # E[days] = 1 + 5
    if name != "per_client_dau_impact":
        out["ref", None, None], out["trt", None, None] = r / scale, t / scale
    out["trt", "difference", None] = (t - r) / scale * (len(df) if name.startswith("per_") else 1)
    out["trt", "relative_uplift", None] = t / r - 1
    return out


@dataclass
class Cell:
    hits: int = 0
    runs: int = 0

    def add(self, hit: bool) -> None:
        self.hits += int(hit)
        self.runs += 1

    def text(self) -> str:
        if not self.runs:
            return f"{'-':>16}"
        p = self.hits / self.runs
        return f"{p:>7.1%} ± {np.sqrt(p * (1 - p) / self.runs):>5.1%} "


def simulate(design_name: str, n: int, runs: int,
             only: tuple[str, ...] = ()) -> dict[tuple, tuple[Cell, Cell]]:
    design = DESIGNS[design_name]
    names = [s for s in design.statistics if not only or s in only]
    cells: dict[tuple, tuple[Cell, Cell]] = {}
    for planted in (False, True):
        rng = np.random.default_rng([n, int(planted), zlib.crc32(design_name.encode())])
        for run in range(runs):
            df = design.draw(rng, n, planted)
            for name in names:
                records, threshold = _call(name, df, run)
                truths = _truths(design, name, planted, threshold, df)
                for rec in records:
                    key = (rec.branch, rec.comparison, rec.parameter)
                    if key not in truths or rec.lower is None or rec.upper is None:
                        continue
                    pair = cells.setdefault((name, *key), (Cell(), Cell()))
                    inside = rec.lower <= truths[key] <= rec.upper
                    pair[int(planted)].add(inside if planted else not inside)
    return cells


def _ok(cell: tuple[Cell, Cell], atom: bool) -> str:
    if atom:
        return "atom"
    verdicts = []
    for c, (lo, hi) in zip(cell, ((0.04, 0.06), (0.935, 0.965))):
        if not c.runs:
            continue
        p = c.hits / c.runs
        se = np.sqrt(p * (1 - p) / c.runs)
        verdicts.append(lo - 2 * se <= p <= hi + 2 * se)
    return "yes" if all(verdicts) else "NO"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--sizes", default="500,2000,20000")
    parser.add_argument("--designs", default=",".join(DESIGNS))
    parser.add_argument("--statistics", default="", help="only these (comma-separated)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    print(f"{args.runs} A/A + {args.runs} planted-effect runs per cell; cells: share ± binomial SE")
    header = (f"{'design':<8} {'n':>6} {'statistic':<24} {'record':<22} "
              f"{'A/A miss':>16} {'planted cover':>16}  ok")
    status = 0
    for design_name in args.designs.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            start = time.perf_counter()
            cells = simulate(design_name, n, args.runs,
                             tuple(filter(None, args.statistics.split(","))))
            print(f"\n{header}\n{'-' * len(header)}")
            for (name, branch, comparison, q), pair in sorted(
                    cells.items(), key=lambda kv: tuple(str(k) for k in kv[0])):
                atom = name == "deciles" and q in DESIGNS[design_name].atoms
                verdict = _ok(pair, atom)
                status |= verdict == "NO"
                record = f"{branch} {comparison or 'branch'}" + (f" q={q}" if q else "")
                print(f"{design_name:<8} {n:>6} {name:<24} {record:<22} {pair[0].text()}"
                      f"{pair[1].text()}  {verdict}")
            print(f"({design_name}, n = {n}: {time.perf_counter() - start:.0f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())
