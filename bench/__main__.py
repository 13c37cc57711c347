"""Run every bench module that has a main() (except those needing another virtualenv)."""
from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

# Run with the mozanalysis virtualenv, not the project's (see the module's docstring).
SEPARATE_VENV = {"statistics_vs_mozanalysis"}


def main() -> int:
    status = 0
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda i: i.name):
        if info.name.startswith("_") or info.name in SEPARATE_VENV:
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if hasattr(module, "main"):
            print(f"== bench.{info.name}")
            status |= int(module.main() or 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
