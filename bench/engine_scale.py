"""Scale of the whole `jetstream analyse` of one experiment on DuckDB: wall, CPU, peak RSS.

For each world size (clients of the whole synthetic world, all platforms), the command a user
runs, `python -m engine.cli analyse --recompute ...`, analyses `fenix-toolbar-redesign` on the
last simulated day, in a child process whose whole tree (the statistics pool's forkserver and
workers included) is sampled from /proc every 50 ms (bench/_proctree.py): wall seconds, CPU
seconds of the tree and the peak of the SUM of the tree's RSS.

The experiment: `fenix-toolbar-redesign` has 2 segments (new_users, de_users) and 17 metrics,
but no config (shipped or default) lists a days28 metric for it; the bench analyses it from a
temporary config root, a copy of the repository's layout whose experiments/ holds only that
config with `days28 = [...]` added (the shipped files are not changed). With DAYS = 62 days of
telemetry (enrollment days 28..34), every period is ready on the last day: 28 daily windows,
4 weekly, 1 days28, overall and both pre-enrollment periods (36 windows, 2 bases).

Worlds are generated once per size, outside the measurement (timed and reported separately),
and cached under --cache in world-<clients>-d<days>-s<seed>/. The generator holds the whole
world in memory (~12 KB per client), so a world larger than CHUNK clients is made of chunks of
at most CHUNK clients with seeds seed, seed+1, ... (random client ids: chunks never collide),
each generated in its own process and appended into one DuckDB file. A world of CHUNK clients
or fewer is exactly `generate(db, clients, days, seed)`.

Goals (issue 10): peak RSS at the largest size <= 1.3 x at the smallest (memory independent of
clients), wall linear in clients (see s/M), 1M clients <= 60 s. A size whose peak RSS,
extrapolated linearly from two smaller sizes of the same label, exceeds --rss-budget is not
run (the table says so, with the projection): the row-level path needs ~3.6 GB more per million.

Usage: python -m bench.engine_scale [--sizes N ...] [--cache DIR] [--label TEXT]
           [--json FILE] [--memory-limit SIZE] [--workers N] [--rss-budget MB]
       python -m bench.engine_scale --table FILE ...   (combined table of --json files)
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._proctree import TreeUsage, run_measured

ROOT = Path(__file__).resolve().parents[1]
SLUG = "fenix-toolbar-redesign"
DAYS = 62
SEED = 1
FIRST_DAY = dt.date(2024, 1, 1)  # engine.synthetic.world.DEFAULT_START
CHUNK = 500_000
SIZES = (200_000, 1_000_000, 5_000_000)
# the weekly default metrics of Firefox for Android (engine/defaults/fenix.toml), over 28 days
DAYS28 = ("active_hours", "days_of_use", "retained", "uri_count", "search_count", "ad_clicks")
RSS_GOAL, WALL_GOAL_S, WALL_GOAL_CLIENTS = 1.3, 60.0, 1_000_000
MB = 1024 * 1024

_GENERATE = """
import sys
from pathlib import Path
from engine.synthetic.world import generate
db, clients, days, seed, registry = sys.argv[1:6]
world = generate(db, clients=int(clients), days=int(days), seed=int(seed))
Path(registry).write_text(world.registry_json())
"""

# Appends every table of each chunk file (argv[2:]) to the same table of argv[1].
_MERGE = """
import sys, duckdb
import sqlglot.expressions as exp
con = duckdb.connect(sys.argv[1])
catalog = con.execute("SELECT current_database()").fetchone()[0]
for chunk in sys.argv[2:]:
    con.execute(exp.Attach(this=exp.alias_(exp.Literal.string(chunk), "chunk"),
                           expressions=[exp.AttachOption(this=exp.var("READ_ONLY"))]).sql("duckdb"))
    for schema, table in con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                                     "WHERE database_name = 'chunk'").fetchall():
        con.execute(exp.insert(exp.select("*").from_(exp.table_(table, db=schema, catalog="chunk")),
                               exp.table_(table, db=schema, catalog=catalog)).sql("duckdb"))
    con.execute("DETACH chunk")
