"""Per-client metric tables for one experiment: enrollments, then one table per window and basis.

Tables: `enrollments_<slug>` and `<slug>_<basis>_<period>_<N>` (see engine.plan.analysis_plan). Each table is
replaced atomically by the backend, so a rerun replaces and never duplicates, and a failing
query leaves that table's previous version in place. Each period and basis is one query (every
window at once, one scan per data source); rows are stored ordered by client, so reruns store
identical tables and reproduce every statistic bit for bit.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from sqlglot import exp

from engine.backends.base import Backend, count_by
from engine.config.spec import AnalysisSpec
from engine.plan.analysis_plan import WindowTask, enrollments_table, plan
from engine.plan.windows import Window
from engine.sql.enrollments import enrollments_query
from engine.sql.metrics import period_metrics_query

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


def _groups(tasks: tuple[WindowTask, ...]) -> list[tuple[WindowTask, ...]]:
    """Tasks of the same period and basis (they share their metrics): one query each."""
    groups: dict[tuple[str, str], list[WindowTask]] = {}
    for task in tasks:
        groups.setdefault((task.window.period, task.basis), []).append(task)
    return [tuple(g) for g in groups.values()]


def _window_rows(table: str, number: int) -> exp.Query:
    """One window's rows of a period table, without its window_index column, ordered by
    client: a rerun stores the same rows in the same order, so statistics (float sums) and
    tables are reproduced exactly."""
    star = exp.Star(except_=[exp.column("window_index")])
    return (exp.select(star).from_(exp.to_table(table))
            .where(exp.column("window_index").eq(exp.Literal.number(number)))
            .order_by(exp.column("client_id")))


def compute_client_metrics(
    spec: AnalysisSpec,
    backend: Backend,
    date: dt.date,
    progress: Progress | None = None,
) -> list[ClientMetricsTable]:
    """Compute every per-client table that is ready on `date`; returns what was written.

    One query per period and basis computes all its windows into a scratch table
    (`..._<period>_all`, dropped afterwards), which is then split into the per-window tables.
    """
    analysis_plan = plan(spec, date)
    if not analysis_plan.tasks:
        return []
    total = len(analysis_plan.tasks) + 1
    enrollments = enrollments_table(spec.experiment.slug)
    backend.materialize(enrollments, enrollments_query(spec.experiment, analysis_plan.timeline)
                        .order_by(exp.column("client_id"), copy=False))
    done = 1
    if progress:
        progress(done, total, enrollments)
    segments = tuple(s.name for s in spec.segments)
    written: list[ClientMetricsTable] = []
    for group in _groups(analysis_plan.tasks):
        first = group[0]
        scratch = first.period_table
        backend.materialize(scratch, period_metrics_query(
            spec, tuple(t.window for t in group), first.basis, first.metrics,
            analysis_plan.timeline, enrollments), cluster_by=("window_index",))  # split below
        rows = {int(w): n for w, n in count_by(backend, scratch, "window_index").items()}
        for task in group:
            backend.materialize(task.table_name, _window_rows(scratch, task.window.number))
            written.append(ClientMetricsTable(
                task.table_name, task.window, task.basis, tuple(m.name for m in task.metrics),
                segments, rows.get(task.window.number, 0)))
            done += 1
            if progress:
                progress(done, total, task.table_name)
        backend.drop_table(scratch)
    return written
