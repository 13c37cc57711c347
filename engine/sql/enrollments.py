"""The enrollments query: one row per analysis unit with its branch and enrollment date.

Sources, as upstream's `enrollments_query_type` names them: `normandy` (desktop enroll events,
the default on desktop), `glean-event` (Glean `nimbus_events.enrollment` events, the default
elsewhere), `cirrus` (server-side Cirrus enrollment events, the unit is the event's `user_id`),
`fenix-fallback` (the baseline ping's experiment annotations, for apps that sent no enrollment
events: a client's first annotated day, looking back a week so that clients already enrolled
before the period are dropped); or the experiment's own `enrollment_query` (which must return
client_id, branch, enrollment_date), which overrides the type. All are restricted to the
enrollment period; units seen in more than one branch are dropped; `sample_size` keeps a
deterministic percentage of units.
"""
from __future__ import annotations

import sqlglot
from sqlglot import exp

from engine.config.spec import DataSource, ExperimentSpec
from engine.plan.windows import Timeline
from engine.sql.dialect import fill, literal, parse_query

WAREHOUSE = "moz-fx-data-shared-prod"
NORMANDY_PLATFORMS = ("firefox_desktop",)

_NORMANDY = """
SELECT e.:unit AS client_id,
       mozfun.map.get_key(e.event_map_values, 'branch') AS branch,
       e.submission_date AS enrollment_date
FROM :events AS e
WHERE e.event_category = 'normandy' AND e.event_method = 'enroll'
  AND e.event_string_value = :slug
  AND e.submission_date BETWEEN :first AND :last
"""

# Glean enrollment events (glean-event: Nimbus, the unit's column; cirrus: server-side Cirrus
# events, whose unit is the event's user_id)
_GLEAN = """
SELECT :client AS client_id,
       JSON_VALUE(e.event_extra, '$.branch') AS branch,
       DATE(e.submission_timestamp) AS enrollment_date
FROM :events AS e
WHERE e.event_category = :category AND e.event_name = 'enrollment'
  AND JSON_VALUE(e.event_extra, '$.experiment') = :slug
  AND DATE(e.submission_timestamp) BETWEEN :first AND :last
"""

_BASELINE = """
SELECT b.client_info.client_id AS client_id,
       mozfun.map.get_key(b.ping_info.experiments, :slug).branch AS branch,
       DATE(b.submission_timestamp) AS enrollment_date
FROM :baseline AS b
WHERE b.client_info.client_id IS NOT NULL
  AND DATE(b.submission_timestamp) BETWEEN DATE_SUB(:first, INTERVAL 7 DAY) AND :last
"""

_FIRST_SEEN_IN_PERIOD = "enrollment_date >= :first"

_CUSTOM = """
SELECT q.client_id AS client_id, q.branch AS branch, q.enrollment_date AS enrollment_date
FROM :query AS q
WHERE q.enrollment_date BETWEEN :first AND :last
"""

_PER_UNIT = """
SELECT r.client_id AS client_id,
       MIN(r.branch) AS branch,
       MIN(r.enrollment_date) AS enrollment_date,
       COUNT(*) AS num_enrollment_events
FROM :rows AS r
WHERE r.branch IS NOT NULL
GROUP BY r.client_id
HAVING COUNT(DISTINCT r.branch) = 1
"""

_SAMPLE = "MOD(ABS(FARM_FINGERPRINT(CAST(client_id AS STRING))), 100) < :percent"


def unit_column(experiment: ExperimentSpec) -> str:
    return "profile_group_id" if experiment.analysis_unit == "profile_group" else "client_id"


def source_unit_column(experiment: ExperimentSpec, source: DataSource) -> str:
    """The column of `source` that identifies the experiment's analysis unit."""
    profile = experiment.analysis_unit == "profile_group"
    return source.group_id_column if profile else source.client_id_column


def telemetry_slug(experiment: ExperimentSpec) -> str:
    """The slug the experiment's enrollment and exposure events (and annotations) carry."""
    return experiment.normandy_slug or experiment.slug


def warehouse_table(dataset: str, table: str) -> exp.Table:
    return exp.table_(table, db=dataset, catalog=WAREHOUSE, quoted=True)


def nimbus_events(experiment: ExperimentSpec, normandy: str, glean: str, **bounds: exp.Expression
                  ) -> exp.Expression:
    """Fill the event template of the experiment's platform (desktop Normandy `telemetry.events`
    or Glean `<app>.events_stream`) with its unit column, event table and slug."""
    unit = exp.to_identifier(unit_column(experiment))
    slug = literal(telemetry_slug(experiment))
    if experiment.app_name in NORMANDY_PLATFORMS:
        events = warehouse_table("telemetry", "events")
        return fill(normandy, unit=unit, events=events, slug=slug, **bounds)
    events = warehouse_table(experiment.app_name, "events_stream")
    return fill(glean, unit=unit, events=events, slug=slug, **bounds)


def query_type(experiment: ExperimentSpec) -> str:
    """The enrollments source: the configured type, else the platform's own."""
    if experiment.enrollments_query_type:
        return experiment.enrollments_query_type
    return "normandy" if experiment.app_name in NORMANDY_PLATFORMS else "glean-event"


def enrollment_rows(experiment: ExperimentSpec, timeline: Timeline) -> exp.Query:
    """Raw (unit, branch, date) enrollment rows from the experiment's source."""
    bounds = dict(first=literal(timeline.start_date), last=literal(timeline.last_enrollment_date))
    if experiment.enrollment_query:
        query = parse_query(experiment.enrollment_query).subquery()
        return fill(_CUSTOM, query=query, **bounds)
    kind, slug = query_type(experiment), literal(telemetry_slug(experiment))
    unit = exp.to_identifier(unit_column(experiment))
    if kind == "normandy":
        return fill(_NORMANDY, unit=unit, events=warehouse_table("telemetry", "events"), slug=slug,
                    **bounds)
    if kind == "fenix-fallback":
        return fill(_BASELINE, baseline=warehouse_table(experiment.app_name, "baseline"), slug=slug,
                    **bounds)
    if kind == "cirrus":
        user_id = sqlglot.parse_one("JSON_VALUE(e.event_extra, '$.user_id')", read="bigquery")
        return fill(_GLEAN, client=user_id, category=literal("cirrus_events"), slug=slug,
                    events=warehouse_table(experiment.app_name, "enrollment"), **bounds)
    return fill(_GLEAN, client=exp.column(unit, table="e"), category=literal("nimbus_events"),
                events=warehouse_table(experiment.app_name, "events_stream"), slug=slug, **bounds)


def enrollments_query(experiment: ExperimentSpec, timeline: Timeline) -> exp.Query:
    """One row per unit: client_id, branch, enrollment_date, num_enrollment_events."""
    query = fill(_PER_UNIT, rows=enrollment_rows(experiment, timeline).subquery())
    if query_type(experiment) == "fenix-fallback" and not experiment.enrollment_query:
        first_seen = fill(_FIRST_SEEN_IN_PERIOD, first=literal(timeline.start_date))
        query = exp.select("*").from_(query.subquery("f")).where(first_seen)
    if experiment.sample_size is not None and experiment.sample_size < 100:
        sampled = fill(_SAMPLE, percent=literal(int(experiment.sample_size)))
        query = exp.select("*").from_(query.subquery("u")).where(sampled)
    return query
