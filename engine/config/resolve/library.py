"""Resolve the named definitions one experiment uses: merged library, templates, SQL checks.

A `Resolver` holds one resolution's state: the library merged from definitions < outcomes <
platform defaults < experiment config (per field, later layers win, an explicit false/0 too;
wildcard metric tables of the experiment apply to every matching metric below its own exact
table), the template context, the metrics and data sources resolved so far, and the findings.
Every SQL fragment is rendered and parsed. Nothing shared is mutated: merging builds new entries.
Metrics no layer of the experiment touches resolve the same for every experiment on a platform
and are cached in the repository.
"""
from __future__ import annotations

import fnmatch
from pathlib import Path
from types import MappingProxyType
from typing import Any

from engine.config.load import Document
from engine.config.repository import Entry, Library, Origin, Repository
from engine.config.resolve import sql_syntax
from engine.config.resolve.dates import experiment_dates
from engine.config.resolve.entries import (
    fragment_source,
    ratio_targets,
    statistics_of,
    strings,
    table_of,
)
from engine.config.resolve.merge import WILDCARD, MergedMetrics
from engine.config.resolve.references import (
    depends_on_references,
    hints_enabled,
    lookup,
    statistic_references,
)
from engine.config.resolve.templates import (
    ExperimentView,
    TemplateContext,
    TemplateError,
    render_source,
    render_sql,
)
from engine.config.spec import Branch, DataSource, Metric
from engine.experimenter import RegistryEntry
from engine.findings import Finding, Severity, has_errors

UNITS = {"client_id": "client", "profile_group_id": "profile_group"}


class Failed(Exception):
    """A fail-fast resolution met its first error."""


