"""Dry-run tier of `jetstream validate`: compile an experiment's queries against a warehouse.

The enrollments query is tried first (its failure would mask everything else); then each data
source's metrics together, and only when that fails each metric alone, so a binder error
(unknown column, table or function) points at the metric, segment or exposure signal - and its
config file and line - that caused it. Findings that no fragment owns (the enrollments query) are
placed on the experiment config. On BigQuery, every query of the experiment's re-analysis is
dry-run too (engine.check.bill): their bytes are its bill, a warning above a threshold. Only
dry runs touch the warehouse: nothing is read.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from engine.backends.base import Backend, DryRunResult
from engine.check.bill import (
    DEFAULT_WARNING_BYTES,
    Bill,
    bill,
    bill_warning,
    human_bytes,
)
from engine.config.load import Document
from engine.config.spec import AnalysisSpec, Metric, Source
from engine.findings import Finding, Severity, has_errors
from engine.plan.analysis_plan import WindowTask
from engine.plan.windows import Timeline, timeline_of, window
from engine.sql.dialect import SqlError
from engine.sql.enrollments import enrollments_query
from engine.sql.metrics import client_windows_query

_PROBE_WINDOW = window("weekly", 0)


def _timeline(spec: AnalysisSpec) -> Timeline:
    """The experiment's own dates when known; any valid dates otherwise (dry runs only bind)."""
    known = timeline_of(spec.experiment)
    if known is not None:
        return known
    start = spec.experiment.start_date or dt.date(2024, 1, 1)
    return Timeline(start, start + dt.timedelta(days=6), None)


def _findings(result: DryRunResult, source: Source | None, fallback: str, what: str) -> list[Finding]:
    path = source.path if source else fallback
    line = source.line if source else None
    return [dataclasses.replace(f, path=path, line=line, message=f"{what}: {f.message}")
            for f in result.findings]


def _probe(backend: Backend, spec: AnalysisSpec, timeline: Timeline,
           metrics: tuple[Metric, ...], basis: str = "enrollments") -> DryRunResult:
    task = WindowTask(spec.experiment.slug, _PROBE_WINDOW, basis, metrics)
    try:
        query = client_windows_query(spec, (task,), timeline)
    except SqlError as err:
        return DryRunResult(None, (Finding("<sql>", None, None, Severity.ERROR, "sql-parse", str(err)),))
    return backend.dry_run(query)


def dry_run_experiment(spec: AnalysisSpec, backend: Backend) -> list[Finding]:
    fallback = spec.config_path or spec.experiment.slug
    timeline = _timeline(spec)
    try:
        enrollments = backend.dry_run(enrollments_query(spec.experiment, timeline))
    except SqlError as err:
        enrollments = DryRunResult(None, (Finding("<sql>", None, None, Severity.ERROR, "sql-parse", str(err)),))
    findings = _findings(enrollments, None, fallback, "enrollments query")
    if findings:
        return findings
    bare = dataclasses.replace(spec, segments=())
    signal = spec.experiment.exposure_signal
    exposures = _probe(backend, bare, timeline, (), "exposures")
    findings += _findings(exposures, signal.source if signal else None, fallback,
                          f"exposure signal {signal.name if signal else '(default)'}")
    for segment in spec.segments:
        result = _probe(backend, dataclasses.replace(spec, segments=(segment,)), timeline, ())
        findings += _findings(result, segment.source or segment.data_source.source, fallback,
                              f"segment {segment.name}")
    by_source: dict[str, dict[str, Metric]] = {}
    for metrics in spec.metrics.values():
        for metric in metrics:
            if metric.select_expression is not None and metric.data_source is not None:
                by_source.setdefault(metric.data_source.name, {})[metric.name] = metric
    for group in by_source.values():
        if _probe(backend, bare, timeline, tuple(group.values())).ok:
            continue
        for metric in group.values():
            result = _probe(backend, bare, timeline, (metric,))
            findings += _findings(result, metric.source or metric.data_source.source, fallback,
                                  f"metric {metric.name}")
    return findings


_ENROLLMENTS = "enrollments query"  # how dry_run_experiment labels the enrollments query


@dataclass(frozen=True)
class DryRun:
    """One resolved experiment's dry run: findings on config lines, and on BigQuery the bill
    of its re-analysis (None on DuckDB, without a date, or when the queries do not compile)."""
    findings: tuple[Finding, ...]
    bill: Bill | None = None


def dry_run(spec: AnalysisSpec, doc: Document, backend: Backend, date: dt.date | None = None,
            warn_bytes: int = DEFAULT_WARNING_BYTES) -> DryRun:
    """Findings of the experiment's queries; on BigQuery with a `date`, the bill of a full
    re-analysis for that date too, and a warning when it exceeds `warn_bytes`."""
    try:
        found = tuple(_placed(f, spec, doc) for f in dry_run_experiment(spec, backend))
    except Exception as error:  # noqa: BLE001 - one experiment's dry run never stops the others
        return DryRun((Finding(doc.path, 1, None, Severity.ERROR, "dry-run-failed",
                               f"the queries could not be dry-run: {type(error).__name__}: {error}"),))
    if backend.name != "bigquery" or date is None or has_errors(found):
        return DryRun(found)
    estimate = bill(spec, backend, date)
    warning = bill_warning(doc.path, estimate.total, warn_bytes) if estimate.total else None
    return DryRun(found + ((warning,) if warning else ()), estimate)


def bytes_notice(path: str, estimate: Bill) -> Finding:
    """The bill as a notice on the experiment config (the CLI's way of showing it)."""
    size = estimate.total or 0
    return Finding(path, 1, None, Severity.NOTICE, "dry-run-bytes",
                   f"re-analysing it for {estimate.date} reads {human_bytes(size)} ({size} bytes) "
                   f"on BigQuery in {len(estimate.queries)} queries",
                   "a dry-run estimate of every query the run makes: "
                   + "; ".join(f"{q.table}: {human_bytes(q.bytes or 0)}" for q in estimate.queries))


def _placed(finding: Finding, spec: AnalysisSpec, doc: Document) -> Finding:
    if finding.line is not None or finding.path != doc.path:
        return finding
    line = None
    if spec.experiment.enrollment_query and finding.message.startswith(_ENROLLMENTS):
        line = doc.line_of(("experiment", "enrollment_query"))
    return dataclasses.replace(finding, line=line or 1)
