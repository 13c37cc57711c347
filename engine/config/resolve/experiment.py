"""Resolve one experiment config on one platform into a frozen AnalysisSpec.

The layers (definitions < outcomes < platform defaults < experiment config) are merged and the
named definitions resolved by `engine.config.resolve.library`; this module assembles the experiment
around them: dates, branches, outcomes, parameters, the metrics each period lists, segments,
the exposure signal and the enrollment query.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from engine.config.load import Document
from engine.config.repository import Origin, Repository, entry_of
from engine.config.resolve import sql_syntax
from engine.config.resolve.dates import experiment_dates
from engine.config.resolve.entries import fragment_source, strings, table_of
from engine.config.resolve.library import Failed, Resolver, experiment_view
from engine.config.resolve.parameters import merge_parameters
from engine.config.resolve.references import (
    did_you_mean,
    element_line,
    lookup,
    outcome_documents,
)
from engine.config.resolve.templates import TemplateContext
from engine.config.spec import (
    PERIOD_ALIASES,
    PERIODS,
    AnalysisSpec,
    ExperimentSpec,
    ExposureSignal,
    Metric,
    Segment,
    SegmentDataSource,
)
from engine.experimenter import RegistryEntry
from engine.findings import Finding, Severity, has_errors

OUTCOME_PERIODS = ("weekly", "overall")  # outcome metrics are analysed in these periods

# (period, metric name, where it is listed, whether in a period list) in the order written
Listing = tuple[tuple[str, str, Origin, bool], ...]


@dataclass(frozen=True)
class Resolution:
    platform: str
    spec: AnalysisSpec | None
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return self.spec is not None


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
    resolver = Resolver(doc, repo, entry, platform, fail_fast)
    try:
        return _resolve(resolver)
    except Failed:
        return Resolution(platform, None, tuple(dict.fromkeys(resolver.findings)))


def _resolve(resolver: Resolver) -> Resolution:
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
    view = experiment_view(resolver, dates, branches, reference_branch)
    resolver.context = TemplateContext(view, repo.template_functions(), parameters)
    periods = _periods(resolver, [d for _, d in outcome_docs])
    segments = _segments(resolver)
    exposure = _exposure_signal(resolver)
    enrollment_query = resolver.render(config.get("enrollment_query"),
                                       Origin(doc, ("experiment", "enrollment_query")),
                                       "enrollment query", sql_syntax.QUERY)
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
        status=entry.status if entry else None, dataset_id=config.get("dataset_id"),
        enrollments_query_type=config.get("enrollments_query_type"))
    resolved = {n: m for n, m in resolver.metrics_done.items() if m is not None}
    sources = {n: s for n, s in resolver.sources_done.items() if s is not None}
    spec = AnalysisSpec(experiment, platform, MappingProxyType(periods), segments,
                        MappingProxyType(sources), doc.path, MappingProxyType(resolved))
    return Resolution(platform, spec, findings)


def _listing(repo: Repository, doc: Document, outcome: bool) -> Listing:
    """The metrics `doc` lists per period (an outcome: all its metrics, weekly and overall);
    the same for every resolution, so computed once per document."""
    key = ("listing", doc.path)
    cached = repo.derived.get(key)
    if cached is None or cached[0] is not doc:
        found: list[tuple[str, str, Origin, bool]] = []
        if outcome:
            for name, entry in repo.library(doc).metrics.items():
                found += [(period, name, entry.origin, False) for period in OUTCOME_PERIODS]
        else:
            for key_name, names in table_of(doc.data.get("metrics")).items():
                period = PERIOD_ALIASES.get(key_name, key_name)
                if period in PERIODS and isinstance(names, (list, tuple)):
                    origin = Origin(doc, ("metrics", key_name))
                    found += [(period, name, origin, True) for name in strings(names)]
        cached = repo.derived[key] = (doc, tuple(found))
    return cached[1]


def _periods(resolver: Resolver, outcome_docs: list[Document]) -> dict[str, tuple[Metric, ...]]:
    """The metrics analysed per period: listed by the defaults, the outcomes (weekly and
    overall) and the experiment, first listing first; each needs a statistic."""
    repo = resolver.repo
    listed: dict[str, dict[str, tuple[Origin, bool]]] = {p: {} for p in PERIODS}
    defaults = repo.defaults.get(resolver.platform)
    listings = [_listing(repo, defaults, False)] if defaults else []
    listings += [_listing(repo, d, True) for d in outcome_docs] + [_listing(repo, resolver.doc, False)]
    for listing in listings:
        for period, name, origin, in_list in listing:
            listed[period].setdefault(name, (origin, in_list))
    metrics_table = resolver.library.metrics
    result: dict[str, tuple[Metric, ...]] = {}
    for period, names in listed.items():
        metrics = []
        for name, (origin, in_list) in names.items():
            resolver.checkpoint()
            known = name in metrics_table
            start = len(resolver.findings)
            metric = resolver.metric(name) if known else None
            line = element_line(origin.doc, origin.key, name) if in_list else origin.line
            if metric is not None and metric.statistics:
                _check_unit(resolver, metric, origin, line)
                metrics.append(metric)
                continue
            if known and metric is None:  # the metric's own findings say why
                if in_list and origin.doc is resolver.doc:
                    _rehome(resolver, start, origin, line, name)
                continue
            if known:
                resolver.findings.append(origin.finding(
                    "metric-without-statistics",
                    f"metric {name!r} is listed for {period} but has no statistics",
                    f"add [metrics.{name}.statistics.<statistic>]", line=line))
            else:
                resolver.findings.append(origin.finding(
                    "unknown-metric", f"metric {name!r} (listed for {period}) is not defined "
                    f"for platform {resolver.platform}", did_you_mean(name, metrics_table),
                    line=line))
        if metrics:
            result[period] = tuple(metrics)
    return result


def _rehome(resolver: Resolver, start: int, origin: Origin, line: int | None, name: str) -> None:
    """Errors a listed metric met in a shared file (definitions, outcomes, defaults) move to the
    experiment config's own listing line, naming where the definition is: the config's author
    sees them on the line they wrote, not on a file the pull request never touched."""
    found = resolver.findings[start:]
    if not any(f.is_error and f.path != resolver.doc.path for f in found):
        return
    resolver.findings[start:] = [
        origin.finding(f.code, f"metric {name!r} listed here does not resolve: {f.message} "
                       f"(defined in {f.path}:{f.line})", f.hint, line=line)
        if f.is_error and f.path != resolver.doc.path else f for f in found]


def _check_unit(resolver: Resolver, metric: Metric, origin: Origin, line: int | None) -> None:
    """The experiment's analysis unit must be one the data source of each of its metrics
    supports (upstream refuses to query it otherwise)."""
    unit, source = resolver.context.experiment.analysis_unit, metric.data_source
    if source is None or unit in source.analysis_units:
        return
    key = ("experiment", "analysis_unit")
    written = "analysis_unit" in resolver.config
    message = (f"the experiment is analysed by {unit}, which data source {source.name!r} of metric "
               f"{metric.name!r} does not support (its analysis_units: "
               f"{', '.join(source.analysis_units)})")
    hint = "use a metric whose data source supports this unit, or change analysis_unit"
    if written:
        resolver.findings.append(resolver.doc.finding(key, "unsupported-analysis-unit", message, hint))
    else:
        resolver.findings.append(origin.finding("unsupported-analysis-unit", message, hint, line=line))


def _segments(resolver: Resolver) -> tuple[Segment, ...]:
    config, doc, library = resolver.config, resolver.doc, resolver.library
    from_config = "segments" in config
    slugs = strings(config.get("segments")) if from_config else (
        resolver.entry.segments if resolver.entry else ())
    result = []
    for slug in slugs:
        origin = Origin(doc, ("experiment", "segments"))
        line = element_line(doc, origin.key, slug) if from_config else 1
        entry = library.segments.get(slug)
        if entry is None:
            resolver.findings.append(origin.finding(
                "unknown-segment", f"segment {slug!r} is not defined for platform {resolver.platform}",
                did_you_mean(slug, library.segments), line=line))
            continue
        source_entry, problems = lookup(
            "segment data source", entry.get("data_source"), library.segment_data_sources,
            entry.origin_of("data_source"), resolver.platform, "unknown-segment-data-source")
        resolver.findings += problems
        select = resolver.render(entry.get("select_expression"), entry.origin_of("select_expression"),
                                 f"segment {slug!r}", sql_syntax.EXPRESSION)
        if source_entry is None or select is None:
            continue
        from_expression = resolver.render_from(
            source_entry, f"segment data source {source_entry.name!r}",
            source_entry.get("default_dataset") or config.get("dataset_id"))
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


def _exposure_signal(resolver: Resolver) -> ExposureSignal | None:
    table = table_of(resolver.config.get("exposure_signal"))
    if not table:
        return None
    entry = entry_of(resolver.doc, ("experiment", "exposure_signal"), str(table.get("name", "")), table)
    select = resolver.render(entry.get("select_expression"), entry.origin_of("select_expression"),
                             "exposure signal", sql_syntax.EXPRESSION)
    source = resolver.data_source(entry.get("data_source"), entry.origin_of("data_source"))
    if select is None or source is None:
        return None
    return ExposureSignal(entry.name, select, source, entry.get("window_start"),
                          entry.get("window_end"), entry.get("friendly_name", ""),
                          entry.get("description", ""), fragment_source(entry, "select_expression"))