class Resolver:
    """State of one resolution: merged library, template context, caches, findings."""

    def __init__(self, doc: Document, repo: Repository, entry: RegistryEntry | None, platform: str,
                 fail_fast: bool = False):
        self.doc, self.repo, self.entry, self.platform = doc, repo, entry, platform
        self.config = table_of(doc.data.get("experiment"))
        self.findings: list[Finding] = []
        self.fail_fast, self.checked = fail_fast, 0
        # with a registry entry the selected outcomes are known: no other outcome's metric leaks in
        self.unselected_outcomes = entry is None
        self.metrics_done: dict[str, Metric | None] = {}
        self.sources_done: dict[str, DataSource | None] = {}

    def checkpoint(self) -> None:
        """In a fail-fast resolution, stop at the first error (the caller only needs ok/not ok)."""
        if len(self.findings) == self.checked:
            return
        if self.fail_fast and has_errors(self.findings[self.checked:]):
            raise Failed
        self.checked = len(self.findings)

    # -- layers ---------------------------------------------------------------------------
    def merge_layers(self, outcome_docs: list[tuple[str, Document]]) -> None:
        definitions = self.repo.platform_library(self.platform, outcomes=self.unselected_outcomes)
        self.outcome_libraries = [self.repo.library(d) for _, d in outcome_docs]
        defaults = self.repo.defaults.get(self.platform)
        self.defaults_library = self.repo.library(defaults) if defaults else Library()
        self.own = own = self.repo.library(self.doc)
        merged = definitions
        for library in [*self.outcome_libraries, self.defaults_library, own]:
            merged = merged.merge(library)
        exact = {n: e for n, e in own.metrics.items() if not WILDCARD & set(n)}
        wildcards = {n: e for n, e in own.metrics.items() if WILDCARD & set(n)}
        upper = [lib.metrics for lib in [*self.outcome_libraries, self.defaults_library]]
        metrics = MergedMetrics(definitions.metrics, upper, wildcards, exact)
        for pattern, overlay in wildcards.items():
            if not any(fnmatch.fnmatchcase(n, pattern) for n in metrics):
                self.findings.append(overlay.origin.finding(
                    "wildcard-matches-nothing", f"metric pattern {pattern!r} matches no metric",
                    severity=Severity.WARNING))
        self.library = Library(metrics, merged.data_sources, merged.segments,
                               merged.segment_data_sources, merged.parameters)
        layers = [own, *self.outcome_libraries]
        self.touched_metrics = frozenset(n for lib in layers for n in lib.metrics)
        self.touched_sources = frozenset(n for lib in layers for n in lib.data_sources)
        self.wildcards = tuple(wildcards)

    # -- templates --------------------------------------------------------------------------
    def render(self, template: Any, origin: Origin, what: str, kind: str) -> str | None:
        if not isinstance(template, str):
            return None
        try:
            rendered = self._render_sql(template)
        except TemplateError as error:
            self.template_finding(error, origin, what)
            return None
        self.findings += sql_syntax.check_sql(rendered, kind, origin, what, rendered != template)
        return rendered

    def _render_sql(self, template: str) -> str:
        """A template that reads neither `experiment` nor `parameters` renders the same for
        every experiment (only the repository's functions vary), so once per repository."""
        if "experiment" in template or "parameters" in template:
            return render_sql(template, self.context)
        key = ("rendered", template)
        if key not in self.repo.derived:
            self.repo.derived[key] = render_sql(template, self.context)
        return self.repo.derived[key]

    def template_finding(self, error: TemplateError, origin: Origin, what: str) -> None:
        start, _ = sql_syntax.fragment_start(origin)
        line = start + error.line - 1 if start is not None and error.line else origin.line
        self.findings.append(origin.finding(error.code, f"{what}: {error.message}", line=line))

    def render_from(self, entry: Entry, what: str, dataset: str | None) -> str | None:
        text = entry.get("from_expression")
        origin = entry.origin_of("from_expression")
        if not isinstance(text, str):
            self.findings.append(entry.origin.finding(
                "missing-from-expression", f"{what} has no from_expression"))
            return None
        try:
            rendered = render_source(text, self.context.experiment, dataset)
        except TemplateError as error:
            self.template_finding(error, origin, what)
            return None
        self.findings += sql_syntax.check_sql(rendered, sql_syntax.FROM, origin, what, rendered != text)
        return rendered

    # -- definitions ------------------------------------------------------------------------
    def data_source(self, name: str, origin: Origin) -> DataSource | None:
        entry, problems = lookup("data source", name, self.library.data_sources, origin,
                                 self.platform, "unknown-data-source")
        self.findings += problems
        if entry is None:
            return None
        if name not in self.sources_done:
            dataset = entry.get("default_dataset") or self.config.get("dataset_id")
            from_expression = self.render_from(entry, f"data source {name!r}", dataset)
            self.sources_done[name] = None if from_expression is None else DataSource(
                name=name, from_expression=from_expression,
                client_id_column=entry.get("client_id_column", "client_id"),
                submission_date_column=entry.get("submission_date_column", "submission_date"),
                experiments_column_type=entry.get("experiments_column_type", "simple"),
                default_dataset=dataset,
                group_id_column=entry.get("group_id_column", "profile_group_id"),
                analysis_units=tuple(UNITS.get(u, u) for u in entry.get("analysis_units", UNITS)),
                friendly_name=entry.get("friendly_name", ""), description=entry.get("description", ""),
                source=fragment_source(entry, "from_expression"))
        return self.sources_done[name]

    def shared(self, name: str) -> tuple[Metric | None, tuple[Finding, ...]] | None:
        """The platform-wide resolution of a metric no layer of this experiment touches (the
        same for every experiment on the platform, so cached in the repository), else None.
        Not for a metric whose SQL reads the experiment or parameters, nor for an experiment
        with its own `dataset_id` (its data sources render with it)."""
        if (name in self.touched_metrics or "dataset_id" in self.config
                or any(fnmatch.fnmatchcase(name, p) for p in self.wildcards)):
            return None
        key = (self.platform, name, self.unselected_outcomes)
        if key not in self.repo.shared_metrics:
            base = base_resolver(self.repo, self.platform, self.unselected_outcomes)
            entry = base.library.metrics[name]
            template = entry.get("select_expression")
            source_name = entry.get("data_source")
            source = base.library.data_sources.get(source_name) if isinstance(source_name, str) else None
            from_expression = source.get("from_expression") if source else None
            shareable = (isinstance(template, str) and "experiment" not in template
                         and "parameters" not in template and not entry.get("depends_on")
                         and not ratio_targets(entry)
                         and not (isinstance(from_expression, str) and "experiment" in from_expression))
            if shareable:
                with hints_enabled(True):  # cached for every later, reported, resolution
                    base.metric(name)
            self.repo.shared_metrics[key] = (entry.get("data_source"), base.metrics_done[name],
                                             tuple(base.findings)) if shareable else None
        cached = self.repo.shared_metrics[key]
        if cached is None or cached[0] in self.touched_sources:
            return None
        return cached[1], cached[2]

    def metric(self, name: str) -> Metric | None:
        if name in self.metrics_done:
            return self.metrics_done[name]
        shared = self.shared(name) if self.doc is not BASE_DOC else None
        if shared is not None:
            metric, findings = shared
            self.findings += findings
            self.metrics_done[name] = metric
            if metric is not None and metric.data_source is not None:
                self.sources_done.setdefault(metric.data_source.name, metric.data_source)
            return metric
        self.metrics_done[name] = None  # guards depends_on cycles
        entry = self.library.metrics[name]
        metrics = self.library.metrics
        self.findings += depends_on_references(entry, metrics, self.platform)
        self.findings += statistic_references(entry, metrics, self.platform)
        depends_on = strings(entry.get("depends_on"))
        for dependency in depends_on + ratio_targets(entry):
            if dependency in metrics:
                self.metric(dependency)
        select = entry.get("select_expression")
        if select is None and not depends_on:
            self.findings.append(entry.origin.finding(
                "unknown-metric", f"metric {name!r} is not defined for platform {self.platform}: "
                "nothing gives it a select_expression",
                "define select_expression and data_source here, or use a metric of the definitions"))
            return None
        rendered = self.render(select, entry.origin_of("select_expression"), f"metric {name!r}",
                               sql_syntax.EXPRESSION)
        source = None
        if entry.get("data_source") is not None or select is not None:
            source = self.data_source(entry.get("data_source"), entry.origin_of("data_source"))
        if select is not None and (rendered is None or source is None):
            return None
        bases = entry.get("analysis_bases") or entry.get("exposure_basis") or ("enrollments", "exposures")
        metric = Metric(
            name=name, select_expression=rendered, data_source=source,
            statistics=statistics_of(entry.get("statistics")),
            friendly_name=entry.get("friendly_name", ""), description=entry.get("description", ""),
            bigger_is_better=entry.get("bigger_is_better", True), category=entry.get("category"),
            type=entry.get("type"), depends_on=depends_on, analysis_bases=tuple(bases),
            analysis_units=tuple(UNITS.get(u, u) for u in entry.get("analysis_units", UNITS)),
            source=fragment_source(entry, "select_expression"))
        self.metrics_done[name] = metric
        self._check_units(entry, metric)
        return metric

    def _check_units(self, entry: Entry, metric: Metric) -> None:
        """Every analysis unit a metric declares must be one its data source supports."""
        source = metric.data_source
        if "analysis_units" not in entry.fields:  # the default (every unit) claims nothing
            return
        missing = [u for u in metric.analysis_units if source and u not in source.analysis_units]
        if missing:
            origin = entry.origin_of("analysis_units") if "analysis_units" in entry.fields else \
                entry.origin_of("data_source")
            self.findings.append(origin.finding(
                "unsupported-analysis-unit",
                f"metric {metric.name!r} is analysed by {', '.join(missing)}, which its data source "
                f"{source.name!r} does not support (its analysis_units: "
                f"{', '.join(source.analysis_units)})",
                "add the unit to the data source's analysis_units, or use another data source"))


