"""What to compute for one experiment on one date: periods x windows x bases x segments."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Mapping

from engine.config.spec import ANALYSIS_BASES, AnalysisSpec, Metric
from engine.plan.windows import Timeline, Window, ready_windows, timeline_of

ALL_SEGMENT = "all"


def table_slug(slug: str) -> str:
    """A slug usable inside table names (BigQuery and DuckDB): lowercase, [a-z0-9_] only."""
    return re.sub(r"[^a-z0-9_]", "_", slug.lower())


def enrollments_table(slug: str) -> str:
    return f"enrollments_{table_slug(slug)}"


@dataclass(frozen=True)
class WindowTask:
    """One per-client metrics table to compute: a window, a basis and the metrics it holds."""

    slug: str
    window: Window
    basis: str
    metrics: tuple[Metric, ...]

    @property
    def table_name(self) -> str:
        return f"{self._prefix}_{self.window.number}"

    @property
    def period_table(self) -> str:
        """The scratch table holding every window of this task's period and basis."""
        return f"{self._prefix}_all"

    @property
    def _prefix(self) -> str:
        return f"{table_slug(self.slug)}_{self.basis}_{self.window.period}"


@dataclass(frozen=True)
class AnalysisPlan:
    spec: AnalysisSpec
    date: dt.date
    timeline: Timeline | None
    tasks: tuple[WindowTask, ...]
    segments: tuple[str, ...]  # "all" first, then configured segments

    def tasks_for(self, period: str) -> tuple[WindowTask, ...]:
        return tuple(t for t in self.tasks if t.window.period == period)


def _inputs(metric: Metric) -> tuple[str, ...]:
    """The metrics a metric is computed from: depends_on and population_ratio's parts."""
    parts = [s.params.get(k) for s in metric.statistics if s.name == "population_ratio"
             for k in ("numerator", "denominator")]
    return metric.depends_on + tuple(str(p) for p in parts if p)


def metrics_for_basis(metrics: tuple[Metric, ...], basis: str,
                      definitions: Mapping[str, Metric] | None = None) -> tuple[Metric, ...]:
    """Metrics computed in SQL (with a select expression) that take part in `basis`, plus the
    inputs (from `definitions`, transitively) of those that do, even if their period does not
    list them: a population_ratio or depends_on metric needs its inputs in the same table."""
    chosen: dict[str, Metric] = {}
    pending = [m for m in metrics if basis in m.analysis_bases]
    while pending:
        metric = pending.pop(0)
        if metric.name in chosen:
            continue
        chosen[metric.name] = metric
        pending += [definitions[n] for n in _inputs(metric)
                    if definitions and n in definitions and n not in chosen]
    return tuple(m for m in chosen.values() if m.select_expression is not None and m.data_source)


def plan(spec: AnalysisSpec, date: dt.date) -> AnalysisPlan:
    """Every window of every configured period that is ready on `date`, for each basis
    (pre-enrollment windows: enrollments basis only)."""
    timeline = timeline_of(spec.experiment)
    tasks: list[WindowTask] = []
    if timeline is not None:
        for period, metrics in spec.metrics.items():
            for win in ready_windows(period, timeline, date):
                for basis in ANALYSIS_BASES:
                    if basis == "exposures" and win.is_preenrollment:
                        continue  # exposure follows enrollment; nothing to anchor before it
                    chosen = metrics_for_basis(metrics, basis, spec.metric_definitions)
                    if chosen:
                        tasks.append(WindowTask(spec.experiment.slug, win, basis, chosen))
    segments = (ALL_SEGMENT,) + tuple(s.name for s in spec.segments)
    return AnalysisPlan(spec, date, timeline, tuple(tasks), segments)
