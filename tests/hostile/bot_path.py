"""The bot's validation path for one hostile tree, in a process of its own (the catalogue bounds
its time from outside): the path guard and validator of `bot.engine_port.validate_tree`, with the
dry-run backend the bot opens, then the sticky comment and annotations GitHub would receive.

    python -m tests.hostile.bot_path ROOT DB|- PATH...   -> JSON {codes, comment, annotations}
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from bot import reports
from bot.engine_port import validate_tree
from engine.backends.open import open_backend


def main(root: str, db: str, names: list[str]) -> None:
    backend = open_backend("duckdb", Path(db), None, "jetstream") if db != "-" else None
    try:
        findings = validate_tree(Path(root), [Path(root) / name for name in names], backend=backend).findings
    finally:
        if backend is not None:
            backend.close()
    comment = reports.validation_comment("0" * 40, findings, [], None, structural_only=False)
    print(json.dumps({"codes": sorted({f.code for f in findings if f.is_error}), "comment": comment,
                      "annotations": list(reports.annotations(findings))}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], [bytes.fromhex(a).decode("utf-8", "surrogateescape")
                                    for a in sys.argv[3:]])
