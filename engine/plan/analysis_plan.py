"""What to compute for one experiment on one date: periods x windows x bases x segments."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Collection, Mapping

from engine.config.spec import ANALYSIS_BASES, AnalysisSpec, Metric
from engine.plan.windows import Timeline, Window, ready_on, ready_windows, timeline_of

ALL_SEGMENT = "all"


def table_slug(slug: str) -> str:
    """A slug usable inside table names (BigQuery and DuckDB): lowercase, [a-z0-9_] only."""
    return re.sub(r"[^a-z0-9_]", "_", slug.lower())


def enrollments_table(slug: str) -> str:
    return f"enrollments_{table_slug(slug)}"


def client_windows_table(slug: str) -> str:
    """The per-client table of an experiment's last run: a row per unit, period and window."""
    return f"client_windows_{table_slug(slug)}"


def client_covariates_table(slug: str) -> str:
    """The pre-enrollment covariates of an experiment's last run: a row per unit."""
    return f"client_covariates_{table_slug(slug)}"


@dataclass(frozen=True)
class WindowTask:
    """One window and basis to compute, with the metrics it needs."""

    slug: str
    window: Window
    basis: str
    metrics: tuple[Metric, ...]


@dataclass(frozen=True)
class AnalysisPlan:
    spec: AnalysisSpec
    date: dt.date
    timeline: Timeline | None
    tasks: tuple[WindowTask, ...]
    segments: tuple[str, ...]  # "all" first, then configured segments

    def tasks_for(self, period: str) -> tuple[WindowTask, ...]:
        return tuple(t for t in self.tasks if t.window.period == period)

    def new_tasks(self, done: Collection[tuple[str, int]]) -> tuple[WindowTask, ...]:
        """The tasks of a daily run: windows that became ready on the plan's date, and ready
        windows without results (`done` holds the (period, number) of those with results)."""
        timeline = self.timeline
        if timeline is None:
            return ()
        return tuple(t for t in self.tasks if ready_on(t.window, timeline) == self.date
                     or (t.window.period, t.window.number) not in done)

    def run_tasks(self, done: Collection[tuple[str, int]] | None, has_previous: bool
                  ) -> tuple[tuple[WindowTask, ...], tuple[WindowTask, ...]]:
        """(tasks to compute, pre-enrollment tasks to carry over from the previous per-client
        table): every ready window when `done` is None (a full run), else a daily run's
        (`new_tasks`); without a previous table, pre-enrollment windows are computed again."""
        if done is None:
            return self.tasks, ()
        new = self.new_tasks(done)
        if not new:
            return (), ()
        pre = tuple(t for t in self.tasks if t.window.is_preenrollment and t not in new)
        return (new, pre) if has_previous else (new + pre, ())


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
