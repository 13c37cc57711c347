"""BigQuery bytes of the statistics step per experiment-day: reading rows vs warehouse summaries.

The emulator answers every dry run with 0 bytes, so this bench models BigQuery's on-demand
billing over the real queries instead: a query is billed for every column it references of
each table it reads, over the rows it reads (BigQuery reads only referenced columns, through
subqueries too). Column widths are BigQuery's: 8 bytes for INT64, FLOAT64, DATE and
TIMESTAMP, 1 for BOOL, 2 + the UTF-8 length for STRING; NULLs are counted at full width (an
upper bound). Two estimates of the summaries' bytes:
  * pruned: over the rows of the window each query filters on (`client_windows_<slug>` is
    clustered by period and window_index, so BigQuery reads that window's blocks);
  * dry-run: over the whole table (a dry run's estimate ignores clustering: the upper bound
    a `--maximum-bytes-billed` cap is checked against).
"Rows read" is the old path: every window's rows read once, every column (main before issue
10 read each window table once, pre-enrollment ones doubling as the covariates).

One run per demo experiment on the demo's date, on DuckDB, recording every query of the
statistics step. Usage: python -m bench.statistics_bytes [--clients N]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
from sqlglot import exp

from engine.backends.duckdb import DuckDBBackend
from engine.config.resolve.platforms import resolve_experiment
from engine.experimenter import parse_registry
from engine.plan.analysis_plan import client_windows_table
from engine.results.export import DirectorySink
from engine.run.experiment import analyse_experiment
from engine.synthetic.world import generate

ROOT = Path(__file__).resolve().parents[1]


class Recording(DuckDBBackend):
    """The DuckDB backend, keeping every tree `query` is given."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trees: list[exp.Query] = []

    def query(self, query):
        if isinstance(query, exp.Expression):
            self.trees.append(query)
        return super().query(query)


def _widths(backend: DuckDBBackend, table: str) -> dict[str, float]:
    """Average BigQuery bytes per row of each column of `table`."""
    empty = backend.query(exp.select("*").from_(table).limit(0))
    widths = {}
    for name in empty.columns:
        if pd.api.types.is_bool_dtype(empty[name]):
            widths[name] = 1.0
        elif pd.api.types.is_object_dtype(empty[name]) or pd.api.types.is_string_dtype(
                empty[name]):
            mean = backend.query(exp.select(exp.func("AVG", exp.func("LENGTH", exp.column(
                name))).as_("n")).from_(table))["n"][0]
            widths[name] = 2 + (0.0 if pd.isna(mean) else float(mean))
        else:
            widths[name] = 8.0
    return widths


def _window_rows(backend: DuckDBBackend, table: str) -> dict[tuple[str, int], int]:
    frame = backend.query(exp.select("period", "window_index", exp.func(
        "COUNT", exp.Star()).as_("n")).from_(table).group_by("period", "window_index"))
    return {(str(p), int(w)): int(n) for p, w, n in
            zip(frame["period"], frame["window_index"], frame["n"])}


def _windows_read(tree: exp.Query) -> set[tuple[str, int]]:
    """(period, window number) of every `period = ... AND window_index = ...` filter."""
    found = set()
    for select in tree.find_all(exp.Select):
        where = select.args.get("where")
        if where is None:
            continue
        literals = {eq.this.name: eq.expression for eq in where.find_all(exp.EQ)
                    if isinstance(eq.this, exp.Column) and isinstance(eq.expression, exp.Literal)}
        if "period" in literals and "window_index" in literals:
            found.add((literals["period"].name, int(literals["window_index"].name)))
    return found


def _bytes(tree: exp.Query, widths: dict[str, float], rows: dict, total: int) -> tuple[float, float]:
    names = {c.name for c in tree.find_all(exp.Column)} & set(widths)
    width = sum(widths[c] for c in names | {"period", "window_index"})
    pruned = sum(rows.get(w, 0) for w in _windows_read(tree)) * width
    return pruned, total * width


def measure(clients: int) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        world = generate(Path(tmp) / "telemetry.duckdb", clients=clients, days=60, seed=0)
        registry = parse_registry(list(world.registry))
        for toml in sorted((ROOT / "experiments").glob("*.toml")):
            spec, _ = resolve_experiment(ROOT, toml.stem, registry=registry)
            if spec is None:
                continue
            backend = Recording(Path(tmp) / "telemetry.duckdb", Path(tmp) / f"{toml.stem}.duckdb")
            table = client_windows_table(spec.experiment.slug)
            start = len(backend.trees)
            outcome = analyse_experiment(spec, backend, world.last_day,
                                         DirectorySink(Path(tmp) / "out"))
            if not backend.table_exists(table):
                continue
            widths, rows = _widths(backend, table), _window_rows(backend, table)
            total = sum(rows.values())
            mine = [t for t in backend.trees[start:]
                    if any(x.name == table for x in t.find_all(exp.Table))]
            pruned = dry = 0.0
            for tree in mine:
                p, d = _bytes(tree, widths, rows, total)
                pruned, dry = pruned + p, dry + d
            read = {w for t in mine for w in _windows_read(t)}
            before = sum(rows.get(w, 0) for w in read) * sum(widths.values())
            results.append({"experiment": spec.experiment.slug, "status": outcome.status,
                            "windows": outcome.windows, "queries": len(mine),
                            "rows_bytes": before, "pruned": pruned, "dry_run": dry})
            backend.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20000)
    args = parser.parse_args(argv)
    rows = measure(args.clients)
    mb = 1e6
    print(f"statistics step, one full run on the demo's date, {args.clients} clients")
    print("| experiment | status | windows | summary queries | rows read (MB) | "
          "summaries, pruned (MB) | summaries, dry-run bound (MB) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['experiment']} | {r['status']} | {r['windows']} | {r['queries']} | "
              f"{r['rows_bytes'] / mb:.1f} | {r['pruned'] / mb:.1f} | {r['dry_run'] / mb:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
