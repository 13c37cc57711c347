"""Per-client metric tables for all periods of one experiment on DuckDB: time and peak memory.

Generates synthetic telemetry (N clients x 28 days) in a child process, then computes every
per-client table of `desktop-newtab-layout` ready at the end, in another child process so its
peak RSS is its own. Goal: <= 60 s at 1M clients, cost linear in clients. With
`--memory-limit SIZE`, each size runs once without and once with DuckDB capped at SIZE (spilling
to a temp directory), to show the tables still complete under a cap below their working set.
Usage: python -m bench.engine_client_metrics [--memory-limit SIZE ...] [N ...]
(default: 100000 1000000)
"""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SLUG = "desktop-newtab-layout"
DAYS = 28
GOAL_S = 60.0

_GENERATE = """
import sys
from pathlib import Path
from engine.synthetic.world import generate
world = generate(sys.argv[1], clients=int(sys.argv[2]), days=int(sys.argv[3]), seed=1)
Path(sys.argv[4]).write_text(world.registry_json())
"""

_COMPUTE = """
import datetime as dt
import json, resource, sys, time
from pathlib import Path
from engine.backends.duckdb import DuckDBBackend
from engine.run.client_metrics import compute_client_metrics
from engine.config.resolve.platforms import resolve_experiment
from engine.experimenter import load_registry
registry = load_registry(sys.argv[2])
spec, _ = resolve_experiment(Path("."), sys.argv[3], registry=registry)
limit = sys.argv[6] or None
backend = DuckDBBackend(sys.argv[1], sys.argv[4], memory_limit=limit,
                        temp_directory=sys.argv[4] + ".spill" if limit else None)
date = dt.date.fromisoformat(sys.argv[5])
start = time.perf_counter()
tables = compute_client_metrics(spec, backend, date)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "tables": len(tables), "peak_mb": peak,
                  "enrolled": max((t.rows for t in tables), default=0)}))
"""


def run(clients: int, workdir: Path, limits: tuple[str, ...]) -> list[tuple[str, dict]]:
    db, registry = workdir / f"tele_{clients}.duckdb", workdir / f"registry_{clients}.json"
    subprocess.run([sys.executable, "-c", _GENERATE, str(db), str(clients), str(DAYS), str(registry)],
                   check=True)
    last_day = dt.date(2024, 1, 1) + dt.timedelta(days=DAYS + 30)
    results = []
    for limit in ("", *limits):
        out = subprocess.run([sys.executable, "-c", _COMPUTE, str(db), str(registry), SLUG,
                              str(workdir / f"results_{clients}_{limit}.duckdb"),
                              last_day.isoformat(), limit],
                             check=not limit, capture_output=True, text=True)
        if out.returncode:  # a cap DuckDB cannot work within: say so, measure the others
            errors = [line for line in out.stderr.splitlines() if "Error" in line] or ["?"]
            results.append((limit, {"error": errors[-1][:160]}))
        else:
            results.append((limit or "none", json.loads(out.stdout.strip().splitlines()[-1])))
    return results


def main(argv: list[str] | None = None) -> int:
    args = list(argv or sys.argv[1:])
    limits: tuple[str, ...] = ()
    while "--memory-limit" in args:
        at = args.index("--memory-limit")
        limits += (args[at + 1],)
        del args[at:at + 2]
    sizes = [int(a) for a in args] or [100_000, 1_000_000]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for clients in sizes:
            rows += [(clients, limit, r) for limit, r in run(clients, Path(tmp), limits)]
    print(f"{'clients':>10} {'mem limit':>9} {'enrolled':>9} {'tables':>6} {'seconds':>8} "
          f"{'s/100k':>7} {'peak MB':>8}")
    for clients, limit, r in rows:
        if "error" in r:
            print(f"{clients:>10} {limit:>9} failed: {r['error']}")
            continue
        print(f"{clients:>10} {limit:>9} {r['enrolled']:>9} {r['tables']:>6} {r['seconds']:>8.1f} "
              f"{r['seconds'] / clients * 1e5:>7.2f} {r['peak_mb']:>8.0f}")
    clients, _, largest = max((row for row in rows if row[1] == "none"), key=lambda row: row[0])
    ok = clients < 1_000_000 or largest["seconds"] <= GOAL_S
    print(f"goal <= {GOAL_S:.0f} s at 1M clients: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
