"""Exposures: each enrolled unit's first exposure inside its exposure window.

Default signal: desktop Normandy `expose` events, Glean `nimbus_events.exposure` events.
A custom `exposure_signal` is a boolean `select_expression` over its data source: row-level
(a unit is exposed on each day with a matching row), or an aggregate such as
`COUNTIF(...) > 0` (evaluated per unit and day; exposed on the days it holds).
Window bounds: int = days relative to the unit's enrollment date; "enrollment_start" /
"enrollment_end" = the experiment's first / last enrollment date; "analysis_window_start" /
"analysis_window_end" = the unit's analysis window. Default: enrollment day .. window end.
"""
from __future__ import annotations

import datetime as dt

from sqlglot import exp

from engine.config.spec import ExperimentSpec
from engine.plan.windows import Timeline, Window
from engine.sql.dialect import (
    column,
    field,
    fill,
    literal,
    parse_expression,
    parse_from,
)
from engine.sql.enrollments import nimbus_events, source_unit_column

_NORMANDY = """
SELECT x.:unit AS client_id, x.submission_date AS submission_date
FROM :events AS x
WHERE x.event_category = 'normandy' AND x.event_method = 'expose'
  AND x.event_string_value = :slug AND x.submission_date BETWEEN :first AND :last
"""

_GLEAN = """
SELECT x.:unit AS client_id, DATE(x.submission_timestamp) AS submission_date
FROM :events AS x
WHERE x.event_category = 'nimbus_events' AND x.event_name = 'exposure'
  AND JSON_VALUE(x.event_extra, '$.experiment') = :slug
  AND DATE(x.submission_timestamp) BETWEEN :first AND :last
"""

_CUSTOM = """
SELECT :unit AS client_id, :date AS submission_date
FROM :source AS ds
WHERE (:signal) AND :date BETWEEN :first AND :last
"""

_CUSTOM_AGGREGATE = """
SELECT :unit AS client_id, :date AS submission_date
FROM :source AS ds
WHERE :date BETWEEN :first AND :last
GROUP BY :unit, :date
HAVING (:signal)
"""

_EXPOSURES = """
SELECT e.client_id AS client_id, e.slot AS slot,
       MIN(x.submission_date) AS exposure_date, COUNT(*) AS num_exposure_events
FROM enrolled_windows AS e
JOIN :signal AS x
  ON x.client_id = e.client_id AND x.submission_date BETWEEN :window_start AND :window_end
GROUP BY e.client_id, e.slot
"""


def _bound(value: int | str | None, default: int | str, windows: tuple[Window, ...],
           timeline: Timeline) -> tuple[exp.Expression, dt.date, dt.date]:
    """(per-unit-and-window date expression, earliest date, latest date) of one exposure-window
    bound, over the CTE `enrolled_windows` (enrollment_date, window_from, window_to)."""
    value = default if value is None else value
    fixed = {"enrollment_start": timeline.start_date,
             "enrollment_end": timeline.last_enrollment_date}
    if isinstance(value, str) and value in fixed:
        return literal(fixed[value]), fixed[value], fixed[value]
    per_window = {"analysis_window_start": ("window_from", [w.start for w in windows]),
                  "analysis_window_end": ("window_to", [w.end for w in windows])}
    if isinstance(value, str) and value not in per_window:
        raise ValueError(f"unknown exposure window bound {value!r}")
    if isinstance(value, str):
        name, offsets = per_window[value]
        expression: exp.Expression = column(name, "e")
    else:
        offsets = [int(value)]
        expression = exp.DateAdd(this=column("enrollment_date", "e"),
                                 expression=literal(offsets[0]), unit=exp.var("DAY"))
    earliest = timeline.start_date + dt.timedelta(days=min(offsets))
    latest = timeline.last_enrollment_date + dt.timedelta(days=max(offsets))
    return expression, earliest, latest


def exposures_query(experiment: ExperimentSpec, windows: tuple[Window, ...], timeline: Timeline
                    ) -> exp.Query:
    """Per enrolled unit and window slot (from CTE `enrolled_windows`): slot, exposure_date,
    num_exposure_events; `windows` (those starting at enrollment or later) bound the dates read."""
    signal = experiment.exposure_signal
    start, first, _ = _bound(signal and signal.window_start, 0, windows, timeline)
    end, _, last = _bound(signal and signal.window_end, "analysis_window_end", windows, timeline)
    bounds = dict(first=literal(first), last=literal(last))
    if signal is not None:
        source = signal.data_source
        condition = parse_expression(signal.select_expression)
        template = _CUSTOM_AGGREGATE if condition.find(exp.AggFunc) else _CUSTOM
        rows = fill(template, unit=field("ds", source_unit_column(experiment, source)),
                    date=field("ds", source.submission_date_column),
                    source=parse_from(source.from_expression),
                    signal=condition, **bounds)
    else:
        rows = nimbus_events(experiment, _NORMANDY, _GLEAN, **bounds)
    return fill(_EXPOSURES, signal=rows.subquery(), window_start=start, window_end=end)
