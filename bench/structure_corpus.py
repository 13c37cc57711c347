"""Structure-check every file of the metric-hub corpus; print findings by kind, severity, code.

Usage: python bench/structure_corpus.py [CORPUS_ROOT]   (default: ../shared/corpus/metric-hub)
Exits 1 if any file has a structural error (warnings are expected: upstream ignores those keys).
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

from engine.config.load import load_document
from engine.config.schema.structure import check_structure

KIND_GLOBS = {
    "experiment": ["jetstream/*.toml"],
    "outcome": ["jetstream/outcomes/*/*.toml"],
    "defaults": ["jetstream/defaults/*.toml"],
    "definitions": ["definitions/*.toml", "jetstream/definitions/*.toml"],
}


def files_by_kind(root: Path) -> dict[str, list[Path]]:
    found = {kind: sorted(p for g in globs for p in root.glob(g) if p.name != "functions.toml")
             for kind, globs in KIND_GLOBS.items()}
    found["functions"] = sorted(root.glob("**/functions.toml"))
    return found


def main() -> int:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "metric-hub"
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    counts: Counter = Counter()
    errors = []
    started = time.perf_counter()
    files = files_by_kind(root)
    for kind, paths in files.items():
        for path in paths:
            doc = load_document(path, str(path.relative_to(root)))
            for finding in (*doc.findings, *check_structure(doc, kind)):
                counts[(kind, finding.severity.value, finding.code)] += 1
                if finding.is_error:
                    errors.append(finding)
    elapsed = time.perf_counter() - started
    print(f"{sum(map(len, files.values()))} files in {elapsed:.2f} s")
    print(f"{'kind':<12} {'severity':<8} {'code':<22} {'count':>5}")
    for (kind, severity, code), count in sorted(counts.items()):
        print(f"{kind:<12} {severity:<8} {code:<22} {count:>5}")
    for finding in errors:
        print(f"{finding.path}:{finding.line}: {finding.code}: {finding.message}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
