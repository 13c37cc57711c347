"""What a run will bill: every query it materializes (engine.sql.queries), dry-run.

A merge re-analysis runs a full recompute for the day before the merge: the enrollments query,
then the one per-client query of every ready window. BigQuery answers each dry run with the
bytes it would bill (DuckDB has no estimate). The per-client query reads the enrollments table,
which does not exist before the run, so its dry run computes the enrollments inline: the
estimate counts the enrollment scan twice (an overestimate by at most the enrollments query's
bytes). The statistics then read the per-client table (our own, small next to telemetry).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Collection

from engine.backends.base import Backend
from engine.config.spec import AnalysisSpec
from engine.findings import Finding, Severity
from engine.plan.analysis_plan import plan
from engine.sql.dialect import SqlError
from engine.sql.queries import run_queries

DEFAULT_WARNING_BYTES = 10**12  # 1 TB: about $6 at BigQuery's on-demand price


@dataclass(frozen=True)
class QueryCost:
    table: str
    what: str
    bytes: int | None  # None: no estimate (DuckDB, or the dry run failed)
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class Bill:
    slug: str
    date: dt.date  # the analysis date the queries are for
    queries: tuple[QueryCost, ...]

    @property
    def total(self) -> int | None:
        """Bytes of every query, when every one has an estimate."""
        sizes = [q.bytes for q in self.queries]
        return sum(sizes) if sizes and None not in sizes else None


def analysis_date(spec: AnalysisSpec, date: dt.date) -> dt.date:
    """The date a run for `date` analyses: the end date once the experiment has ended."""
    end = spec.experiment.end_date
    return min(date, end) if end is not None else date


def bill(spec: AnalysisSpec, backend: Backend, date: dt.date,
         done: Collection[tuple[str, int]] | None = None, has_previous: bool = False) -> Bill:
    """Dry runs of the queries a run for `date` makes: a full one (`done` None, as a merge
    re-analysis) or a daily one (`done`: the windows with results)."""
    day = analysis_date(spec, date)
    analysis_plan = plan(spec, day)
    tasks, carried = analysis_plan.run_tasks(done, has_previous)
    costs = []
    try:
        queries = run_queries(analysis_plan, tasks, carried, inline_enrollments=True)
    except SqlError as error:
        return Bill(spec.experiment.slug, day, (QueryCost("", "queries", None, (Finding(
            "<sql>", None, None, Severity.ERROR, "sql-parse", str(error)),)),))
    for query in queries:
        result = backend.dry_run(query.query)
        costs.append(QueryCost(query.table, query.what, result.bytes_processed,
                               tuple(result.findings)))
    return Bill(spec.experiment.slug, day, tuple(costs))


def bill_warning(path: str, total: int, threshold: int) -> Finding | None:
    """A warning on the experiment config when its re-analysis would bill more than
    `threshold` bytes."""
    if total <= threshold:
        return None
    return Finding(path, 1, None, Severity.WARNING, "dry-run-bill",
                   f"re-analysing this experiment would bill {human_bytes(total)} on BigQuery "
                   f"(dry-run estimate of every query the run makes), above the warning "
                   f"threshold of {human_bytes(threshold)}",
                   "fewer metrics, periods or a sample_size reduce it; the threshold is "
                   "--bill-warning (validate) or JETSTREAM_BILL_WARNING_BYTES (bot)")


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            break
        value /= 1000
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
