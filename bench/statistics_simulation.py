"""Simulated experiments: A/A false positives, coverage of planted effects, daily peeking.

For bootstrap_mean, binomial and linear_model_mean (defaults except num_samples=1000, to
keep the bench short): share of A/A runs whose 95% interval of the
relative uplift excludes 0 (goal 4-6%), and share of runs with a planted +10% effect whose
interval covers it (goal 93.5-96.5%). Then daily peeking: an A/A experiment looked at on each
of 14 days; share of runs that ever exclude 0, with fixed and sequential intervals (goal for
sequential <= 5%).

`--source warehouse` computes the A/A and coverage runs on the summary path the analysis uses:
every simulated experiment of a statistic is one window (a `run` of one DuckDB table), answered
by `engine.run.warehouse_source.WarehouseSource` in the analysis' groups of windows, so the
rows never reach Python (the default `frame` source is the numpy oracle; peeking always uses it).
Usage: python -m bench.statistics_simulation [--source frame|warehouse] [RUNS] [PEEK_RUNS]
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


def _experiments(name: str, runs: int) -> list[pd.DataFrame]:
    """A/A then A/B experiment of each run, in the order the frame source draws them."""
    draw, _ = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return [_experiment(rng, draw, effect) for _ in range(runs) for effect in (0.0, EFFECT)]


def _frame_records(name: str, runs: int) -> list[list]:
    params = CASES[name][1]
    return [compute(name, frame, "m", "control", params, seed=i // 2 + runs * (i % 2))
            for i, frame in enumerate(_experiments(name, runs))]


def _warehouse_records(name: str, runs: int) -> list[list]:
    """The same experiments and seeds, each a window of one table, on the summary path."""
    from sqlglot import exp

    from engine.backends.duckdb import DuckDBBackend
    from engine.run.warehouse_source import WarehouseSource, window_groups
    from engine.statistics.api import merged_params, statistic
    from engine.statistics.context import Context, resolve_branches
    from engine.statistics.drive import drive, tagged
    from engine.statistics.records import Labels
    from engine.statistics.summaries import RowSet

    frames = _experiments(name, runs)
    backend = DuckDBBackend()
    backend.write_table("sims", pd.concat([f.assign(run=i) for i, f in enumerate(frames)]))
    params = merged_params(name, CASES[name][1])
    records: list[list] = []
    for group in window_groups([len(f) for f in frames]):
        relations = {i: exp.select("branch", "m").from_("sims").where(exp.column("run").eq(i))
                     for i in group}
        source = WarehouseSource(backend, relations, rows={i: len(frames[i]) for i in group})
        jobs = [tagged(i, statistic(name, Context(
            metric="m", reference_branch="control",
            labels=Labels("m", name, "all", "enrollments", "1"),
            branches=resolve_branches(["control", "treatment"], "control", None),
            rows=RowSet("all"), params=params, seed=i // 2 + runs * (i % 2)))) for i in group]
        for result in drive(jobs, source.evaluate):
            if isinstance(result, BaseException):
                raise result
            records.append(result)
    backend.close()
    return records


def rates(name: str, runs: int, source: str = "frame") -> tuple[float, float]:
    runs_records = (_warehouse_records if source == "warehouse" else _frame_records)(name, runs)
    false_pos = covered = 0
    for i, records in enumerate(runs_records):
        rel = _relative(records)
        if i % 2 == 0:
            false_pos += rel.lower > 0 or rel.upper < 0
        else:
            covered += rel.lower <= EFFECT <= rel.upper
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
    argv = list(sys.argv[1:] if argv is None else argv)
    source = "frame"
    if argv[:1] == ["--source"]:
        source, argv = argv[1], argv[2:]
    runs = int(argv[0]) if argv else 2000
    peek_runs = int(argv[1]) if len(argv) > 1 else 1000
    ok = True
    print(f"{runs} simulated experiments per statistic, {N} clients per branch, "
          f"planted effect +{EFFECT:.0%}, {source} source")
    print(f"{'statistic':<18} | {'A/A excl. 0':>11} | {'coverage':>8} | {'seconds':>7} | ok")
    print("-" * 60)
    for name in CASES:
        start = time.perf_counter()
        fpr, cov = rates(name, runs, source)
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
