"""Validate a config root (or some of its files): structure, references, dates, templates, SQL.

Experiments are resolved where they can run (`engine.config.resolve.platforms`); changed
outcomes, defaults and definitions are checked by resolving what they define. With a backend,
the queries of each resolved experiment are dry-run too (`engine.check.dry_run`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Mapping, Sequence

from engine.config.load import Document, load_document
from engine.config.repository import Repository, load_repository
from engine.config.resolve.library import base_resolver
from engine.config.resolve.parameters import merge_parameters
from engine.config.resolve.platforms import resolve_everywhere
from engine.config.schema.structure import check_structure
from engine.config.spec import AnalysisSpec
from engine.experimenter import Registry
from engine.findings import Finding, Severity, has_errors

if TYPE_CHECKING:
    from engine.backends.base import Backend
    from engine.check.bill import Bill


_REFERENCE_CODES = frozenset({"unknown-metric", "unknown-data-source", "unknown-segment-data-source"})


@dataclass(frozen=True)
class ExperimentResult:
    slug: str
    path: str
    resolved_on: tuple[str, ...]
    findings: tuple[Finding, ...]
    spec: AnalysisSpec | None = field(default=None, compare=False, repr=False)  # first platform's
    bill: "Bill | None" = field(default=None, compare=False)  # BigQuery: its re-analysis' bill

    @property
    def bytes_estimate(self) -> int | None:
        """BigQuery's dry-run estimate of every query a re-analysis runs (None: unknown)."""
        return self.bill.total if self.bill is not None else None

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)


@dataclass(frozen=True)
class ValidationReport:
    findings: tuple[Finding, ...]
    experiments: Mapping[str, ExperimentResult]
    files_checked: int

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)

    @property
    def errors(self) -> int:
        return sum(f.severity is Severity.ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity is Severity.WARNING for f in self.findings)


def _check_shared(doc: Document, kind: str, repo: Repository) -> list[Finding]:
    """Resolve every metric an outcome, defaults or definitions file defines, on its platform."""
    platform = Path(doc.path).stem if kind in ("defaults", "definitions") else Path(doc.path).parent.name
    if platform not in repo.definitions:
        return []
    resolver = base_resolver(repo, platform)
    names = list(repo.library(doc).metrics)
    if kind == "outcome":
        outcome_lib = repo.library(doc)
        resolver.outcome_libraries = [outcome_lib]
        resolver.library = resolver.library.merge(outcome_lib)
        parameters, problems = merge_parameters([outcome_lib.parameters], ())
        resolver.findings += problems
        resolver.context = replace(resolver.context, parameters=parameters)
    for name in names:
        if name in resolver.library.metrics:
            resolver.metric(name)
    for name in repo.library(doc).data_sources:
        origin = repo.library(doc).data_sources[name].origin
        resolver.data_source(name, origin)
    findings = [f for f in resolver.findings if f.path == doc.path]
    if kind == "definitions":  # a dangling definition only breaks the configs that use it
        findings = [replace(f, severity=Severity.WARNING, hint="an error for any config that uses it")
                    if f.code in _REFERENCE_CODES else f for f in findings]
    return findings


def validate(config_root: Path, paths: Sequence[Path] | None = None, *, registry: Registry | None = None,
             platform: str | None = None, repository: Repository | None = None,
             backend: Backend | None = None, date: dt.date | None = None,
             bill_warning: int | None = None) -> ValidationReport:
    """Validate every config under `config_root`, or only `paths` (files or directories).

    With a `backend`, every experiment that resolves also has its queries dry-run there; on
    BigQuery with a `date`, so are all the queries of its re-analysis for that date (the
    bill), with a warning above `bill_warning` bytes (default: engine.check.bill's)."""
    repo = repository or load_repository(config_root)
    layout = repo.layout
    selected: list[tuple[Document, str]] = []
    if paths:
        for path in _expand(paths):
            shown = layout.display(path)
            doc = repo.documents.get(shown) or load_document(path, shown)
            selected.append((doc, layout.kind_of(path) or "experiment"))
    else:
        selected = [(repo.documents[p], kind) for p, kind in repo.kinds.items()]
    findings: list[Finding] = []
    experiments: dict[str, ExperimentResult] = {}
    for doc, kind in selected:
        findings += doc.findings
        if not doc.ok:
            continue
        findings += check_structure(doc, kind)
        if kind == "experiment":
            resolved_on, found, resolution = resolve_everywhere(doc, repo, registry, platform)
            spec = resolution.spec if resolution else None
            estimate = None
            if backend is not None and spec is not None:
                from engine.check.bill import DEFAULT_WARNING_BYTES
                from engine.check.dry_run import dry_run  # imports the SQL engine
                checked = dry_run(spec, doc, backend, date,
                                  DEFAULT_WARNING_BYTES if bill_warning is None else bill_warning)
                found, estimate = found + checked.findings, checked.bill
            experiments[Path(doc.path).stem] = ExperimentResult(Path(doc.path).stem, doc.path,
                                                                resolved_on, found, spec, estimate)
            findings += found
        elif kind in ("outcome", "defaults", "definitions"):
            findings += _check_shared(doc, kind, repo)
    unique = sorted(dict.fromkeys(findings), key=lambda f: (f.path, f.line or 0, f.column or 0, f.code))
    return ValidationReport(tuple(unique), MappingProxyType(experiments), len(selected))


def _expand(paths: Sequence[Path]) -> list[Path]:
    result: list[Path] = []
    for path in paths:
        path = Path(path)
        result += sorted(path.rglob("*.toml")) if path.is_dir() else [path]
    return result
