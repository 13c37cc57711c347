"""The per-client metrics query of one period and basis: population, segments, metrics.

Output: one row per analysis unit and window with client_id, branch, enrollment_date,
num_enrollment_events, exposure_date, num_exposure_events, window_index, one boolean column per
segment and one column per metric. Exposures basis keeps only units exposed within their
exposure window. Every window of a period is computed by one query (one scan per data source);
`client_metrics_query` is the one-window form (no window_index column).
"""
from __future__ import annotations

from sqlglot import exp

from engine.config.spec import AnalysisSpec, DataSource, Metric, Segment
from engine.plan.analysis_plan import WindowTask
from engine.plan.windows import Timeline, Window
from engine.sql.dialect import fill, literal, parse_expression, parse_from
from engine.sql.enrollments import enrollments_query, source_unit_column, telemetry_slug
from engine.sql.exposures import exposures_query
from engine.sql.windowed import DayRange, per_unit_aggregate, per_window_aggregate

_ENROLLED_WINDOWS = """
SELECT en.client_id AS client_id, en.branch AS branch, en.enrollment_date AS enrollment_date,
       en.num_enrollment_events AS num_enrollment_events, w.window_index AS window_index,
       CAST(DATE_ADD(en.enrollment_date, INTERVAL w.window_start DAY) AS DATE) AS window_from,
       CAST(DATE_ADD(en.enrollment_date, INTERVAL w.window_end DAY) AS DATE) AS window_to
FROM enrollments AS en
CROSS JOIN windows AS w
"""

_POPULATION = """
SELECT ew.client_id AS client_id, ew.branch AS branch, ew.enrollment_date AS enrollment_date,
       ew.num_enrollment_events AS num_enrollment_events, ew.window_index AS window_index,
       ew.window_from AS window_from, ew.window_to AS window_to,
       ex.exposure_date AS exposure_date,
       COALESCE(ex.num_exposure_events, 0) AS num_exposure_events
FROM enrolled_windows AS ew
LEFT JOIN exposures AS ex ON ex.client_id = ew.client_id AND ex.window_index = ew.window_index
WHERE :keep
"""

_WINDOW_ROW = "SELECT :index AS window_index, :start AS window_start, :end AS window_end"
_OUTPUT = ("client_id", "branch", "enrollment_date", "num_enrollment_events",
           "exposure_date", "num_exposure_events")

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


def _windows(windows: tuple[Window, ...]) -> exp.Query:
    """The windows of a period as rows: window_index (1-based number), window_start/_end."""
    rows = [fill(_WINDOW_ROW, index=literal(w.number), start=literal(w.start), end=literal(w.end))
            for w in windows]
    query = rows[0]
    for row in rows[1:]:
        query = exp.union(query, row, distinct=False, copy=False)
    return query


def _metric_cte(spec: AnalysisSpec, metrics: list[Metric], days: DayRange, filtered: bool
                ) -> exp.Select:
    source = metrics[0].data_source
    return per_window_aggregate(
        parse_from(source.from_expression),
        source_unit_column(spec.experiment, source),
        source.submission_date_column,
        days,
        [exp.alias_(parse_expression(m.select_expression), m.name, quoted=True) for m in metrics],
        _experiment_filter(source, telemetry_slug(spec.experiment)) if filtered else None,
    )


def _segment_cte(segments: list[Segment], timeline: Timeline) -> exp.Select:
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


def period_metrics_query(
    spec: AnalysisSpec, windows: tuple[Window, ...], basis: str, metrics: tuple[Metric, ...],
    timeline: Timeline, enrollments_table: str | None = None, window_column: bool = True,
) -> exp.Query:
    """One query for every window of one period and basis: a row per unit and window, with
    `window_index` (the 1-based window number) unless `window_column` is false (one window)."""
    if enrollments_table is None:
        enrollments: exp.Query = enrollments_query(spec.experiment, timeline)
    else:
        enrollments = exp.select("*").from_(exp.to_table(enrollments_table))
    keep = (exp.column("exposure_date", "ex").is_(exp.null()).not_()
            if basis == "exposures" else exp.true())
    days = DayRange(min(w.start for w in windows), max(w.end for w in windows),
                    timeline.start_date, timeline.last_enrollment_date)
    ctes = [
        ("enrollments", enrollments),
        ("windows", _windows(windows)),
        ("enrolled_windows", fill(_ENROLLED_WINDOWS)),
        ("exposures", exposures_query(spec.experiment, windows, timeline)),
        ("population", fill(_POPULATION, keep=keep)),
    ]
    names = _OUTPUT + (("window_index",) if window_column else ())
    outer = exp.select(*[exp.column(c, "p") for c in names]).from_(
        exp.to_table("population").as_("p"))
    filtered = not any(w.is_preenrollment for w in windows)
    parts: list[tuple[exp.Select, list[str], bool]] = []
    for group in _grouped(spec.segments, lambda s: s.data_source.name).values():
        parts.append((_segment_cte(group, timeline), [s.name for s in group], False))
    for group in _grouped(metrics, lambda m: m.data_source.name).values():
        parts.append((_metric_cte(spec, group, days, filtered), [m.name for m in group], True))
    for i, (cte, columns, per_window) in enumerate(parts):
        alias = f"part_{i}"
        ctes.append((alias, cte))
        on = exp.column("client_id", alias).eq(exp.column("client_id", "p"))
        if per_window:
            on = on.and_(exp.column("window_index", alias).eq(exp.column("window_index", "p")),
                         copy=False)
        outer = outer.join(exp.to_table(alias).as_(alias), join_type="left", on=on, copy=False)
        outer = outer.select(*[exp.column(exp.to_identifier(n, quoted=True), alias)
                               for n in columns], append=True, copy=False)
    for name, cte in ctes:
        outer = outer.with_(name, as_=cte, copy=False)
    return outer


def client_metrics_query(
    spec: AnalysisSpec, task: WindowTask, timeline: Timeline, enrollments_table: str | None = None
) -> exp.Query:
    """The per-client query of one window (`task`); enrollments come from a table or inline."""
    return period_metrics_query(spec, (task.window,), task.basis, task.metrics, timeline,
                                enrollments_table, window_column=False)
