"""Dry-run tier of `jetstream validate`: compile an experiment's queries against a warehouse.

The enrollments query is tried first (its failure would mask everything else); then each data
source's metrics together, and only when that fails each metric alone, so a binder error
(unknown column, table or function) points at the metric, segment or exposure signal - and its
config file and line - that caused it. Findings that no fragment owns (the enrollments query) are
placed on the experiment config; on BigQuery the dry run's byte estimate becomes a notice. Only
dry runs touch the warehouse: nothing is read.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from engine.backends.base import Backend, DryRunResult
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


def estimated_bytes(spec: AnalysisSpec, backend: Backend) -> int | None:
    """Bytes one window's per-client query would read (BigQuery); None when unknown."""
    metrics = tuple(m for ms in spec.metrics.values() for m in ms
                    if m.select_expression is not None and m.data_source is not None)
    return _probe(backend, spec, _timeline(spec), metrics).bytes_processed


_ENROLLMENTS = "enrollments query"  # how dry_run_experiment labels the enrollments query


@dataclass(frozen=True)
class DryRun:
    """One resolved experiment's dry run: findings on config lines, and BigQuery's byte
    estimate (None on DuckDB, or when the queries do not compile)."""
    findings: tuple[Finding, ...]
    bytes_estimate: int | None = None


def dry_run(spec: AnalysisSpec, doc: Document, backend: Backend) -> DryRun:
    try:
        found = tuple(_placed(f, spec, doc) for f in dry_run_experiment(spec, backend))
    except Exception as error:  # noqa: BLE001 - one experiment's dry run never stops the others
        return DryRun((Finding(doc.path, 1, None, Severity.ERROR, "dry-run-failed",
                               f"the queries could not be dry-run: {type(error).__name__}: {error}"),))
    size = None
    if backend.name == "bigquery" and not has_errors(found):
        size = estimated_bytes(spec, backend)
    return DryRun(found, size)


def bytes_notice(path: str, size: int) -> Finding:
    """The byte estimate as a notice on the experiment config (the CLI's way of showing it)."""
    return Finding(path, 1, None, Severity.NOTICE, "dry-run-bytes",
                   f"the per-client metrics query of one window reads {human_bytes(size)} "
                   f"({size} bytes) on BigQuery",
                   "a dry-run estimate; every window and analysis basis runs its own query")


def _placed(finding: Finding, spec: AnalysisSpec, doc: Document) -> Finding:
    if finding.line is not None or finding.path != doc.path:
        return finding
    line = None
    if spec.experiment.enrollment_query and finding.message.startswith(_ENROLLMENTS):
        line = doc.line_of(("experiment", "enrollment_query"))
    return dataclasses.replace(finding, line=line or 1)


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            break
        value /= 1000
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
