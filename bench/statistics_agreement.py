"""Agreement of the summary path with the row-level code it replaced, statistic by statistic.

The OLD code is the row-level implementation at OLD_COMMIT (statistics over a frame of client
rows, run from a temporary `git worktree` of it that is removed afterwards); the NEW code is
this tree's: each statistic is a generator of summary requests, answered by
`engine.statistics.frame_source.FrameSource` (numpy over the frame, through `compute()`) or,
with `--source warehouse`, by `engine.run.warehouse_source.WarehouseSource` over a DuckDB
table the frame is written to. Both run in child processes (the old tree first on sys.path)
on identical frames (pickled once) with identical seeds, parameters at their defaults
(num_samples 10,000, drop_highest 0.005 where declared) unless the row says otherwise.

Distributions (2 branches, n clients each; "treatment" carries a planted effect):
  normal      N(10, 2^2), treatment +0.2; covariate m__pre correlated (rho 0.6)
  lognormal0  30 % zeros, else lognormal(0, 1.5) (heavy tail); treatment x1.1
  poisson     Poisson(3), treatment Poisson(3.3): few distinct values (histogram cells)
  binary      Bernoulli(0.10), treatment 0.12
  nulls       the normal design with 6 % NaN (SQL NULL) in m and 5 % in m__pre
population_ratio is m / days with days = 1 + Poisson(5). n = 500 takes the exact histogram
path of the bootstrap families (n <= resample.EXACT_CLIENTS), n = 20,000 takes the binned one
for continuous data (poisson and binary stay histograms: < MAX_LEVELS distinct values).

Records are matched by (branch, comparison, parameter); a record present on one side only,
a different `state` or `n` is a disagreement. For each record and each of point, lower, upper:
  * relative difference  |new - old| / scale, scale = max(|old point|, old upper - old lower)
    (KDE and ECDF: the largest point of the branch's records, i.e. the peak density, 1 for
    the ECDF, so a difference is measured against the resolution the family states);
  * Monte-Carlo units    |new - old| / u with u = sigma_rep / sqrt(num_samples), where
    sigma_rep = (old upper - old lower) / (2 z_0.975) is the replicate SD read off the old
    95 % interval. A 2.5 % / 97.5 % percentile of N replicates has Monte-Carlo SE
    sqrt(p (1 - p)) / phi(z_p) u = 2.68 u, and the difference of two independent runs
    sqrt(2) x that = 3.79 u; "within 2 Monte-Carlo SE" is therefore |new - old| <= 7.6 u.
  * p_value: |new - old| absolute; the replicate p-value 2 min(B, A)/N has Monte-Carlo SE
    2 sqrt(q (1 - q) / N), q = p / 2, and 2 SE of the difference of two runs is
    2 sqrt(2) x that (added to the verdict with a floor of 4 / N for p near 0).
The Monte-Carlo units apply to replicate-based bounds: bootstrap_mean, population_ratio, and
the comparisons of deciles (bootstrap of the deciles) and binomial (posterior draws); everything
else is held to the relative criterion. With the same seed the two paths should draw the same
replicates from the same cells, so these rows are expected exact too; `--new-seed` gives the
NEW run another seed, a negative control: its replicate-based rows then differ by Monte-Carlo
noise, several u (the largest of a row's 8 or more bounds, each |N(0, 3.79 u)|, often exceeds the
per-bound 2-SE limit; deciles' replicates are data values, so their bounds move in steps of the
gap between order statistics), which shows the comparison sees a difference of that size.
Verdict: "exact" when every relative difference is <= 1e-9 and p-values agree to 1e-9;
"MC ok" when the points are exact and every bound and p-value is within 2 Monte-Carlo SE;
"DIFFERS" otherwise; "same error" when both raise the same exception type.
The table's "worst" column is in Monte-Carlo units u for replicate-based records that are not
exact, else relative.

Usage: python -m bench.statistics_agreement [--source frame|warehouse] [--sizes 500,20000]
       [--distributions normal,...] [--statistics bootstrap_mean,...] [--old-commit SHA]
"""
from __future__ import annotations

import argparse
import json
import math
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from bench._worktree import ROOT, child, old_tree
from engine.statistics.registry import STATISTICS
from engine.statistics.resample import EXACT_CLIENTS, MAX_LEVELS

