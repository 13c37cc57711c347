"""Per-unit aggregation of data-source rows inside each unit's own window (metrics, segments).

The population is exposed to the aggregate as `e._e_unit` / `e._e_date` (unit id, enrollment
date): names chosen so a user expression's unqualified columns can only mean data-source columns.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlglot import exp

from engine.sql.dialect import field, fill, literal

POPULATION = "population"

_AGGREGATE = """
SELECT e._e_unit AS client_id
FROM (SELECT p.client_id AS _e_unit, p.enrollment_date AS _e_date FROM population AS p) AS e
LEFT JOIN :source AS ds
  ON :unit = e._e_unit
  AND :date BETWEEN DATE_ADD(e._e_date, INTERVAL :start DAY)
                AND DATE_ADD(e._e_date, INTERVAL :end DAY)
  AND :date BETWEEN :first AND :last
  AND :extra
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


def per_unit_aggregate(
    source: exp.Expression,
    unit_column: str,
    date_column: str,
    days: DayRange,
    columns: list[exp.Expression],
    extra: exp.Expression | None = None,
) -> exp.Select:
    """SELECT client_id, <columns> over each unit's rows with dates in its `days` window."""
    query = fill(
        _AGGREGATE,
        source=source,
        unit=field("ds", unit_column),
        date=field("ds", date_column),
        start=literal(days.start),
        end=literal(days.end),
        first=literal(days.first),
        last=literal(days.last),
        extra=extra if extra is not None else exp.true(),
    )
    return query.select(*columns, append=True, copy=False)
