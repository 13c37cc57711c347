"""Per-client metrics for one experiment and date: enrollments, then one query for every window.

Tables: `enrollments_<slug>` and `client_windows_<slug>` (see engine.sql.metrics): one row per
unit, period and window of the run, both analysis bases; the statistics read each window's
rows straight from it (`window_rows`, sorted by unit, so reruns reproduce every number). Each
table is replaced atomically by the backend, so a rerun replaces and never duplicates, and a
failing query leaves the previous version in place.

A full run (a merge re-analysis, `--recompute`) computes every ready window. A daily run
(`recompute=False`) computes only the windows that became ready on its date, and ready windows
whose results are missing (a missed day); the others keep their results. Pre-enrollment rows
(the covariates of later windows) are carried over from the previous table when not computed.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass

from sqlglot import exp

from engine.backends.base import Backend
from engine.config.spec import AnalysisSpec
from engine.plan.analysis_plan import client_windows_table, plan
from engine.plan.windows import Window
from engine.sql.metrics import EVERY_CLIENT, Clients, window_rows
from engine.sql.queries import client_windows_run, enrollments_run, shard_boundaries

Progress = Callable[[int, int, str], None]  # (done, total, table name)


@dataclass(frozen=True)
class ClientMetricsTable:
    """One window and basis of the per-client table, as the statistics step consumes it;
    `carried` windows were computed by an earlier run (covariates only, no new results)."""

    table: str
    window: Window
    basis: str
    metrics: tuple[str, ...]
    segments: tuple[str, ...]
    rows: int
    carried: bool = False

    @property
    def period(self) -> str:
        return self.window.period

    def rows_query(self) -> exp.Select:
        return window_rows(self.table, self.window, self.basis)


def _counts(backend: Backend, table: str) -> dict[tuple[str, int], tuple[int, int]]:
    """(rows, exposed rows) per period and window of the per-client table."""
    tree = (exp.select("period", "window_index", exp.func("COUNT", exp.Star()).as_("n"),
                       exp.func("COUNT", exp.column("exposure_date")).as_("exposed"))
            .from_(exp.to_table(table)).group_by("period", "window_index"))
    frame = backend.query(tree)
    return {(str(p), int(w)): (int(n), int(e)) for p, w, n, e in
            zip(frame["period"], frame["window_index"], frame["n"], frame["exposed"])}


def _pieces(backend: Backend, enrollments: str, windows: int
            ) -> tuple[int | None, tuple[Clients, ...]]:
    """Windows per statement of the per-client table and the ranges of clients each is built
    for: everything at once, unless the backend bounds the rows of a statement (each window
    has a row per enrolled unit); then whole windows, or one window for a range of clients."""
    if backend.rows_per_statement is None:
        return None, (EVERY_CLIENT,)
    budget = max(1, backend.rows_per_statement)
    frame = backend.query(exp.select(exp.func("COUNT", exp.Star()).as_("n"))
                          .from_(exp.to_table(enrollments)))
    enrolled = int(frame["n"].iloc[0])
    if enrolled <= budget:
        return max(1, min(windows, budget // max(enrolled, 1))), (EVERY_CLIENT,)
    ranges = math.ceil(enrolled / budget)
    size = math.ceil(enrolled / ranges)  # equal ranges of at most `budget` clients
    bounds = [str(b) for b in backend.query(shard_boundaries(enrollments, size))["client_id"]]
    return 1, tuple(zip([None, *bounds], [*bounds, None]))


def compute_client_metrics(
    spec: AnalysisSpec,
    backend: Backend,
    date: dt.date,
    progress: Progress | None = None,
    done: Collection[tuple[str, int]] | None = None,
) -> list[ClientMetricsTable]:
    """Compute the per-client rows of the run for `date`; returns what the statistics read.
    `done`: the (period, window number) with results, for a daily run; None for a full one."""
    analysis_plan = plan(spec, date)
    table = client_windows_table(spec.experiment.slug)
    tasks, carried = analysis_plan.run_tasks(done, backend.table_exists(table))
    if not tasks or analysis_plan.timeline is None:
        return []
    enrollments = enrollments_run(analysis_plan)
    backend.materialize(enrollments.table, enrollments.query)
    if progress:
        progress(1, 3, enrollments.table)
    per_piece, shards = _pieces(backend, enrollments.table, len({t.window for t in tasks}))
    windows = client_windows_run(analysis_plan, tasks, carried, windows_per_piece=per_piece,
                                 shards=shards)
    backend.materialize(table, windows.pieces[0], cluster_by=windows.cluster_by,
                        more=windows.pieces[1:])
    if progress:
        progress(2, 3, table)
    counts = _counts(backend, table)
    segments = tuple(s.name for s in spec.segments)
    written = []
    for task, is_carried in [*((t, False) for t in tasks), *((t, True) for t in carried)]:
        rows, exposed = counts.get((task.window.period, task.window.number), (0, 0))
        written.append(ClientMetricsTable(
            table, task.window, task.basis, tuple(m.name for m in task.metrics), segments,
            exposed if task.basis == "exposures" else rows, is_carried))
    if progress:
        progress(3, 3, table)
    return written
