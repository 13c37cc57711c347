"""Time of `jetstream validate` over the whole metric-hub corpus (goal: <= 5 s wall).

Run: .venv/bin/python bench/validate_corpus.py [CONFIG_ROOT]

Wall and CPU time per phase: on a shared machine wall time also measures the neighbours, CPU
time only us (the load average is printed with them). Every experiment config is resolved on
every platform with defaults (387 configs x 8 platforms), because the report says on which
platforms each one resolves. The last row runs the `jetstream validate` command in a child
process: the same work plus the CLI's imports and rendering the JSON.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "metric-hub"


class Clock:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        self._start = (self._wall, self._cpu)

    def lap(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.rows.append((name, wall - self._wall, cpu - self._cpu))
        self._wall, self._cpu = wall, cpu

    def total(self) -> tuple[float, float]:
        return self._wall - self._start[0], self._cpu - self._start[1]


def _cli(root: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of `jetstream validate --format json` over `root` in a child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "engine.cli", "validate", "--config-root", str(root),
                    "--format", "json"], stdout=subprocess.DEVNULL, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - start, cpu


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS
    load_before = _load()
    clock = Clock()
    from sqlglot import parser as sqlglot_parser

    from engine.check.validate import validate
    from engine.config.repository import load_repository
    clock.lap("import")
    repo = load_repository(root)
    clock.lap("load + line maps")
    report = validate(root, repository=repo)
    clock.lap("structure + resolve + SQL")
    wall, cpu = clock.total()
    cli_wall, cli_cpu = _cli(root)
    print(f"{'phase':<28}{'wall s':>9}{'CPU s':>9}")
    for name, lap_wall, lap_cpu in [*clock.rows, ("total", wall, cpu),
                                    ("jetstream validate (CLI)", cli_wall, cli_cpu)]:
        print(f"{name:<28}{lap_wall:>9.2f}{lap_cpu:>9.2f}")
    compiled = Path(sqlglot_parser.__file__).suffix == ".so"
    print(f"load average before/after: {load_before} / {_load()}; sqlglot parser "
          f"{'compiled (sqlglotc)' if compiled else 'pure Python'}")
    passed = sum(r.ok for r in report.experiments.values())
    print(f"files {report.files_checked}, experiments {len(report.experiments)}, resolve {passed}, "
          f"errors {report.errors}, warnings {report.warnings}")
    print(f"goal <= 5 s wall: {'met' if wall <= 5 else 'NOT met'} in-process, "
          f"{'met' if cli_wall <= 5 else 'NOT met'} by the CLI")


if __name__ == "__main__":
    main()
