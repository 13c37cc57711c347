"""Per-unit aggregation of data-source rows inside each unit's own window (metrics, segments).

Metrics are aggregated per (unit, window) over the `population` CTE, which carries each unit's
absolute window bounds (`window_from`, `window_to`) for every window of the period, so a whole
period is one query. Segments are aggregated per unit over `enrollments`, with the segment data
source's own day offsets. The population is exposed to the aggregate as `e._e_*` columns: names
chosen so a user expression's unqualified columns can only mean data-source columns.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlglot import exp

from engine.sql.dialect import field, fill, literal

_PER_WINDOW = """
SELECT e._e_unit AS client_id, e._e_window AS window_index
FROM (SELECT p.client_id AS _e_unit, p.window_index AS _e_window,
             p.window_from AS _e_from, p.window_to AS _e_to FROM population AS p) AS e
LEFT JOIN :source AS ds
  ON :unit = e._e_unit
  AND :date BETWEEN e._e_from AND e._e_to
  AND :date BETWEEN :first AND :last
  AND :extra
GROUP BY e._e_unit, e._e_window
"""

_PER_UNIT = """
SELECT e._e_unit AS client_id
FROM (SELECT p.client_id AS _e_unit,
             CAST(DATE_ADD(p.enrollment_date, INTERVAL :start DAY) AS DATE) AS _e_from,
             CAST(DATE_ADD(p.enrollment_date, INTERVAL :end DAY) AS DATE) AS _e_to
      FROM enrollments AS p) AS e
LEFT JOIN :source AS ds
  ON :unit = e._e_unit
  AND :date BETWEEN e._e_from AND e._e_to
  AND :date BETWEEN :first AND :last
GROUP BY e._e_unit
"""


@dataclass(frozen=True)
class DayRange:
    """Days [start, end] relative to enrollment, plus the absolute date bounds they can reach."""

    start: int
    end: int
    first_enrollment: dt.date
    last_enrollment: dt.date

    @property
    def first(self) -> dt.date:
        return self.first_enrollment + dt.timedelta(days=self.start)

    @property
    def last(self) -> dt.date:
        return self.last_enrollment + dt.timedelta(days=self.end)


def _aggregate(template: str, source: exp.Expression, unit_column: str, date_column: str,
               days: DayRange, columns: list[exp.Expression], **nodes: exp.Expression
               ) -> exp.Select:
    """`template` over `source` (as `ds`), date-bounded by `days`, with `columns` appended."""
    query = fill(
        template,
        source=source,
        unit=field("ds", unit_column),
        date=field("ds", date_column),
        first=literal(days.first),
        last=literal(days.last),
        **nodes,
    )
    return query.select(*columns, append=True, copy=False)


def per_window_aggregate(
    source: exp.Expression,
    unit_column: str,
    date_column: str,
    days: DayRange,
    columns: list[exp.Expression],
    extra: exp.Expression | None = None,
) -> exp.Select:
    """SELECT client_id, window_index, <columns> over each unit's rows in each of its windows
    (from CTE `population`); `days` spans every window (it bounds the dates scanned)."""
    return _aggregate(_PER_WINDOW, source, unit_column, date_column, days, columns,
                      extra=extra if extra is not None else exp.true())


def per_unit_aggregate(
    source: exp.Expression,
    unit_column: str,
    date_column: str,
    days: DayRange,
    columns: list[exp.Expression],
) -> exp.Select:
    """SELECT client_id, <columns> over each enrolled unit's rows in its `days` window."""
    return _aggregate(_PER_UNIT, source, unit_column, date_column, days, columns,
                      start=literal(days.start), end=literal(days.end))