OLD_COMMIT = "49ca80a"  # main before the statistics became generators over summaries
Z = 1.959963984540054
BOUND_SE = math.sqrt(0.025 * 0.975) / (math.exp(-Z * Z / 2) / math.sqrt(2 * math.pi))  # 2.68
MC_LIMIT = 2 * math.sqrt(2) * BOUND_SE  # 7.6 u
EXACT = 1e-9
# bounds (of comparisons, for binomial and deciles) from replicates or posterior draws
REPLICATED = ("bootstrap_mean", "population_ratio", "deciles", "binomial")
GRIDDED = ("kernel_density_estimate", "empirical_cdf")

# label -> (statistic, metric column, params)
VARIANTS = {
    "bootstrap_mean": ("bootstrap_mean", "m", {}),
    "binomial": ("binomial", "m", {}),
    "deciles": ("deciles", "m", {}),
    "kernel_density_estimate": ("kernel_density_estimate", "m", {}),
    "empirical_cdf": ("empirical_cdf", "m", {}),
    "count": ("count", "m", {}),
    "sum": ("sum", "m", {}),
    "linear_model_mean": ("linear_model_mean", "m", {}),
    "linear_model_mean+cuped": ("linear_model_mean", "m",
                                {"covariate_adjustment": {"period": "preenrollment_week"}}),
    "per_client_dau_impact": ("per_client_dau_impact", "m", {}),
    "population_ratio": ("population_ratio", "ratio", {"numerator": "m", "denominator": "days"}),
}
assert {v[0] for v in VARIANTS.values()} == set(STATISTICS), "a statistic is missing"


def _normal(rng, n, nulls=False):
    pre = rng.standard_normal(2 * n)
    m = 10 + 2 * (0.6 * pre + 0.8 * rng.standard_normal(2 * n))
    m[n:] += 0.2
    pre = 10 + 2 * pre
    if nulls:
        m[rng.random(2 * n) < 0.06] = np.nan
        pre[rng.random(2 * n) < 0.05] = np.nan
    return m, pre


def _frame(distribution: str, n: int) -> pd.DataFrame:
    rng = np.random.default_rng([n, sum(map(ord, distribution))])
    pre = None
    if distribution in ("normal", "nulls"):
        m, pre = _normal(rng, n, distribution == "nulls")
    elif distribution == "lognormal0":
        m = np.where(rng.random(2 * n) < 0.3, 0.0, rng.lognormal(0.0, 1.5, 2 * n))
        m[n:] *= 1.1
    elif distribution == "poisson":
        m = rng.poisson(np.repeat([3.0, 3.3], n)).astype(float)
    else:
        m = (rng.random(2 * n) < np.repeat([0.10, 0.12], n)).astype(float)
    if pre is None:  # a covariate for every design: the metric's own noisy past
        pre = np.asarray(m, dtype=float) * 0.5 + rng.standard_normal(2 * n)
    frame = pd.DataFrame({"branch": np.repeat(["control", "treatment"], n), "m": m,
                          "m__pre": pre, "days": 1.0 + rng.poisson(5, 2 * n)})
    return frame


DISTRIBUTIONS = ("normal", "lognormal0", "poisson", "binary", "nulls")

# Child processes: one per code tree; each prints one JSON line per case.
_FRAME_CHILD = r"""
import json, pickle, sys, traceback
from engine.statistics import compute
cases = json.load(open(sys.argv[1]))
frames = pickle.load(open(sys.argv[2], "rb"))
for case in cases:
    try:
        out = [r.to_dict() for r in compute(case["statistic"], frames[case["frame"]],
               case["metric"], "control", case["params"], seed=case["seed"])]
    except Exception as error:
        out = {"error": type(error).__name__, "message": str(error)[:200]}
    print(json.dumps({"id": case["id"], "records": out}), flush=True)
"""

