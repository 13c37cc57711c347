"""Validate an export directory against mozilla-nimbus-schemas' jetstream models (what
Experimenter reads), file by file."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import mozilla_nimbus_schemas.jetstream as upstream

MODELS = {"statistics": upstream.Statistics, "metadata": upstream.Metadata,
          "errors": upstream.AnalysisErrors}


def validate_upstream(directory: Path) -> Counter:
    """Every statistics_/metadata_/errors_ file parsed by its upstream model (raises on the
    first invalid one); returns how many files of each kind were checked."""
    checked: Counter = Counter()
    for path in sorted(directory.glob("*.json")):
        kind = path.name.split("_", 1)[0]
        if kind in MODELS:
            MODELS[kind].model_validate_json(path.read_text(encoding="utf-8"))
            checked[kind] += 1
    return checked
