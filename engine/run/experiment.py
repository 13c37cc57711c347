"""Run one experiment end to end for a date, idempotently.

runnable checks -> per-client metric tables (engine.run.client_metrics) -> pre-treatments and statistics
per window, basis, segment and metric -> sample-ratio test -> result tables -> JSON export.

Every table write is atomic and the export is written only after every table, so a run killed
midway leaves each table and file either as it was or fully replaced. Seeds depend only on
what is computed, so a rerun for the same date writes identical tables and files. Failures are
recorded as `ErrorRecord`s (and exported) instead of propagating.
"""
from __future__ import annotations

import datetime as dt
import queue
import time
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd
from sqlglot import exp

from engine.backends.base import Backend
from engine.config.spec import PERIODS, AnalysisSpec, ExperimentSpec, Metric
from engine.plan.analysis_plan import client_covariates_table, enrollments_table
from engine.results.export import Sink, export_errors, export_experiment
from engine.results.metadata import (
    ErrorRecord,
    MetadataContext,
    build_metadata,
    errors_list,
    srm_dict,
)
from engine.results.tables import read_period_frame, window_tables, write_windows
from engine.run.client_metrics import ClientMetricsTable, compute_client_metrics
from engine.run.statistics import (
    WindowInput,
    covariate_column,
    covariates_wanted,
    window_statistics,
)
from engine.run.warehouse_source import WarehouseSource, window_groups
from engine.sql.metrics import covariate_rows, window_relation
from engine.statistics.drive import SourceBroken, in_process
from engine.statistics.records import StatisticRecord
from engine.statistics.resample import replicates
from engine.statistics.srm import srm_test

Progress = Callable[[float, str], None]  # (fraction of this experiment done, what is running)


@dataclass(frozen=True)
class Runnable:
    status: str  # "run" | "skipped" | "failed"
    reason: str = ""
    date: dt.date | None = None  # the date analysed (clamped to the end date once ended)


@dataclass(frozen=True)
class ExperimentOutcome:
    slug: str
    status: str  # "ok" | "failed" | "skipped"
    reason: str = ""
    windows: int = 0
    errors: tuple[ErrorRecord, ...] = ()
    files: tuple[str, ...] = field(default=())
    seconds: float = field(default=0.0, compare=False)  # wall time, set by the caller
    stages: tuple[tuple[str, float], ...] = field(default=(), compare=False)  # (stage, seconds)


def check_runnable(experiment: ExperimentSpec, date: dt.date) -> Runnable:
    if experiment.skip:
        return Runnable("skipped", "skip = true in its config")
    if experiment.is_rollout:
        return Runnable("skipped", "a rollout has no branches to compare")
    if experiment.start_date is None:
        return Runnable("failed", "no start date (neither configured nor in the registry)")
    last = experiment.last_enrollment_date
    if last is None:
        return Runnable("failed", "no enrollment period (neither configured nor in the registry)")
    if date < experiment.start_date:
        return Runnable("skipped", f"not started (starts {experiment.start_date})")
    if date < last:
        return Runnable("skipped", f"enrollment not complete (last enrollment day {last})")
    if experiment.end_date is not None and date > experiment.end_date:
        return Runnable("run", f"ended on {experiment.end_date}", experiment.end_date)
    return Runnable("run", "", date)


def _branch_counts(backend: Backend, rows: exp.Query) -> dict[str, int]:
    tree = (exp.select("branch", exp.func("COUNT", exp.Star()).as_("n"))
            .from_(rows.subquery("r")).group_by("branch").order_by("branch"))
    frame = backend.query(tree)
    return {str(b): int(n) for b, n in zip(frame["branch"], frame["n"])}


def windows_with_results(backend: Backend, spec: AnalysisSpec) -> set[tuple[str, int]]:
    """(period, window number) of every window that has a result table."""
    return {(period, number) for period in spec.metrics
            for number in window_tables(backend, spec.experiment.slug, period)}


def _table_metrics(spec: AnalysisSpec, table: ClientMetricsTable) -> tuple[Metric, ...]:
    """The period's metrics in this table, plus derived ones (population_ratio) on this basis."""
    return tuple(m for m in spec.metrics.get(table.period, ())
                 if m.name in table.metrics
                 or (m.select_expression is None and table.basis in m.analysis_bases))


# Window groups whose statistics run at once, each on a connection of its own: one group's
# Python (records, replicate draws) runs while the warehouse answers another's queries (1M
# clients on 2 cores: the whole analyse 135 s with one, 118 s with two).
GROUPS_IN_FLIGHT = 2


@contextmanager
def _readers(backend: Backend, count: int) -> Iterator[queue.SimpleQueue[Backend]]:
    """`backend` and `count - 1` readers of it, to take one each while querying; the readers
    are closed afterwards (a backend that is its own reader is not)."""
    others = [backend.reader() for _ in range(count - 1)]
    readers: queue.SimpleQueue[Backend] = queue.SimpleQueue()
    for each in (backend, *others):
        readers.put(each)
    try:
        yield readers
    finally:
        for other in others:
            if other is not backend:
                other.close()


