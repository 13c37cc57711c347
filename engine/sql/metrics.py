"""The per-client query of one run: every window it computes, both analysis bases, one scan
per data source.

Output (table `client_windows_<slug>`): one row per analysis unit, period and window with
period, window_index (the 1-based window number), client_id, branch, enrollment_date,
num_enrollment_events, exposure_date, num_exposure_events (within that window's exposure
window), one boolean column per segment and one column per metric of the spec. The exposures
basis is the rows with an exposure_date (`window_rows`): both bases come from one enrollment
and exposure pass. Metrics and segments of one data source come from one scan of it
(engine.sql.windowed); metric columns no computed period needs are NULL, so the columns
depend on the spec only and carried rows (`carried_rows`) fit the same table.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from sqlglot import exp

from engine.config.spec import ANALYSIS_BASES, AnalysisSpec, DataSource, Metric, Segment
from engine.plan.analysis_plan import WindowTask, metrics_for_basis
from engine.plan.windows import Timeline, Window
from engine.sql.dialect import column, fill, literal, parse_expression, parse_from
from engine.sql.enrollments import enrollments_query, source_unit_column, telemetry_slug
from engine.sql.exposures import exposures_query
from engine.sql.windowed import SEGMENT_SLOT, Scan, scan_aggregate, slot_of

_ENROLLED_WINDOWS = """
SELECT en.client_id AS client_id, en.branch AS branch, en.enrollment_date AS enrollment_date,
       en.num_enrollment_events AS num_enrollment_events, w.slot AS slot, w.period AS period,
       w.window_index AS window_index,
       CAST(DATE_ADD(en.enrollment_date, INTERVAL w.window_start DAY) AS DATE) AS window_from,
       CAST(DATE_ADD(en.enrollment_date, INTERVAL w.window_end DAY) AS DATE) AS window_to
FROM enrollments AS en
CROSS JOIN windows AS w
"""

_POPULATION = """
SELECT ew.client_id AS client_id, ew.branch AS branch, ew.enrollment_date AS enrollment_date,
       ew.num_enrollment_events AS num_enrollment_events, ew.slot AS slot,
       ew.period AS period, ew.window_index AS window_index,
       ex.exposure_date AS exposure_date,
       COALESCE(ex.num_exposure_events, 0) AS num_exposure_events
FROM enrolled_windows AS ew
LEFT JOIN exposures AS ex ON ex.client_id = ew.client_id AND ex.slot = ew.slot
"""

_UNEXPOSED = """
SELECT ew.client_id AS client_id, ew.branch AS branch, ew.enrollment_date AS enrollment_date,
       ew.num_enrollment_events AS num_enrollment_events, ew.slot AS slot,
       ew.period AS period, ew.window_index AS window_index,
       CAST(NULL AS DATE) AS exposure_date, 0 AS num_exposure_events
