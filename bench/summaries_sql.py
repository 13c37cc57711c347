"""One batch of summaries computed in DuckDB (engine.sql.summaries) vs in numpy (FrameSource).

A per-client table of N clients (two branches, ten metrics of four shapes, two segments) is
generated with numpy and written with `backend.write_table` to a DuckDB file; then one batch
of requests - Moments of every metric in each of three segments, and the resampling cells of
every metric - is answered by `WarehouseSource` (at most one query per kind: here two) and by
the numpy oracle on the same rows. Times are the best of three; the summary rows are what
crosses from the warehouse to Python.
Usage: python -m bench.summaries_sql [N ...] (default: 1000000)
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlglot import exp

from bench._timing import best_of
from engine.backends.duckdb import DuckDBBackend
from engine.run.warehouse_source import WarehouseSource
from engine.sql.summaries import summary_queries
from engine.statistics.frame_source import FrameSource
from engine.statistics.summaries import DROP_NONFINITE, Column, Moments, ResampleCells, RowSet

METRICS = 10


def frame(clients: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {"branch": rng.choice(["control", "treatment"], clients)}
    for i in range(METRICS):
        shape = i % 4
        if shape == 0:
            values = rng.normal(10.0, 3.0, clients)               # continuous: bins
        elif shape == 1:
            values = np.where(rng.random(clients) < 0.4, 0.0,      # atoms + bins
                              np.round(rng.lognormal(1.0, 1.2, clients), 2))
        elif shape == 2:
            values = rng.poisson(2.0, clients).astype(float)       # few levels: histogram
        else:
            values = (rng.random(clients) < 0.3).astype(float)     # binary
        columns[f"m{i}"] = values
    columns["seg1"] = rng.random(clients) < 0.5
    columns["seg2"] = rng.random(clients) < 0.1
    return pd.DataFrame(columns)


def requests() -> tuple[list, list]:
    metrics = [Column(f"m{i}", ()).then(DROP_NONFINITE) for i in range(METRICS)]
    moments = [Moments(RowSet(s).with_column(c), c) for c in metrics
               for s in ("all", "seg1", "seg2")]
    cells = [ResampleCells(RowSet("all").with_column(c), (c,)) for c in metrics]
    return moments, cells


def run(clients: int, workdir: Path) -> dict:
    rows = frame(clients)
    backend = DuckDBBackend(results=workdir / f"results_{clients}.duckdb")
    start = time.perf_counter()
    backend.write_table("per_client", rows)
    write_s = time.perf_counter() - start
    relation = exp.select("*").from_("per_client")
    warehouse, oracle = WarehouseSource(backend, relation), FrameSource(rows)
    moments, cells = requests()
    batch = moments + cells
    summary_rows = sum(len(backend.query(q.tree)) for q in summary_queries(relation, batch))
    result = {
        "clients": clients, "write_s": write_s,
        "queries": len(summary_queries(relation, batch)), "summary_rows": summary_rows,
        "moments_s": best_of(lambda: warehouse.evaluate(moments)),
        "cells_s": best_of(lambda: warehouse.evaluate(cells)),
        "batch_s": best_of(lambda: warehouse.evaluate(batch)),
        "numpy_batch_s": best_of(lambda: oracle.evaluate(batch), repeats=1),
    }
    backend.close()
    return result


def main(argv: list[str] | None = None) -> int:
    sizes = [int(a) for a in (argv if argv is not None else sys.argv[1:])] or [1_000_000]
    moments, cells = requests()
    print(f"one batch: {len(moments)} Moments ({METRICS} metrics x 3 segments) + "
          f"{len(cells)} ResampleCells, best of 3 (numpy: one run)")
    header = ("clients", "write_s", "queries", "summary_rows", "moments_s", "cells_s",
              "batch_s", "numpy_batch_s")
    print(" | ".join(f"{h:>13}" for h in header))
    with tempfile.TemporaryDirectory() as tmp:
        for clients in sizes:
            r = run(clients, Path(tmp))
            print(" | ".join(f"{r[h]:>13.2f}" if isinstance(r[h], float) else f"{r[h]:>13}"
                             for h in header))
    return 0


if __name__ == "__main__":
    sys.exit(main())
