"""The queries one run materializes, in order: what `engine.run` executes and what the PR
plan's bill (`engine.check.bill`) dry-runs - one list, so the estimate is of the real run."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import exp

from engine.plan.analysis_plan import (
    AnalysisPlan,
    WindowTask,
    client_windows_table,
    enrollments_table,
)
from engine.sql.dialect import literal
from engine.sql.enrollments import enrollments_query
from engine.sql.metrics import EVERY_CLIENT, Clients, carried_rows, client_windows_query


@dataclass(frozen=True)
class RunQuery:
    table: str  # what it creates or replaces
    pieces: tuple[exp.Query, ...]  # the table is their UNION ALL
    what: str  # for people: which windows
    cluster_by: tuple[str, ...] = ()  # BigQuery: the statistics read one window at a time

    @property
    def query(self) -> exp.Query:
        """Every piece as one query (what a dry run bills)."""
        if len(self.pieces) == 1:
            return self.pieces[0]
        return exp.union(*(exp.select("*").from_(p.subquery("piece")) for p in self.pieces),
                         distinct=False)


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
    return (enrollments_run(analysis_plan),
            client_windows_run(analysis_plan, tasks, carried, inline_enrollments))


def enrollments_run(analysis_plan: AnalysisPlan) -> RunQuery:
    """The enrollments table of a plan with a timeline."""
    assert analysis_plan.timeline is not None
    experiment = analysis_plan.spec.experiment
    return RunQuery(enrollments_table(experiment.slug),
                    (enrollments_query(experiment, analysis_plan.timeline),), "enrollments")


def client_windows_run(analysis_plan: AnalysisPlan, tasks: tuple[WindowTask, ...],
                       carried: tuple[WindowTask, ...] = (), inline_enrollments: bool = False,
                       windows_per_piece: int | None = None,
                       shards: Sequence[Clients] = (EVERY_CLIENT,)) -> RunQuery:
    """The per-client table of `tasks` (and the `carried` rows, read first), in pieces of at
    most `windows_per_piece` windows (None: one) for each range of clients in `shards`; nearby
    days together, so that each piece scans only its windows' dates."""
    assert tasks and analysis_plan.timeline is not None
    spec, timeline = analysis_plan.spec, analysis_plan.timeline
    slug = spec.experiment.slug
    table = client_windows_table(slug)
    windows = sorted({t.window for t in tasks}, key=lambda w: (w.start, w.end, w.period, w.index))
    size = windows_per_piece or len(windows)
    groups = [set(windows[i:i + size]) for i in range(0, len(windows), size)]
    enrollments = None if inline_enrollments else enrollments_table(slug)
    pieces = [client_windows_query(spec, tuple(t for t in tasks if t.window in group), timeline,
                                   enrollments, clients)
              for group in groups for clients in shards]
    if carried:
        periods = tuple(dict.fromkeys(t.window.period for t in carried))
        pieces.insert(0, carried_rows(spec, table, periods))
    what = _windows(tasks) + (f" (+ carried {_windows(carried)})" if carried else "")
    return RunQuery(table, tuple(pieces), what, ("period", "window_index"))


def shard_boundaries(table: str, size: int) -> exp.Select:
    """The client ids that split the enrollments `table` into ranges of `size` clients: every
    size-th one in order (each the first of its range)."""
    number = exp.Window(this=exp.RowNumber(),
                        order=exp.Order(expressions=[exp.column("client_id")]))
    ranked = exp.select(exp.column("client_id"), exp.alias_(number - 1, "_r")).from_(
        exp.to_table(table))
    return (exp.select("client_id").from_(ranked.subquery("ranked"))
            .where(exp.and_(exp.column("_r") > 0,
                            exp.Mod(this=exp.column("_r"), expression=literal(size)).eq(0)))
            .order_by("client_id"))
