"""Merge definitions < outcomes < platform defaults < experiment config into an AnalysisSpec.

Per field, later layers win (an explicit false/0 too); tables merge recursively; wildcard
metric tables (`[metrics."search_*"]`) of the experiment apply to every matching metric below
the experiment's own exact table. Templates are rendered and every SQL fragment is parsed.
Nothing shared is mutated: merging builds new entries.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from engine.config import sqlcheck
from engine.config.dates import experiment_dates
from engine.config.entries import (fragment_source, ratio_targets, statistics_of, strings,
                                   table_of)
from engine.config.load import Document
from engine.config.merged import WILDCARD, MergedMetrics
from engine.config.parameters import merge_parameters
from engine.config.references import (depends_on_references, did_you_mean, element_line,
                                      hints_enabled, lookup, outcome_documents,
                                      statistic_references)
from engine.config.repository import Entry, Library, Origin, Repository, entry_of
from engine.config.spec import (PERIOD_ALIASES, PERIODS, AnalysisSpec, Branch, DataSource,
                                ExperimentSpec, ExposureSignal, Metric, Segment,
                                SegmentDataSource)
from engine.config.templates import (ExperimentView, TemplateContext, TemplateError,
                                     render_source, render_sql)
from engine.findings import Finding, Severity, has_errors
from engine.registry import RegistryEntry

OUTCOME_PERIODS = ("weekly", "overall")  # outcome metrics are analysed in these periods
_UNITS = {"client_id": "client", "profile_group_id": "profile_group"}


@dataclass(frozen=True)
class Resolution:
    platform: str
    spec: AnalysisSpec | None
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return self.spec is not None


class _Resolver:
    """State of one resolution: merged library, template context, caches, findings."""

    def __init__(self, doc: Document, repo: Repository, entry: RegistryEntry | None, platform: str,
                 fail_fast: bool = False):
        self.doc, self.repo, self.entry, self.platform = doc, repo, entry, platform
        self.config = table_of(doc.data.get("experiment"))
        self.findings: list[Finding] = []
        self.fail_fast, self.checked = fail_fast, 0
        self.metrics_done: dict[str, Metric | None] = {}
        self.sources_done: dict[str, DataSource | None] = {}

    def checkpoint(self) -> None:
        """In a fail-fast resolution, stop at the first error (the caller only needs ok/not ok)."""
        if self.fail_fast and has_errors(self.findings[self.checked:]):
            raise _Failed
        self.checked = len(self.findings)

    # -- layers ---------------------------------------------------------------------------
    def merge_layers(self, outcome_docs: list[tuple[str, Document]]) -> None:
        definitions = self.repo.platform_library(self.platform)
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
            rendered = render_sql(template, self.context)
        except TemplateError as error:
            self.template_finding(error, origin, what)
            return None
        self.findings += sqlcheck.check_sql(rendered, kind, origin, what, rendered != template)
        return rendered

    def template_finding(self, error: TemplateError, origin: Origin, what: str) -> None:
        start, _ = sqlcheck.fragment_start(origin)
        line = start + error.line - 1 if start is not None and error.line else origin.line
        self.findings.append(origin.finding("template-error", f"{what}: {error.message}", line=line))

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
        self.findings += sqlcheck.check_sql(rendered, sqlcheck.FROM, origin, what, rendered != text)
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
                analysis_units=tuple(_UNITS.get(u, u) for u in entry.get("analysis_units", _UNITS)),
                friendly_name=entry.get("friendly_name", ""), description=entry.get("description", ""),
                source=fragment_source(entry, "from_expression"))
        return self.sources_done[name]

    def shared(self, name: str) -> tuple[Metric | None, tuple[Finding, ...]] | None:
        """The platform-wide resolution of a metric no layer of this experiment touches (the
        same for every experiment on the platform, so cached in the repository), else None."""
        if name in self.touched_metrics or any(fnmatch.fnmatchcase(name, p) for p in self.wildcards):
            return None
        key = (self.platform, name)
        if key not in self.repo.shared_metrics:
            base = _base_resolver(self.repo, self.platform)
            entry = base.library.metrics[name]
            template = entry.get("select_expression")
            shareable = (isinstance(template, str) and "experiment" not in template
                         and "parameters" not in template and not entry.get("depends_on")
                         and not ratio_targets(entry))
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
        shared = self.shared(name) if self.doc is not _BASE_DOC else None
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
                               sqlcheck.EXPRESSION)
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
            analysis_units=tuple(_UNITS.get(u, u) for u in entry.get("analysis_units", _UNITS)),
            source=fragment_source(entry, "select_expression"))
        self.metrics_done[name] = metric
        return metric

    def periods(self, outcome_docs: list[tuple[str, Document]]) -> dict[str, tuple[Metric, ...]]:
        listed: dict[str, dict[str, tuple[Origin, bool]]] = {p: {} for p in PERIODS}
        layers = [d for d in (self.repo.defaults.get(self.platform),) if d] + [self.doc]
        for layer in layers[:-1]:
            self._collect(layer, listed)
        for library in self.outcome_libraries:
            for name, entry in library.metrics.items():
                for period in OUTCOME_PERIODS:
                    listed[period].setdefault(name, (entry.origin, False))
        self._collect(self.doc, listed)
        result: dict[str, tuple[Metric, ...]] = {}
        for period, names in listed.items():
            metrics = []
            for name, (origin, in_list) in names.items():
                self.checkpoint()
                known = name in self.library.metrics
                metric = self.metric(name) if known else None
                if metric is not None and metric.statistics:
                    metrics.append(metric)
                    continue
                if known and metric is None:
                    continue  # the metric's own findings say why
                line = element_line(origin.doc, origin.key, name) if in_list else origin.line
                if known:
                    self.findings.append(origin.finding(
                        "metric-without-statistics",
                        f"metric {name!r} is listed for {period} but has no statistics",
                        f"add [metrics.{name}.statistics.<statistic>]", line=line))
                else:
                    self.findings.append(origin.finding(
                        "unknown-metric", f"metric {name!r} (listed for {period}) is not defined "
                        f"for platform {self.platform}", did_you_mean(name, self.library.metrics),
                        line=line))
            if metrics:
                result[period] = tuple(metrics)
        return result

    def segments(self) -> tuple[Segment, ...]:
        from_config = "segments" in self.config
        slugs = strings(self.config.get("segments")) if from_config else (
            self.entry.segments if self.entry else ())
        result = []
        for slug in slugs:
            origin = Origin(self.doc, ("experiment", "segments"))
            line = element_line(self.doc, origin.key, slug) if from_config else 1
            entry = self.library.segments.get(slug)
            if entry is None:
                self.findings.append(origin.finding(
                    "unknown-segment", f"segment {slug!r} is not defined for platform {self.platform}",
                    did_you_mean(slug, self.library.segments), line=line))
                continue
            source_entry, problems = lookup(
                "segment data source", entry.get("data_source"), self.library.segment_data_sources,
                entry.origin_of("data_source"), self.platform, "unknown-segment-data-source")
            self.findings += problems
            select = self.render(entry.get("select_expression"), entry.origin_of("select_expression"),
                                 f"segment {slug!r}", sqlcheck.EXPRESSION)
            if source_entry is None or select is None:
                continue
            from_expression = self.render_from(
                source_entry, f"segment data source {source_entry.name!r}",
                source_entry.get("default_dataset") or self.config.get("dataset_id"))
            if from_expression is None:
                continue
            source = SegmentDataSource(
                source_entry.name, from_expression, source_entry.get("window_start", 0),
                source_entry.get("window_end", 0), source_entry.get("client_id_column", "client_id"),
                source_entry.get("submission_date_column", "submission_date"),
                fragment_source(source_entry, "from_expression"))
            result.append(Segment(slug, select, source, entry.get("friendly_name", ""),
                                  entry.get("description", ""),
                                  fragment_source(entry, "select_expression")))
        return tuple(result)

    def exposure_signal(self) -> ExposureSignal | None:
        table = table_of(self.config.get("exposure_signal"))
        if not table:
            return None
        entry = entry_of(self.doc, ("experiment", "exposure_signal"), str(table.get("name", "")), table)
        select = self.render(entry.get("select_expression"), entry.origin_of("select_expression"),
                             "exposure signal", sqlcheck.EXPRESSION)
        source = self.data_source(entry.get("data_source"), entry.origin_of("data_source"))
        if select is None or source is None:
            return None
        return ExposureSignal(entry.name, select, source, entry.get("window_start"),
                              entry.get("window_end"), entry.get("friendly_name", ""),
                              entry.get("description", ""), fragment_source(entry, "select_expression"))

    @staticmethod
    def _collect(doc: Document, listed: dict[str, dict[str, tuple[Origin, bool]]]) -> None:
        for key, names in table_of(doc.data.get("metrics")).items():
            period = PERIOD_ALIASES.get(key, key)
            if period in listed and isinstance(names, (list, tuple)):
                for name in strings(names):
                    listed[period].setdefault(name, (Origin(doc, ("metrics", key)), True))


_BASE_DOC = Document("<platform defaults>", "", MappingProxyType({}), MappingProxyType({}))


def _base_resolver(repo: Repository, platform: str) -> _Resolver:
    """A fresh resolver of an empty experiment: resolves metrics only shared layers define."""
    resolver = _Resolver(_BASE_DOC, repo, None, platform)
    resolver.merge_layers([])
    view = _experiment_view(resolver, experiment_dates(_BASE_DOC, None)[0], (), None)
    resolver.context = TemplateContext(view, _functions(repo), {})
    return resolver


def _functions(repo: Repository) -> dict[str, str]:
    return {n: e.get("definition") for n, e in repo.functions.items() if isinstance(e.get("definition"), str)}


def _experiment_view(resolver: _Resolver, dates: Any, branches: tuple[Branch, ...],
                     reference_branch: str | None) -> ExperimentView:
    start, end, period = dates.for_templates()
    entry, config = resolver.entry, resolver.config
    slug = Path(resolver.doc.path).stem
    return ExperimentView(
        normandy_slug=entry.normandy_slug if entry else slug, experimenter_slug=slug,
        start_date=start, end_date=end, enrollment_period=period, reference_branch=reference_branch,
        app_name=resolver.platform, app_id=entry.app_id if entry else None,
        branches=tuple(b.slug for b in branches), sample_size=config.get("sample_size"),
        analysis_unit=_UNITS.get(config.get("analysis_unit", "client_id"), "client"))


class _Failed(Exception):
    """A fail-fast resolution met its first error."""


def resolve(doc: Document, repo: Repository, entry: RegistryEntry | None = None,
            platform: str | None = None, *, fail_fast: bool = False) -> Resolution:
    """Resolve one experiment config on one platform (default: the registry's app).

    `fail_fast`: stop at the first error; the findings are then incomplete (enough to know that
    the config does not resolve there, not to report why)."""
    platform = platform or (entry.app_name if entry else None) or ""
    if platform not in repo.definitions:
        return Resolution(platform, None, (Finding(
            doc.path, 1, None, Severity.ERROR, "unknown-platform",
            f"no definitions for platform {platform!r}", f"known: {', '.join(repo.definitions)}"),))
    resolver = _Resolver(doc, repo, entry, platform, fail_fast)
    try:
        return _resolve(resolver)
    except _Failed:
        return Resolution(platform, None, tuple(dict.fromkeys(resolver.findings)))


def _resolve(resolver: _Resolver) -> Resolution:
    doc, repo, entry, platform = resolver.doc, resolver.repo, resolver.entry, resolver.platform
    config = resolver.config
    dates, date_findings = experiment_dates(doc, entry)
    resolver.findings += date_findings
    branches = entry.branches if entry else ()
    reference_branch = config.get("reference_branch") or (entry.reference_branch if entry else None)
    if branches and reference_branch and reference_branch not in {b.slug for b in branches}:
        resolver.findings.append(doc.finding(
            ("experiment", "reference_branch"), "unknown-reference-branch",
            f"reference branch {reference_branch!r} is not a branch of the experiment",
            f"branches: {', '.join(b.slug for b in branches)}"))
    from_config = "outcomes" in config
    outcome_slugs = strings(config.get("outcomes")) if from_config else (entry.outcomes if entry else ())
    outcome_docs, problems = outcome_documents(doc, outcome_slugs, from_config, repo, platform)
    resolver.findings += problems
    resolver.checkpoint()
    resolver.merge_layers(outcome_docs)
    parameters, problems = merge_parameters(
        [lib.parameters for lib in [*resolver.outcome_libraries, resolver.defaults_library, resolver.own]],
        tuple(b.slug for b in branches))
    resolver.findings += problems
    view = _experiment_view(resolver, dates, branches, reference_branch)
    resolver.context = TemplateContext(view, _functions(repo), parameters)
    periods = resolver.periods(outcome_docs)
    segments = resolver.segments()
    exposure = resolver.exposure_signal()
    enrollment_query = resolver.render(config.get("enrollment_query"),
                                       Origin(doc, ("experiment", "enrollment_query")),
                                       "enrollment query", sqlcheck.QUERY)
    findings = tuple(dict.fromkeys(resolver.findings))
    if has_errors(findings):
        return Resolution(platform, None, findings)
    experiment = ExperimentSpec(
        slug=view.experimenter_slug, normandy_slug=view.normandy_slug, app_name=platform,
        app_id=view.app_id, start_date=dates.start_date, end_date=dates.end_date,
        enrollment_period=dates.enrollment_period, reference_branch=reference_branch, branches=branches,
        segments=tuple(s.name for s in segments), outcomes=tuple(slug for slug, _ in outcome_docs),
        enrollment_query=enrollment_query, exposure_signal=exposure, sample_size=config.get("sample_size"),
        analysis_unit=view.analysis_unit, is_rollout=entry.is_rollout if entry else False,
        skip=bool(config.get("skip", False)), channel=entry.channel if entry else None,
        status=entry.status if entry else None, dataset_id=config.get("dataset_id"))
    resolved = {n: m for n, m in resolver.metrics_done.items() if m is not None}
    sources = {n: s for n, s in resolver.sources_done.items() if s is not None}
    spec = AnalysisSpec(experiment, platform, MappingProxyType(periods), segments,
                        MappingProxyType(sources), doc.path, MappingProxyType(resolved))
    return Resolution(platform, spec, findings)
