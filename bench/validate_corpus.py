"""Time of `jetstream validate` over the whole metric-hub corpus (goal: <= 5 s wall).

Run: .venv/bin/python bench/validate_corpus.py [CONFIG_ROOT]

Wall and CPU time per phase: on a shared machine wall time also measures the neighbours, CPU
time only us. Every experiment config is resolved on every platform with defaults (387 configs x
8 platforms), because the report says on which platforms each one resolves.
"""
from __future__ import annotations

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


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS
    clock = Clock()
    from engine.config.repository import load_repository
    from engine.config.validate import validate
    clock.lap("import")
    repo = load_repository(root)
    clock.lap("load + line maps")
    report = validate(root, repository=repo)
    clock.lap("structure + resolve + SQL")
    wall, cpu = clock.total()
    print(f"{'phase':<28}{'wall s':>9}{'CPU s':>9}")
    for name, lap_wall, lap_cpu in [*clock.rows, ("total", wall, cpu)]:
        print(f"{name:<28}{lap_wall:>9.2f}{lap_cpu:>9.2f}")
    passed = sum(r.ok for r in report.experiments.values())
    print(f"files {report.files_checked}, experiments {len(report.experiments)}, resolve {passed}, "
          f"errors {report.errors}, warnings {report.warnings}; goal <= 5 s wall: "
          f"{'met' if wall <= 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