con.close()
"""


def _usage_json(usage: TreeUsage) -> dict:
    return {"wall_s": round(usage.wall_s, 2), "cpu_s": round(usage.cpu_s, 2),
            "peak_rss_mb": round(usage.peak_rss_bytes / MB), "processes": usage.processes}


def world(cache: Path, clients: int) -> tuple[Path, Path, dict]:
    """(telemetry db, registry json, generation figures) of a cached or new world."""
    where = cache / f"world-{clients}-d{DAYS}-s{SEED}"
    db, registry = where / "telemetry.duckdb", where / "registry.json"
    done = where / "generation.json"
    if done.is_file():
        return db, registry, json.loads(done.read_text())
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    sizes = [min(CHUNK, clients - start) for start in range(0, clients, CHUNK)]
    chunks = [where / f"chunk{i}.duckdb" for i in range(len(sizes))]
    steps, log = [], where / "generation.log"
    for i, (size, chunk) in enumerate(zip(sizes, chunks)):
        print(f"generating {clients:,d} clients: chunk {i + 1}/{len(sizes)} ({size:,d} clients, "
              f"seed {SEED + i})", file=sys.stderr, flush=True)
        steps.append(_checked(log, [sys.executable, "-c", _GENERATE, str(chunk), str(size),
                                    str(DAYS), str(SEED + i), str(registry)]))
    if len(chunks) > 1:
        steps.append(_checked(log, [sys.executable, "-c", _MERGE, str(chunks[0]),
                                    *map(str, chunks[1:])]))
        for chunk in chunks[1:]:
            chunk.unlink()
    chunks[0].rename(db)
    figures = {"wall_s": round(sum(s.wall_s for s in steps), 1),
               "cpu_s": round(sum(s.cpu_s for s in steps), 1),
               "peak_rss_mb": round(max(s.peak_rss_bytes for s in steps) / MB),
               "chunks": len(sizes)}
    done.write_text(json.dumps(figures))
    return db, registry, figures


def _checked(log: Path, argv: list[str]) -> TreeUsage:
    with log.open("ab") as sink:  # DuckDB's progress bars and any traceback
        usage = run_measured(argv, cwd=ROOT, stdout=sink, stderr=sink)
    if usage.returncode:
        raise SystemExit(f"world generation failed (exit {usage.returncode}): see {log}")
    return usage


def config_root(where: Path) -> Path:
    """A copy of the repository's layout with only SLUG's config, plus its days28 metrics."""
    from engine.config.layout import detect_layout
    layout = detect_layout(ROOT)
    for directory in (layout.outcomes_dir, layout.defaults_dir, *layout.definitions_dirs):
        shutil.copytree(directory, where / directory.relative_to(ROOT))
    source = layout.experiments_dir / f"{SLUG}.toml"
    text = source.read_text(encoding="utf-8")
    if "\n[metrics]\n" not in text:
        raise SystemExit(f"{source} has no [metrics] table to add days28 to")
    days28 = f"\n[metrics]\ndays28 = {json.dumps(list(DAYS28))}\n"
    target = where / source.relative_to(ROOT)
    target.parent.mkdir(parents=True)
    target.write_text(text.replace("\n[metrics]\n", days28, 1), encoding="utf-8")
    return where


def _export_figures(out: Path) -> dict:
    windows, records = {}, 0
    for path in sorted(out.glob(f"statistics_{SLUG}_*.json")):
        rows = json.loads(path.read_text())
        period = path.stem.removeprefix(f"statistics_{SLUG}_")
        windows[period] = len({r["window_index"] for r in rows})
        records += len(rows)
    errors_file = out / f"errors_{SLUG}.json"
    errors = json.loads(errors_file.read_text()) if errors_file.is_file() else []
    return {"windows": windows, "records": records, "errors": len(errors),
            "first_error": errors[0].get("message", "")[:200] if errors else None}


def _table_figures(results_db: Path) -> dict:
    if not results_db.is_file():
        return {}
    import duckdb  # here: the bench process itself needs no engine stack
    import sqlglot.expressions as exp
    con = duckdb.connect(str(results_db), read_only=True)
    try:
        counts = {name: con.execute(exp.select("count(*)").from_(
                      exp.table_(name, db=schema, quoted=True)).sql("duckdb")).fetchone()[0]
                  for schema, name in con.execute(
                      "SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
    finally:
        con.close()
    enrolled = sum(n for name, n in counts.items() if name.startswith("enrollments_"))
    return {"tables": len(counts), "rows": sum(counts.values()), "enrolled": enrolled}


def _commit() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() or "?"


def measure(clients: int, cache: Path, label: str, memory_limit: str | None,
            workers: int | None) -> dict:
    db, registry, generation = world(cache, clients)
    day = FIRST_DAY + dt.timedelta(days=DAYS - 1)
    with tempfile.TemporaryDirectory(dir=cache, prefix="run-") as tmp:
        run = Path(tmp)
        out = run / "out"
        argv = [sys.executable, "-m", "engine.cli", "analyse", "--date", day.isoformat(),
                "--experiment", SLUG, "--db", str(db), "--registry", str(registry),
                "--config-root", str(config_root(run / "config")), "--out", str(out),
                "--recompute",
                *(("--memory-limit", memory_limit) if memory_limit else ()),
                *(("--workers", str(workers)) if workers else ())]
        print(f"analysing {clients:,d} clients: {' '.join(argv[1:])}", file=sys.stderr, flush=True)
        load = os.getloadavg()[0]  # other work on the machine inflates wall, not CPU
        with open(run / "stdout", "wb") as stdout, open(run / "stderr", "wb") as stderr:
            usage = run_measured(argv, cwd=ROOT, stdout=stdout, stderr=stderr)
        if usage.returncode:
            tail = (run / "stderr").read_text(errors="replace").splitlines()[-15:]
            print("\n".join(["analyse failed:", *tail]), file=sys.stderr)
        row = {"label": label, "clients": clients, "commit": _commit(), "slug": SLUG,
               "days": DAYS, "date": day.isoformat(), "memory_limit": memory_limit,
               "workers": workers, "load_1m": round(load, 1), "returncode": usage.returncode,
               **_usage_json(usage),
               **_export_figures(out), **_table_figures(out / "results.duckdb"),
               "generation": generation}
    return row


def markdown(rows: list[dict]) -> str:
    """One table over every label, then the goals per label."""
    head = ("label", "commit", "clients", "enrolled", "windows", "records", "errors", "tables",
            "rows", "load", "wall s", "s / M clients", "CPU s", "peak RSS MB", "RSS / smallest",
            "generation s")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    smallest = {}
    for row in sorted(_measured(rows), key=lambda r: r["clients"]):
        smallest.setdefault(row["label"], row)
    for row in sorted(rows, key=lambda r: (r["label"], r["clients"])):
        if row.get("skipped"):
            lines.append(f"| {row['label']} | {row['commit']} | {row['clients']:,d} | not run: "
                         + row["skipped"] + " |" * (len(head) - 3))
            continue
        base = smallest[row["label"]]
        cells = (row["label"], row.get("commit", "?"), f"{row['clients']:,d}",
                 f"{row.get('enrolled', 0):,d}", sum(row.get("windows", {}).values()),
                 f"{row.get('records', 0):,d}", row.get("errors", "?"), row.get("tables", "?"),
                 f"{row.get('rows', 0):,d}", row.get("load_1m", "?"), f"{row['wall_s']:.1f}",
                 f"{row['wall_s'] / row['clients'] * 1e6:.1f}", f"{row['cpu_s']:.0f}",
                 f"{row['peak_rss_mb']:,d}", f"{row['peak_rss_mb'] / base['peak_rss_mb']:.2f}",
                 f"{row['generation']['wall_s']:.0f}")
        failed = " (exit %d)" % row["returncode"] if row["returncode"] else ""
        lines.append("| " + " | ".join(map(str, cells)) + failed + " |")
    return "\n".join(lines + [""] + goals(rows)) + "\n"


def goals(rows: list[dict]) -> list[str]:
    lines = []
    for label in sorted({r["label"] for r in rows}):
        lines += [f"- {label}: {r['clients']:,d} clients not run: {r['skipped']}"
                  for r in rows if r["label"] == label and r.get("skipped")]
        mine = sorted((r for r in _measured(rows) if r["label"] == label),
                      key=lambda r: r["clients"])
        if not mine:
            continue
        small, large = mine[0], mine[-1]
        ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
        if large is not small:
            lines.append(f"- {label}: peak RSS at {large['clients']:,d} = {ratio:.2f} x at "
                         f"{small['clients']:,d} (goal <= {RSS_GOAL} x): "
                         f"{'met' if ratio <= RSS_GOAL else 'MISSED'}")
        at_goal = [r for r in mine if r["clients"] == WALL_GOAL_CLIENTS]
        for r in at_goal:
            lines.append(f"- {label}: wall at {WALL_GOAL_CLIENTS:,d} clients = {r['wall_s']:.1f} s "
                         f"(goal <= {WALL_GOAL_S:.0f} s): "
                         f"{'met' if r['wall_s'] <= WALL_GOAL_S else 'MISSED'}")
    return lines


def missed(rows: list[dict]) -> bool:
    return (any(r.get("skipped") or r["returncode"] for r in rows)
            or any("MISSED" in line for line in goals(rows)))


def _measured(rows: list[dict]) -> list[dict]:
    return [r for r in rows if not r.get("skipped")]


def projected_peak_mb(rows: list[dict], clients: int) -> float | None:
    """Peak RSS at `clients`, extrapolated linearly from the two largest smaller sizes measured."""
    known = sorted((r["clients"], r["peak_rss_mb"]) for r in _measured(rows)
                   if r["clients"] < clients and not r["returncode"])
    if len(known) < 2:
        return None
    (c1, p1), (c2, p2) = known[-2:]
    return p2 + (p2 - p1) / (c2 - c1) * (clients - c2)


def _default_budget_mb() -> int:
    total_kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    return round(total_kb / 1024 * 0.6)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine_scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), metavar="N")
    parser.add_argument("--cache", type=Path, help="worlds cache [default: a temporary directory]")
    parser.add_argument("--label", default="this", help='e.g. "before" / "after"')
    parser.add_argument("--json", type=Path, help="append one JSON line per size to FILE")
    parser.add_argument("--table", type=Path, nargs="+", metavar="FILE",
                        help="only print the combined table of these JSON lines files")
    parser.add_argument("--memory-limit", metavar="SIZE", help="passed to jetstream analyse")
    parser.add_argument("--workers", type=int, help="passed to jetstream analyse")
    parser.add_argument("--rss-budget", type=int, metavar="MB", default=_default_budget_mb(),
                        help="skip a size whose peak RSS, extrapolated from smaller sizes of the "
                        "same label (this run and --json FILE), exceeds MB [default: 60%% of RAM]")
    args = parser.parse_args(argv)
    if args.table:
        rows = [json.loads(line) for path in args.table
                for line in path.read_text().splitlines() if line.strip()]
        print(markdown(rows))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or Path(tmp)
        cache.mkdir(parents=True, exist_ok=True)
        rows: list[dict] = []
        earlier = [json.loads(line) for line in args.json.read_text().splitlines()
                   if line.strip()] if args.json and args.json.is_file() else []
        earlier = [r for r in earlier if r["label"] == args.label]
        for clients in sorted(args.sizes):
            projected = projected_peak_mb(earlier + rows, clients)
            if projected is not None and projected > args.rss_budget:
                rows.append({"label": args.label, "clients": clients, "commit": _commit(),
                             "projected_peak_rss_mb": round(projected),
                             "skipped": f"projected peak RSS {projected:,.0f} MB > budget "
                                        f"{args.rss_budget:,d} MB (--rss-budget)"})
            else:
                rows.append(measure(clients, cache, args.label, args.memory_limit, args.workers))
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                with args.json.open("a") as sink:
                    sink.write(json.dumps(rows[-1]) + "\n")
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(markdown(rows))
    return 1 if missed(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