_WAREHOUSE_CHILD = r"""
import json, pickle, sys
from sqlglot import exp
from engine.backends.duckdb import DuckDBBackend
from engine.run.warehouse_source import WarehouseSource
from engine.statistics.api import merged_params, statistic
from engine.statistics.context import COVARIATE_SUFFIX, Context, resolve_branches
from engine.statistics.drive import run_one
from engine.statistics.records import Labels
from engine.statistics.summaries import Column, RowSet
cases = json.load(open(sys.argv[1]))
frames = pickle.load(open(sys.argv[2], "rb"))
backend = DuckDBBackend(results=sys.argv[3])
sources = {}
for name, frame in frames.items():
    backend.write_table(name, frame)
    sources[name] = WarehouseSource(backend, exp.select("*").from_(exp.to_table(name)))
for case in cases:
    frame, metric = frames[case["frame"]], case["metric"]
    try:
        covariate = metric + COVARIATE_SUFFIX
        ctx = Context(metric=metric, reference_branch="control",
                      labels=Labels(metric, case["statistic"], "all", "enrollments", "1"),
                      branches=resolve_branches(sorted(frame["branch"].unique()), "control", None),
                      rows=RowSet("all"), params=merged_params(case["statistic"], case["params"]),
                      seed=case["seed"],
                      covariate=Column(covariate) if covariate in frame.columns else None)
        out = [r.to_dict() for r in run_one(statistic(case["statistic"], ctx),
                                            sources[case["frame"]].evaluate)]
    except Exception as error:
        out = {"error": type(error).__name__, "message": str(error)[:200]}
    print(json.dumps({"id": case["id"], "records": out}), flush=True)
"""


def _run(code: str, tree: Path, *args: str) -> dict[int, object]:
    return {r["id"]: r["records"] for r in child(code, tree, *args)}


def _key(rec: dict) -> tuple:
    p = rec.get("parameter")
    try:
        p = f"{float(p):.12g}"
    except (TypeError, ValueError):
        pass
    return rec["branch"], rec.get("comparison"), p


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _path(name: str, frame: pd.DataFrame, n: int) -> str:
    if name not in ("bootstrap_mean", "population_ratio"):
        return "-"
    cols = ["m", "days"] if name == "population_ratio" else ["m"]
    distinct = frame.groupby("branch")[cols].apply(
        lambda g: len(g.dropna().drop_duplicates())).max()
    return "histogram" if n <= EXACT_CLIENTS or distinct <= MAX_LEVELS else "binned"


def compare(label: str, old, new) -> dict:
    """Worst differences of one case (see the module docstring for the units)."""
    if isinstance(old, dict) or isinstance(new, dict):
        same = isinstance(old, dict) and isinstance(new, dict) and old["error"] == new["error"]
        what = old if isinstance(old, dict) else new
        return dict(records=0, rel=0.0, mc=0.0, dp=0.0, issues=[], error=(
            f"{'both' if same else ('old' if isinstance(old, dict) else 'new')} raise "
            f"{what['error']}: {what['message'][:60]}"), same_error=same)
    name = VARIANTS[label][0]
    num_samples = 10000
    olds, news = {_key(r): r for r in old}, {_key(r): r for r in new}
    issues = [f"{len(set(olds) ^ set(news))} unmatched"] if set(olds) != set(news) else []
    peak: dict[str, float] = {}
    for r in old:
        peak[r["branch"]] = max(peak.get(r["branch"], 0.0), abs(_num(r["point"]) or 0.0))
    rel = mc = dp = 0.0
    mc_ok = True
    for key in set(olds) & set(news):
        o, w = olds[key], news[key]
        for field in ("state", "n"):
            if o.get(field) != w.get(field):
                issues.append(f"{field} {o.get(field)} vs {w.get(field)} at {key}")
        lo, hi = _num(o.get("lower")), _num(o.get("upper"))
        width = (hi - lo) if lo is not None and hi is not None else 0.0
        scale = peak[o["branch"]] if name in GRIDDED else max(abs(_num(o["point"]) or 0.0), width)
        unit = width / (2 * Z) / math.sqrt(num_samples)
        for field in ("point", "lower", "upper"):
            a, b = _num(o.get(field)), _num(w.get(field))
            if (a is None) != (b is None):
                issues.append(f"{field} null on one side at {key}")
                continue
            if a is None:
                continue
            d = abs(a - b)
            rel = max(rel, d / scale if scale else d)
            if field != "point" and name in REPLICATED and unit:
                mc = max(mc, d / unit)
                mc_ok &= d <= MC_LIMIT * unit
            elif d > EXACT * (scale or 1.0):
                mc_ok = False
        pa, pb = _num(o.get("p_value")), _num(w.get("p_value"))
        if (pa is None) != (pb is None):
            issues.append(f"p_value null on one side at {key}")
        elif pa is not None:
            dp = max(dp, abs(pa - pb))
            q = min(pa, 1.0) / 2
            limit = max(2 * math.sqrt(2) * 2 * math.sqrt(q * (1 - q) / num_samples),
                        4 / num_samples)
            mc_ok &= abs(pa - pb) <= limit if name in REPLICATED else abs(pa - pb) <= EXACT
    return dict(records=len(olds), rel=rel, mc=mc, dp=dp, issues=issues, error=None,
                mc_ok=mc_ok)


