"""Wall time of `jetstream validate` over the whole metric-hub corpus (goal: <= 5 s).

Run: .venv/bin/python bench/validate_corpus.py [CONFIG_ROOT]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "metric-hub"


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS
    started, cpu_started = time.perf_counter(), time.process_time()
    from engine.config.repository import load_repository
    from engine.config.validate import validate
    imported = time.perf_counter()
    repo = load_repository(root)
    loaded = time.perf_counter()
    report = validate(root, repository=repo)
    done = time.perf_counter()
    passed = sum(r.ok for r in report.experiments.values())
    rows = [
        ("import", imported - started),
        ("load + line maps", loaded - imported),
        ("structure + resolve + SQL", done - loaded),
        ("total wall", done - started),
        ("total CPU (this process)", time.process_time() - cpu_started),
    ]
    print(f"{'phase':<28}{'seconds':>10}")
    for name, seconds in rows:
        print(f"{name:<28}{seconds:>10.2f}")
    print(f"files {report.files_checked}, experiments {len(report.experiments)}, resolve {passed}, "
          f"errors {report.errors}, warnings {report.warnings}; goal <= 5 s: "
          f"{'met' if done - started <= 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
