"""`compute()` over a frame of client rows, and `statistic()`, the generator the engine drives
over warehouse summaries (see the package docstring and summaries.py)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from engine.statistics.context import COVARIATE_SUFFIX, Context, resolve_branches
from engine.statistics.drive import run_one
from engine.statistics.frame_source import FrameSource
from engine.statistics.records import Labels, StatisticRecord
from engine.statistics.registry import STATISTICS
from engine.statistics.summaries import Column, RowSet, Statistic


def merged_params(name: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The statistic's declared defaults under `params`; ValueError for an unknown statistic,
    an unknown parameter or a missing required one (config errors the validator reports)."""
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
    return merged


def statistic(name: str, ctx: Context) -> Statistic:
    """The generator of one statistic (ctx.params already merged)."""
    return STATISTICS[name].load()(ctx)


def compute(name: str, data: pd.DataFrame, metric: str, reference_branch: str,
            params: Mapping[str, Any] | None = None, *, seed: int = 0, segment: str = "all",
            analysis_basis: str = "enrollments", window_index: str = "1",
            branches: Sequence[str] | None = None,
            analysis_period_days: int | None = None) -> list[StatisticRecord]:
    """One statistic over a frame of (already pre-treated) client rows."""
    merged = merged_params(name, params)
    present = [str(b) for b in data["branch"].dropna().unique()] if len(data) else []
    covariate = metric + COVARIATE_SUFFIX
    ctx = Context(metric=metric, reference_branch=reference_branch,
                  labels=Labels(metric, name, segment, analysis_basis, str(window_index)),
                  branches=resolve_branches(present, reference_branch,
                                            tuple(branches) if branches else None),
                  rows=RowSet("all"), params=merged, seed=int(seed),
                  analysis_period_days=analysis_period_days,
                  covariate=Column(covariate) if covariate in data.columns else None)
    return run_one(statistic(name, ctx), FrameSource(data).evaluate)