class _Run:
    """The state of one experiment's analysis; `analyse_experiment` is its only user."""

    def __init__(self, spec: AnalysisSpec, backend: Backend, date: dt.date, progress: Progress | None):
        self.spec, self.backend, self.date = spec, backend, date
        self.slug = spec.experiment.slug
        self.progress = progress or (lambda fraction, what: None)
        self.errors: list[ErrorRecord] = []
        self.covariate_metrics: dict[str, str] = {}  # joined covariate column -> its metric
        self.stages: list[tuple[str, float]] = []
        self._lap = time.perf_counter()

    def lap(self, stage: str) -> None:
        """Close a stage: its wall time goes into the outcome (demo and CLI summaries)."""
        now = time.perf_counter()
        self.stages.append((stage, now - self._lap))
        self._lap = now

    def error(self, stage: str, error: BaseException, **where: Any) -> None:
        self.errors.append(ErrorRecord.from_exception(
            error, experiment=self.slug, analysis_date=self.date.isoformat(), stage=stage, **where))

    def _inputs(self, tables: list[ClientMetricsTable]
                ) -> list[tuple[WindowInput, exp.Query]]:
        """Every new window table with its rows' relation. The covariates every window asks
        for (pre-enrollment values, enrollments basis) are first gathered into one table, a
        row per unit, which each window's relation joins once."""
        experiment = self.spec.experiment
        branches = tuple(b.slug for b in experiment.branches)
        pre = {t.period: t for t in tables
               if t.window.is_preenrollment and t.basis == "enrollments"}
        new = []
        for table in tables:
            if not table.carried:
                metrics = _table_metrics(self.spec, table)
                new.append((table, metrics, [
                    (covariate_column(metric, period), pre[period].window, metric)
                    for metric, period in sorted(covariates_wanted(metrics))
                    if period in pre and metric in pre[period].metrics]))
        wanted = sorted({c for _, _, joined in new for c in joined}, key=lambda c: c[0])
        self.covariate_metrics = {alias: metric for alias, _, metric in wanted}
        covariates = client_covariates_table(self.slug)
        if wanted:
            self.backend.materialize(covariates, covariate_rows(new[0][0].table, wanted))
        inputs = []
        for table, metrics, joined in new:
            aliases = [alias for alias, _, _ in joined]
            relation = window_relation(table.table, table.window, table.basis, aliases, covariates)
            inputs.append((WindowInput(
                self.slug, self.date.isoformat(), table.period, table.window.number,
                table.window.length, table.basis, metrics, table.segments,
                experiment.reference_branch or branches[0], branches,
                frozenset((*table.metrics, *table.segments, *aliases)), table.rows),
                relation))
        return inputs

    def statistics(self, tables: list[ClientMetricsTable], executor: Executor | None = None
                   ) -> dict[tuple[str, int], list] | None:
        """Records per (period, window number), None if the statistics step itself broke (a
        worker died); replicate draws run in `executor` when given."""
        local = in_process if executor is None else partial(_in_pool, executor)
        windows: dict[tuple[str, int], list[StatisticRecord]] = {
            (t.period, t.window.number): [] for t in tables if not t.carried}
        try:
            inputs = self._inputs(tables)
            if not inputs:
                return windows
            groups = window_groups([item.rows for item, _ in inputs])
            booleans = boolean_columns(self.backend, tables[0].table, self.covariate_metrics)
            with _readers(self.backend, min(len(groups), GROUPS_IN_FLIGHT)) as readers:

                def group_statistics(done: int, group: range) -> list:
                    self.progress(0.6 + 0.3 * done / len(groups),
                                  f"statistics of window tables {group.start + 1}-{group.stop} "
                                  f"of {len(inputs)}")
                    items = [inputs[i][0] for i in group]  # keyed by position in the group
                    backend = readers.get()  # a connection of its own while the group runs
                    try:
                        source = WarehouseSource(
                            backend, {j: inputs[i][1] for j, i in enumerate(group)}, booleans,
                            {j: item.rows for j, item in enumerate(items)},
                            {j: item.columns for j, item in enumerate(items)})
                        return window_statistics(items, source.evaluate, local)
                    finally:
                        readers.put(backend)

                with ThreadPoolExecutor(max_workers=readers.qsize()) as pool:
                    results = [r for done in pool.map(group_statistics, range(len(groups)),
                                                      groups) for r in done]
        except Exception as error:  # noqa: BLE001 - e.g. a worker process died
            self.error("statistics", error)
            return None
        for (item, _), (records, errors) in zip(inputs, results):
            windows[(item.period, item.window_index)] += records
            self.errors += errors
        return windows

    def sample_ratio(self, tables: list[ClientMetricsTable]) -> tuple[dict, dict]:
        ratios = {b.slug: b.ratio for b in self.spec.experiment.branches}
        enrolled = exp.select("*").from_(exp.to_table(enrollments_table(self.slug)))
        sources: dict[str, exp.Query] = {"enrollments": enrolled}
        exposed = [t for t in tables if t.basis == "exposures"]
        if exposed:  # the longest exposure window counts everyone exposed so far
            longest = max(exposed, key=lambda t: (t.window.end, -t.window.start))
            sources["exposures"] = longest.rows_query()
        counts, tests = {}, {}
        for basis, rows in sources.items():
            try:
                counts[basis] = _branch_counts(self.backend, rows)
                tests[basis] = srm_dict(srm_test(counts[basis], ratios))
            except Exception as error:  # noqa: BLE001
                self.error("srm", error, analysis_basis=basis)
        return counts, {b: _json_safe(t) for b, t in tests.items()}


