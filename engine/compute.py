"""Per-client metric tables for one experiment: enrollments, then one table per window and basis.

Tables: `enrollments_<slug>` and `<slug>_<basis>_<period>_<N>` (see engine.plan). Each table is
replaced atomically by the backend, so a rerun replaces and never duplicates, and a failing
query leaves that table's previous version in place.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from sqlglot import exp

from engine.backends.base import Backend
from engine.config.spec import AnalysisSpec
from engine.plan import AnalysisPlan, WindowTask, enrollments_table, plan
from engine.sql.enrollments import enrollments_query
from engine.sql.metrics import client_metrics_query
from engine.windows import Window

Progress = Callable[[int, int, str], None]  # (done, total, table name)


@dataclass(frozen=True)
class ClientMetricsTable:
    """One computed per-client table, as the statistics step consumes it."""

    table: str
    window: Window
    basis: str
    metrics: tuple[str, ...]
    segments: tuple[str, ...]
    rows: int

    @property
    def period(self) -> str:
        return self.window.period


def task_query(spec: AnalysisSpec, analysis_plan: AnalysisPlan, task: WindowTask,
               inline_enrollments: bool = False) -> exp.Query:
    """The BigQuery-dialect tree of one per-client table (enrollments inline or from a table)."""
    table = None if inline_enrollments else enrollments_table(spec.experiment.slug)
    return client_metrics_query(spec, task, analysis_plan.timeline, table)


def _count(backend: Backend, table: str) -> int:
    tree = exp.select(exp.func("COUNT", exp.Star()).as_("n")).from_(exp.to_table(table))
    return int(backend.query(tree).iloc[0, 0])


def compute_client_metrics(
    spec: AnalysisSpec,
    backend: Backend,
    date: dt.date,
    registry_entry: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> list[ClientMetricsTable]:
    """Compute every per-client table that is ready on `date`; returns what was written."""
    analysis_plan = plan(spec, date, registry_entry)
    if not analysis_plan.tasks:
        return []
    total = len(analysis_plan.tasks) + 1
    enrollments = enrollments_table(spec.experiment.slug)
    backend.materialize(enrollments, enrollments_query(spec.experiment, analysis_plan.timeline))
    if progress:
        progress(1, total, enrollments)
    segments = tuple(s.name for s in spec.segments)
    written: list[ClientMetricsTable] = []
    for done, task in enumerate(analysis_plan.tasks, start=2):
        backend.materialize(task.table_name, task_query(spec, analysis_plan, task))
        written.append(ClientMetricsTable(
            task.table_name, task.window, task.basis, tuple(m.name for m in task.metrics),
            segments, _count(backend, task.table_name)))
        if progress:
            progress(done, total, task.table_name)
    return written
