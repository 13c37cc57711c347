"""The queries one run materializes, in order: what `engine.run` executes and what the PR
plan's bill (`engine.check.bill`) dry-runs - one list, so the estimate is of the real run."""
from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from engine.plan.analysis_plan import (
    AnalysisPlan,
    WindowTask,
    client_windows_table,
    enrollments_table,
)
from engine.sql.enrollments import enrollments_query
from engine.sql.metrics import carried_rows, client_windows_query


@dataclass(frozen=True)
class RunQuery:
    table: str  # what it creates or replaces
    query: exp.Query
    what: str  # for people: which windows
    cluster_by: tuple[str, ...] = ()  # BigQuery: the statistics read one window at a time


def _windows(tasks: tuple[WindowTask, ...]) -> str:
    numbers: dict[str, list[int]] = {}
    for task in tasks:
        if task.window.number not in numbers.setdefault(task.window.period, []):
            numbers[task.window.period].append(task.window.number)
    return ", ".join(f"{p} {n[0]}" + (f"-{n[-1]}" if len(n) > 1 else "")
                     for p, n in numbers.items())


def run_queries(analysis_plan: AnalysisPlan, tasks: tuple[WindowTask, ...],
                carried: tuple[WindowTask, ...] = (), inline_enrollments: bool = False
                ) -> tuple[RunQuery, ...]:
    """Enrollments, then the per-client query of `tasks` (plus the `carried` rows of the
    previous per-client table). `inline_enrollments`: the second query computes the
    enrollments itself instead of reading their table (a dry run before the table exists)."""
    if not tasks or analysis_plan.timeline is None:
        return ()
    spec, timeline = analysis_plan.spec, analysis_plan.timeline
    slug = spec.experiment.slug
    table = client_windows_table(slug)
    query: exp.Query = client_windows_query(
        spec, tasks, timeline, None if inline_enrollments else enrollments_table(slug))
    if carried:
        periods = tuple(dict.fromkeys(t.window.period for t in carried))
        query = exp.union(exp.select("*").from_(query.subquery("computed")),
                          carried_rows(spec, table, periods), distinct=False)
    what = _windows(tasks) + (f" (+ carried {_windows(carried)})" if carried else "")
    return (RunQuery(enrollments_table(slug), enrollments_query(spec.experiment, timeline),
                     "enrollments"),
            RunQuery(table, query, what, ("period", "window_index")))