def boolean_columns(backend: Backend, table: str, covariates: Mapping[str, str]) -> set[str]:
    """The BOOL columns of the per-client table and of the covariates joined from it (BigQuery
    casts no BOOL to FLOAT64): one query that reads nothing."""
    empty = backend.query(exp.select("*").from_(exp.to_table(table)).limit(0))
    booleans = {str(c) for c in empty.columns if pd.api.types.is_bool_dtype(empty[c])}
    return booleans | {alias for alias, metric in covariates.items() if metric in booleans}


def _in_pool(executor: Executor, requests: list) -> list:
    """Local requests (replicate draws) spread over the worker processes."""
    chunk = max(1, len(requests) // (4 * (getattr(executor, "_max_workers", 1) or 1)))
    try:
        return list(executor.map(replicates, requests, chunksize=chunk))
    except BrokenExecutor as error:
        raise SourceBroken(str(error)) from error


def _json_safe(value: Any) -> Any:
    """SRM dicts may hold infinities (a stray branch); JSON has no such number."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return None
    return value


def analyse_experiment(spec: AnalysisSpec, backend: Backend, date: dt.date, sink: Sink, *,
                       commit: str | None = None, progress: Progress | None = None,
                       context: MetadataContext | None = None,
                       executor: Executor | None = None, recompute: bool = True
                       ) -> ExperimentOutcome:
    """Analyse one experiment for `date`; never raises for a failure of the experiment.
    With an `executor` (engine.run.pool), replicate draws run in its worker processes while
    the warehouse computes the summaries; `context` adds the display name, outcomes and default metrics to the metadata. Without `recompute`
    (the daily run), only windows that became ready on `date` or have no results yet are
    computed; the others keep their results."""
    slug = spec.experiment.slug
    check = check_runnable(spec.experiment, date)
    if check.status == "skipped":
        return ExperimentOutcome(slug, "skipped", check.reason)
    run = _Run(spec, backend, check.date or date, progress)
    if check.status == "failed":
        run.errors.append(ErrorRecord(slug, date.isoformat(), "runnable", check.reason))
        return _finish(run, sink, check.reason, 0)
    try:
        tables = compute_client_metrics(  # the date asked for: after the end, nothing is new
            spec, backend, date,
            progress=lambda done, total, name: run.progress(0.5 * done / total, name),
            done=None if recompute else windows_with_results(backend, spec))
    except Exception as error:  # noqa: BLE001
        run.error("metrics", error)
        return _finish(run, sink, "per-client metrics failed", 0)
    run.lap("metrics")
    windows = run.statistics(tables, executor)
    if windows is None:  # publish nothing rather than a partial set of windows
        return _finish(run, sink, "statistics failed", 0)
    counts, tests = run.sample_ratio(tables)
    run.lap("statistics")
    run.progress(0.9, "result tables")
    try:
        for period in PERIODS:
            mine = {n: records for (p, n), records in windows.items() if p == period}
            if mine:
                write_windows(backend, slug, period, mine)
        statistics = {p: read_period_frame(backend, slug, p) for p in PERIODS}
    except Exception as error:  # noqa: BLE001
        run.error("tables", error)
        return _finish(run, sink, "writing result tables failed", 0)
    run.lap("tables")
    run.progress(0.95, "export")
    metadata = build_metadata(spec, run.date, commit=commit, enrollment=counts,
                              sample_ratio=tests, context=context)
    try:
        files = export_experiment(sink, slug, {p: r for p, r in statistics.items() if len(r)},
                                  metadata, errors_list(run.errors))
    except Exception as error:  # noqa: BLE001
        run.error("export", error)
        return _finish(run, sink, "export failed", len(windows))
    run.progress(1.0, "done")
    run.lap("export")
    status = "failed" if any(e.log_level == "ERROR" for e in run.errors) else "ok"
    return ExperimentOutcome(slug, status, check.reason, len(windows), tuple(run.errors),
                             tuple(files), stages=tuple(run.stages))


def _finish(run: _Run, sink: Sink, reason: str, windows: int) -> ExperimentOutcome:
    """A failed run: export its errors (best effort), leave every result as it was."""
    files: tuple[str, ...] = ()
    try:
        files = (export_errors(sink, run.slug, errors_list(run.errors)),)
    except Exception as error:  # noqa: BLE001
        run.error("export", error)
    return ExperimentOutcome(run.slug, "failed", reason, windows, tuple(run.errors), files)
