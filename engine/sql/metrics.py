"""The per-client metrics query of one window and basis: population, segments, metrics.

Output: one row per analysis unit with client_id, branch, enrollment_date,
num_enrollment_events, exposure_date, num_exposure_events, one boolean column per segment and
one column per metric. Exposures basis keeps only units exposed within their exposure window.
"""
from __future__ import annotations

from sqlglot import exp

from engine.config.spec import AnalysisSpec, DataSource, Metric, Segment
from engine.plan import WindowTask
from engine.sql.dialect import fill, literal, parse_expression, parse_from
from engine.sql.enrollments import enrollments_query
from engine.sql.exposures import exposures_query
from engine.sql.windowed import DayRange, per_unit_aggregate
from engine.windows import Timeline

_POPULATION = """
SELECT en.client_id AS client_id, en.branch AS branch, en.enrollment_date AS enrollment_date,
       en.num_enrollment_events AS num_enrollment_events, ex.exposure_date AS exposure_date,
       COALESCE(ex.num_exposure_events, 0) AS num_exposure_events
FROM enrollments AS en
LEFT JOIN exposures AS ex ON ex.client_id = en.client_id
WHERE :keep
"""

_IN_EXPERIMENT = "mozfun.map.get_key(:experiments, :slug) IS NOT NULL"
_EXPERIMENTS_COLUMN = {
    "simple": "ds.experiments",
    "native": "ds.experiments",
    "glean": "ds.ping_info.experiments",
}


def _grouped(items, key) -> dict:
    groups: dict = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


def _experiment_filter(source: DataSource, slug: str) -> exp.Expression | None:
    column = _EXPERIMENTS_COLUMN.get(source.experiments_column_type)
    if column is None:
        return None
    return fill(_IN_EXPERIMENT, experiments=parse_expression(column), slug=literal(slug))


def _metric_cte(spec: AnalysisSpec, metrics: list[Metric], days: DayRange, filtered: bool
                ) -> exp.Select:
    source = metrics[0].data_source
    profile = spec.experiment.analysis_unit == "profile_group"
    slug = spec.experiment.normandy_slug or spec.experiment.slug
    return per_unit_aggregate(
        parse_from(source.from_expression),
        source.group_id_column if profile else source.client_id_column,
        source.submission_date_column,
        days,
        [exp.alias_(parse_expression(m.select_expression), m.name, quoted=True) for m in metrics],
        _experiment_filter(source, slug) if filtered else None,
    )


def _segment_cte(spec: AnalysisSpec, segments: list[Segment], timeline: Timeline) -> exp.Select:
    source = segments[0].data_source
    days = DayRange(source.window_start, source.window_end,
                    timeline.start_date, timeline.last_enrollment_date)
    return per_unit_aggregate(
        parse_from(source.from_expression),
        source.client_id_column,
        source.submission_date_column,
        days,
        [exp.alias_(parse_expression(s.select_expression), s.name, quoted=True) for s in segments],
    )


def client_metrics_query(
    spec: AnalysisSpec, task: WindowTask, timeline: Timeline, enrollments_table: str | None = None
) -> exp.Query:
    """The whole per-client query for `task`; enrollments come from a table or inline."""
    if enrollments_table is None:
        enrollments: exp.Query = enrollments_query(spec.experiment, timeline)
    else:
        enrollments = exp.select("*").from_(exp.to_table(enrollments_table))
    keep = (exp.column("exposure_date", "ex").is_(exp.null()).not_()
            if task.basis == "exposures" else exp.true())
    days = DayRange(task.window.start, task.window.end,
                    timeline.start_date, timeline.last_enrollment_date)
    ctes = [
        ("enrollments", enrollments),
        ("exposures", exposures_query(spec.experiment, task.window, timeline)),
        ("population", fill(_POPULATION, keep=keep)),
    ]
    outer = exp.select(*[exp.column(c, "p") for c in (
        "client_id", "branch", "enrollment_date", "num_enrollment_events",
        "exposure_date", "num_exposure_events")]).from_(exp.to_table("population").as_("p"))
    parts: list[tuple[exp.Select, list[str]]] = []
    for group in _grouped(spec.segments, lambda s: s.data_source.name).values():
        parts.append((_segment_cte(spec, group, timeline), [s.name for s in group]))
    for group in _grouped(task.metrics, lambda m: m.data_source.name).values():
        parts.append((_metric_cte(spec, group, days, not task.window.is_preenrollment),
                      [m.name for m in group]))
    for i, (cte, names) in enumerate(parts):
        alias = f"part_{i}"
        ctes.append((alias, cte))
        outer = outer.join(exp.to_table(alias).as_(alias), join_type="left",
                           on=exp.column("client_id", alias).eq(exp.column("client_id", "p")),
                           copy=False)
        outer = outer.select(*[exp.column(exp.to_identifier(n, quoted=True), alias)
                               for n in names], append=True, copy=False)
    for name, cte in ctes:
        outer = outer.with_(name, as_=cte, copy=False)
    return outer