def _verdict(c: dict) -> tuple[str, str]:
    if c["error"]:
        return ("same error" if c["same_error"] else "DIFFERS"), c["error"]
    if c["issues"]:
        return "DIFFERS", "; ".join(c["issues"][:3])
    if c["rel"] <= EXACT and c["dp"] <= EXACT:
        return "exact", ""
    return ("MC ok" if c["mc_ok"] else "DIFFERS"), ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("frame", "warehouse"), default="frame")
    parser.add_argument("--sizes", default="500,20000")
    parser.add_argument("--distributions", default=",".join(DISTRIBUTIONS))
    parser.add_argument("--statistics", default=",".join(VARIANTS))
    parser.add_argument("--old-commit", default=OLD_COMMIT)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--new-seed", type=int, default=None,
                        help="seed of the NEW run (default: --seed); another seed is the "
                             "negative control: replicate-based rows then differ by Monte-Carlo "
                             "noise, which shows the comparison can see it")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    frames = {f"{d}_{n}": _frame(d, n) for d in args.distributions.split(",") for n in sizes}
    cases = []
    for frame in frames:
        for label in args.statistics.split(","):
            name, metric, params = VARIANTS[label]
            cases.append(dict(id=len(cases), label=label, frame=frame, statistic=name,
                              metric=metric, params=params, seed=args.seed))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "cases.json").write_text(json.dumps(cases))
        new_seed = args.seed if args.new_seed is None else args.new_seed
        (work / "new_cases.json").write_text(json.dumps([{**c, "seed": new_seed} for c in cases]))
        with open(work / "frames.pkl", "wb") as fh:
            pickle.dump(frames, fh)
        files = (str(work / "cases.json"), str(work / "frames.pkl"))
        with old_tree(args.old_commit, work) as old_code:
            old = _run(_FRAME_CHILD, old_code, *files)
        new_files = (str(work / "new_cases.json"), files[1])
        new = (_run(_FRAME_CHILD, ROOT, *new_files) if args.source == "frame" else
               _run(_WAREHOUSE_CHILD, ROOT, *new_files, str(work / "warehouse.duckdb")))
    print(f"Statistics agreement: NEW ({args.source} source) vs OLD ({args.old_commit}, rows), "
          f"seed {args.seed} (new: {new_seed}); worst = max over records of point/lower/upper "
          f"(units: see the docstring; MC limit {MC_LIMIT:.1f} u)\n")
    print("| statistic | distribution | n | path | records | worst point/bounds diff | unit "
          "| worst abs p diff | verdict | note |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    status = 0
    for case in cases:
        c = compare(case["label"], old[case["id"]], new[case["id"]])
        verdict, note = _verdict(c)
        status |= verdict == "DIFFERS"
        replicated = VARIANTS[case["label"]][0] in REPLICATED and c["rel"] > EXACT
        worst, unit = (c["mc"], "MC u") if replicated else (c["rel"], "relative")
        distribution, n = case["frame"].rsplit("_", 1)
        print(f"| {case['label']} | {distribution} | {n} | "
              f"{_path(case['statistic'], frames[case['frame']], int(n))} | {c['records']} | "
              f"{worst:.2g} | {unit} | {c['dp']:.2g} | {verdict} | {note} |")
    return status


if __name__ == "__main__":
    sys.exit(main())
