"""`compute()`: run one registered statistic over a per-client frame (see the package docstring)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from engine.statistics.context import Context, resolve_branches
from engine.statistics.records import Labels, StatisticRecord
from engine.statistics.registry import STATISTICS


def compute(name: str, data: pd.DataFrame, metric: str, reference_branch: str,
            params: Mapping[str, Any] | None = None, *, seed: int = 0, segment: str = "all",
            analysis_basis: str = "enrollments", window_index: str = "1",
            branches: Sequence[str] | None = None,
            analysis_period_days: int | None = None) -> list[StatisticRecord]:
    definition = STATISTICS.get(name)
    if definition is None:
        raise ValueError(f"unknown statistic {name!r}")
    params = dict(params or {})
    unknown = sorted(set(params) - {p.name for p in definition.params})
    if unknown:
        raise ValueError(f"statistic {name!r} has no parameter(s) {', '.join(unknown)}")
    merged = {**definition.defaults(), **params}
    missing = [p.name for p in definition.params if p.required and p.name not in merged]
    if missing:
        raise ValueError(f"statistic {name!r} needs parameter(s) {', '.join(missing)}")
    ctx = Context(data=data, metric=metric, reference_branch=reference_branch,
                  labels=Labels(metric, name, segment, analysis_basis, str(window_index)),
                  branches=resolve_branches(data, reference_branch,
                                            tuple(branches) if branches else None),
                  params=merged, seed=int(seed), analysis_period_days=analysis_period_days)
    return definition.load()(ctx)