BASE_DOC = Document("<platform defaults>", "", MappingProxyType({}), MappingProxyType({}))


def base_resolver(repo: Repository, platform: str, unselected_outcomes: bool = True) -> Resolver:
    """A fresh resolver of an empty experiment: resolves metrics only shared layers define."""
    resolver = Resolver(BASE_DOC, repo, None, platform)
    resolver.unselected_outcomes = unselected_outcomes
    resolver.merge_layers([])
    view = experiment_view(resolver, experiment_dates(BASE_DOC, None)[0], (), None)
    resolver.context = TemplateContext(view, repo.template_functions(), {})
    return resolver


def experiment_view(resolver: Resolver, dates: Any, branches: tuple[Branch, ...],
                    reference_branch: str | None) -> ExperimentView:
    start, end, period = dates.for_templates()
    entry, config = resolver.entry, resolver.config
    slug = Path(resolver.doc.path).stem
    return ExperimentView(
        normandy_slug=entry.normandy_slug if entry else slug, experimenter_slug=slug,
        start_date=start, end_date=end, enrollment_period=period, reference_branch=reference_branch,
        app_name=resolver.platform, app_id=entry.app_id if entry else None,
        branches=tuple(b.slug for b in branches), sample_size=config.get("sample_size"),
        analysis_unit=UNITS.get(config.get("analysis_unit", "client_id"), "client"))