FROM enrolled_windows AS ew
"""

_WINDOW_ROW = """SELECT :slot AS slot, :period AS period, :index AS window_index,
                        :start AS window_start, :end AS window_end"""
_KEYS = ("period", "window_index", "client_id")
_POPULATION_COLUMNS = ("branch", "enrollment_date", "num_enrollment_events", "exposure_date",
                       "num_exposure_events")

_IN_EXPERIMENT = "mozfun.map.get_key(:experiments, :slug) IS NOT NULL"
_EXPERIMENTS_COLUMN = {
    "simple": "ds.experiments",
    "native": "ds.experiments",
    "glean": "ds.ping_info.experiments",
}


def spec_metrics(spec: AnalysisSpec) -> tuple[Metric, ...]:
    """Every metric computed in SQL for some period and basis of the spec, once, in order."""
    chosen: dict[str, Metric] = {}
    for metrics in spec.metrics.values():
        for basis in ANALYSIS_BASES:
            for metric in metrics_for_basis(metrics, basis, spec.metric_definitions):
                chosen.setdefault(metric.name, metric)
    return tuple(chosen.values())


def output_columns(spec: AnalysisSpec) -> tuple[str, ...]:
    """The columns of the per-client table, which depend on the spec only."""
    return (*_KEYS, *_POPULATION_COLUMNS, *(s.name for s in spec.segments),
            *(m.name for m in spec_metrics(spec)))


def _experiment_filter(source: DataSource, slug: str) -> exp.Expression | None:
    name = _EXPERIMENTS_COLUMN.get(source.experiments_column_type)
    if name is None:
        return None
    return fill(_IN_EXPERIMENT, experiments=parse_expression(name), slug=literal(slug))


def _windows(windows: Iterable[Window]) -> exp.Query:
    rows = [fill(_WINDOW_ROW, slot=literal(slot_of(w)), period=literal(w.period),
                 index=literal(w.number), start=literal(w.start), end=literal(w.end))
            for w in windows]
    query = rows[0]
    for row in rows[1:]:
        query = exp.union(query, row, distinct=False, copy=False)
    return query


def _aliased(expression: str, name: str) -> exp.Expression:
    return exp.alias_(parse_expression(expression), name, quoted=True)


def _source_key(from_expression: str) -> str:
    """One spelling per table or query (quoting and whitespace aside)."""
    source = parse_from(from_expression)
    if isinstance(source, exp.Table):  # `a.b.c` and a.b.c are one table
        return ".".join(part.name for part in source.parts)
    return source.sql(dialect="bigquery")


def _scans(spec: AnalysisSpec, tasks: tuple[WindowTask, ...], timeline: Timeline) -> list[Scan]:
    """One scan per data source (same table or query, unit and date columns): its metrics over
    the windows of the tasks that use them, and the first segment window read from it (in the
    same scan when their dates meet)."""
    experiment = spec.experiment
    metrics: dict[tuple, dict[str, Metric]] = {}
    windows: dict[tuple, dict[Window, None]] = {}
    for task in tasks:
        for metric in task.metrics:
            source = metric.data_source
            key = (_source_key(source.from_expression), source_unit_column(experiment, source),
                   source.submission_date_column)
            metrics.setdefault(key, {}).setdefault(metric.name, metric)
            windows.setdefault(key, {})[task.window] = None
    segments: dict[tuple, list[Segment]] = {}
    for segment in spec.segments:
        source = segment.data_source
        key = (_source_key(source.from_expression), source.client_id_column,
               source.submission_date_column)
        ranges = segments.setdefault(key, [])
        if ranges and (ranges[0].data_source.window_start, ranges[0].data_source.window_end) != (
                source.window_start, source.window_end):
            key = (*key, source.window_start, source.window_end)  # another range: its own scan
        segments.setdefault(key, []).append(segment)
    scans = []
    for key in dict.fromkeys([*metrics, *segments]):
        mine = tuple(metrics.get(key, {}).values())
        segs = segments.get(key, [])
        scan = Scan(
            source=parse_from(key[0]), unit_column=key[1], date_column=key[2],
            windows=tuple(sorted(windows.get(key, {}))),
            metrics=tuple(_aliased(m.select_expression, m.name) for m in mine),
            segments=tuple(_aliased(s.select_expression, s.name) for s in segs),
            segment_start=segs[0].data_source.window_start if segs else 0,
            segment_end=segs[0].data_source.window_end if segs else 0,
            in_experiment=(_experiment_filter(mine[0].data_source, telemetry_slug(experiment))
                           if mine else None))
        scans += _split_if_apart(scan, timeline.enrollment_days)
    return scans


def _split_if_apart(scan: Scan, enrollment_days: int) -> list[Scan]:
    """One scan for metrics and segments when their dates meet; two when days lie between
    them (a daily run's window, weeks after the segments' enrollment days): reading those
    days would cost more than a second scan."""
    if not (scan.windows and scan.segments):
        return [scan]
    spread = enrollment_days  # dates of one relative day: first .. last enrollment day, + 1
    start, end = min(w.start for w in scan.windows), max(w.end for w in scan.windows)
    if start <= scan.segment_end + spread and scan.segment_start <= end + spread:
        return [scan]
    return [dataclasses.replace(scan, segments=()),
            dataclasses.replace(scan, windows=(), metrics=(), in_experiment=None)]


def _slots(scan: Scan) -> exp.Query:
    """The (client_id, slot) rows a scan aggregates: its windows' slots, or every window's when
    it also holds segments (so every row of the output gets them), plus the segment slot."""
    windows = exp.select(column("client_id", "ew"), column("slot", "ew")).from_(
        exp.to_table("enrolled_windows").as_("ew"))
    if not scan.segments:
        return windows.where(exp.In(this=column("slot", "ew"),
                                    expressions=[literal(slot_of(w)) for w in scan.windows]))
    if not scan.windows:
        windows = None
    segment = exp.select(column("client_id", "en"), exp.alias_(literal(SEGMENT_SLOT), "slot")
                         ).from_(exp.to_table("enrollments").as_("en"))
    return segment if windows is None else exp.union(windows, segment, distinct=False)


Clients = tuple[str | None, str | None]  # client ids from (inclusive) to (exclusive); None: open
EVERY_CLIENT: Clients = (None, None)


def client_windows_query(spec: AnalysisSpec, tasks: tuple[WindowTask, ...], timeline: Timeline,
                         enrollments_table: str | None = None,
                         clients: Clients = EVERY_CLIENT) -> exp.Query:
    """One query for every window of `tasks` (both bases): a row per unit, period and window.
    Enrollments come from `enrollments_table`, or inline when None (dry runs); only the
    enrolled `clients` (every row is one client's, so a range of them is exact)."""
    if enrollments_table is None:
        assert clients == EVERY_CLIENT, "a range of clients reads the enrollments table"
        enrollments: exp.Query = enrollments_query(spec.experiment, timeline)
    else:
        enrollments = exp.select("*").from_(exp.to_table(enrollments_table))
        low, high = clients
        if low is not None:
            enrollments = enrollments.where(exp.column("client_id") >= literal(low), copy=False)
        if high is not None:  # the first range also holds a NULL id (a custom query's)
            below: exp.Expression = exp.column("client_id") < literal(high)
            if low is None:
                below = exp.or_(below, exp.column("client_id").is_(exp.null()))
            enrollments = enrollments.where(below, copy=False)
    windows = tuple(sorted({t.window for t in tasks}))
    exposed = tuple(w for w in windows if not w.is_preenrollment)
    ctes: list[tuple[str, exp.Expression]] = [
        ("enrollments", enrollments), ("windows", _windows(windows)),
        ("enrolled_windows", fill(_ENROLLED_WINDOWS))]
    if exposed:
        ctes += [("exposures", exposures_query(spec.experiment, exposed, timeline)),
                 ("population", fill(_POPULATION))]
    else:
        ctes.append(("population", fill(_UNEXPOSED)))
    outer = exp.select(*[column(c, "p") for c in (*_KEYS, *_POPULATION_COLUMNS)]).from_(
        exp.to_table("population").as_("p"))
    found: dict[str, exp.Expression] = {}
    for i, scan in enumerate(_scans(spec, tasks, timeline)):
        alias = f"part_{i}"
        ctes.append((alias, scan_aggregate(scan, _slots(scan).subquery(),
                                           timeline.start_date, timeline.last_enrollment_date)))
        slot = column("slot", "p") if scan.windows else literal(SEGMENT_SLOT)
        on = column("client_id", alias).eq(column("client_id", "p")).and_(
            column("_e_slot", alias).eq(slot))
        outer = outer.join(exp.to_table(alias).as_(alias), join_type="left", on=on, copy=False)
        for expression in (*scan.metrics, *scan.segments):
            found[expression.alias] = exp.column(exp.to_identifier(expression.alias, quoted=True),
                                                 alias)
    names = [*(s.name for s in spec.segments), *(m.name for m in spec_metrics(spec))]
    outer = outer.select(*[exp.alias_(found.get(n, exp.null()), n, quoted=True) for n in names],
                         append=True, copy=False)
    for name, cte in ctes:
        outer = outer.with_(name, as_=cte, copy=False)
    return outer


def carried_rows(spec: AnalysisSpec, table: str, periods: tuple[str, ...]) -> exp.Select:
    """The rows of `periods` in a previous per-client table, in the output's column order; the
    metrics those periods do not use are NULL (their stored values may be NULLs of no type)."""
    used = {m.name for p in periods for b in ANALYSIS_BASES
            for m in metrics_for_basis(spec.metrics.get(p, ()), b, spec.metric_definitions)}
    metrics = {m.name for m in spec_metrics(spec)}
    columns = [exp.alias_(exp.null(), c, quoted=True) if c in metrics and c not in used
               else exp.column(exp.to_identifier(c, quoted=True)) for c in output_columns(spec)]
    return exp.select(*columns).from_(exp.to_table(table)).where(
        exp.In(this=exp.column("period"), expressions=[literal(p) for p in periods]))


def window_rows(table: str, win: Window, basis: str) -> exp.Select:
    """One window's rows of one basis from a per-client table, ordered by unit: the statistics
    read their inputs sorted, so a rerun reproduces every float sum bit for bit (warehouses
    keep no row order)."""
    star = exp.Star(except_=[exp.column("period"), exp.column("window_index")])
    condition = exp.and_(exp.column("period").eq(literal(win.period)),
                         exp.column("window_index").eq(literal(win.number)))
    if basis == "exposures":
        condition = exp.and_(condition, exp.column("exposure_date").is_(exp.null()).not_())
    return (exp.select(star).from_(exp.to_table(table)).where(condition)
            .order_by(exp.column("client_id")))


def covariate_rows(table: str, covariates: Iterable[tuple[str, Window, str]]) -> exp.Select:
    """One row per unit with its pre-enrollment covariates as columns: each (alias, pre-enrollment
    window, metric) gives column `alias`, the metric's value in that window. Built once per run,
    so every window's summaries join one narrow table instead of rescanning the per-client
    table once per covariate (a third of a summary query's time at 1M clients)."""
    def at(win: Window) -> exp.Expression:
        return exp.and_(exp.column("period").eq(literal(win.period)),
                        exp.column("window_index").eq(literal(win.number)))

    wanted = list(covariates)
    windows = {(pre.period, pre.number): pre for _, pre, _ in wanted}
    values = [exp.alias_(exp.AnyValue(this=exp.Case().when(at(pre), exp.column(metric))),
                         alias, quoted=True) for alias, pre, metric in wanted]
    return (exp.select(exp.column("client_id"), *values).from_(exp.to_table(table))
            .where(exp.or_(*(at(w) for w in windows.values())))
            .group_by(exp.column("client_id")))


def window_relation(table: str, win: Window, basis: str, covariates: Iterable[str] = (),
                    covariate_table: str = "") -> exp.Select:
    """One window's rows (unordered: summaries need no order) with the named columns of
    `covariate_table` (`covariate_rows`) joined by unit, NULL for a unit without them."""
    rows = window_rows(table, win, basis)
    rows.set("order", None)
    joined = list(covariates)
    if not joined:
        return rows
    return (exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("r")),
                       *(exp.column(exp.to_identifier(a, quoted=True), table="cv")
                         for a in joined))
            .from_(rows.subquery("r"))
            .join(exp.to_table(covariate_table).as_("cv"), join_type="LEFT",
                  on=exp.column("client_id", table="cv").eq(exp.column("client_id", table="r"))))
