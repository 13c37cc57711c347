"""One scan of one data source for every window a run computes: windows by arithmetic.

Each row of the source is joined to its unit's enrollment (on the unit only), and its day
d = DATE_DIFF(submission_date, enrollment_date, DAY) says which windows it belongs to: within a
period windows do not overlap, so window N of a period of k-day windows holds the rows with
DIV(d, k) = N (d >= 0); the overall and pre-enrollment windows are one day range each. A row
is expanded (UNNEST) into the slots it belongs to - at most one per period, plus the segment
slot of this source - never into one copy per window, and aggregated per unit and slot.

Slots are integers: a window's slot is `PERIOD_CODE * 10000 + window number`; segments of this
source use slot `SEGMENT_SLOT`. Metrics are aggregated over the `slots` rows (unit, slot) the
caller provides, LEFT JOINed to the source rows, so a unit without rows gets the aggregate over
no rows, as before. Segment values (one per unit) are spread to every slot of the unit with an
analytic MAX over the unit, so the same scan serves both and the aggregate is read once.

The only date filter on the source is a constant range (`submission_date BETWEEN first AND
last`): the partition filter BigQuery prunes on. Column names of our own (`_e_*`) are chosen
so a user expression's unqualified columns can only mean data-source columns.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlglot import exp

from engine.config.spec import PERIODS
from engine.plan.windows import REPEATING, Window
from engine.sql.dialect import field, fill, literal

SEGMENT_SLOT = -1
_SLOT_BASE = 10_000

_ROWS = """
SELECT ds.*, _e_en.client_id AS _e_unit, _e_slot AS _e_slot
FROM :source AS ds
JOIN enrollments AS _e_en ON :unit = _e_en.client_id
CROSS JOIN UNNEST(:slots) AS _e_slot
WHERE :date BETWEEN :first AND :last AND _e_slot IS NOT NULL
"""

_AGGREGATE = """
SELECT e._e_unit AS client_id, e._e_slot AS _e_slot
FROM (SELECT s.client_id AS _e_unit, s.slot AS _e_slot FROM :slots AS s) AS e
LEFT JOIN :rows AS ds ON ds._e_unit = e._e_unit AND ds._e_slot = e._e_slot
GROUP BY e._e_unit, e._e_slot
"""


def slot_of(win: Window) -> int:
    """The integer key of a window in one run's query (unique across periods)."""
    return (PERIODS.index(win.period) + 1) * _SLOT_BASE + win.number


@dataclass(frozen=True)
class Scan:
    """What one scan of a data source computes: metric columns over `windows` (rows of windows
    not before enrollment only when `in_experiment` holds), segment columns over days
    [segment_start, segment_end] from enrollment."""

    source: exp.Expression
    unit_column: str
    date_column: str
    windows: tuple[Window, ...]
    metrics: tuple[exp.Expression, ...]  # aliased aggregate expressions
    segments: tuple[exp.Expression, ...] = ()  # aliased aggregate expressions
    segment_start: int = 0
    segment_end: int = 0
    in_experiment: exp.Expression | None = None

    def first_and_last(self, first_enrollment: dt.date, last_enrollment: dt.date
                       ) -> tuple[dt.date, dt.date]:
        """The constant date range the scan reads (every unit's windows fall inside it)."""
        starts = [w.start for w in self.windows] + ([self.segment_start] if self.segments else [])
        ends = [w.end for w in self.windows] + ([self.segment_end] if self.segments else [])
        return (first_enrollment + dt.timedelta(days=min(starts)),
                last_enrollment + dt.timedelta(days=max(ends)))


def _day(date: exp.Expression) -> exp.Expression:
    return exp.DateDiff(this=date, expression=exp.column("enrollment_date", "_e_en"),
                        unit=exp.var("DAY"))


def _period_slot(windows: tuple[Window, ...], day: exp.Expression,
                 in_experiment: exp.Expression | None) -> exp.Expression:
    """The slot of a row in one period's `windows` (NULL when in none of them)."""
    first = windows[0]
    size = REPEATING.get(first.period)
    condition: exp.Expression
    if size is not None:  # windows tile the days from enrollment: N = DIV(d, k)
        index = exp.IntDiv(this=day.copy(), expression=literal(size))  # BigQuery DIV
        number = exp.Add(this=index, expression=literal(slot_of(first) - first.index))
        indices = [w.index for w in windows]
        if indices == list(range(indices[0], indices[-1] + 1)):
            which: exp.Expression = exp.Between(this=index.copy(), low=literal(indices[0]),
                                                high=literal(indices[-1]))
        else:
            which = exp.In(this=index.copy(), expressions=[literal(i) for i in indices])
        condition = exp.and_(day.copy() >= 0, which)
    else:
        (only,) = windows
        number = literal(slot_of(only))
        condition = exp.Between(this=day.copy(), low=literal(only.start), high=literal(only.end))
    if in_experiment is not None and first.start >= 0:
        condition = exp.and_(condition, in_experiment.copy())
    return exp.If(this=condition, true=number, false=exp.null())


def scan_aggregate(scan: Scan, slots: exp.Expression, first_enrollment: dt.date,
                   last_enrollment: dt.date) -> exp.Select:
    """SELECT client_id, _e_slot, <metrics>, <segments> over the units and slots of `slots`
    (a table or subquery with client_id, slot), from one scan of the source."""
    date = field("ds", scan.date_column)
    day = _day(date)
    periods: dict[str, list[Window]] = {}
    for win in scan.windows:
        periods.setdefault(win.period, []).append(win)
    members = [_period_slot(tuple(ws), day, scan.in_experiment) for ws in periods.values()]
    if scan.segments:
        segment_days = exp.Between(this=day.copy(), low=literal(scan.segment_start),
                                   high=literal(scan.segment_end))
        members.append(exp.If(this=segment_days, true=literal(SEGMENT_SLOT), false=exp.null()))
    first, last = scan.first_and_last(first_enrollment, last_enrollment)
    rows = fill(_ROWS, source=scan.source, unit=field("ds", scan.unit_column), date=date,
                slots=exp.Array(expressions=members), first=literal(first), last=literal(last))
    query = fill(_AGGREGATE, slots=slots, rows=rows.subquery())
    query = query.select(*scan.metrics, append=True, copy=False)
    in_segment = exp.column("_e_slot", "e").eq(literal(SEGMENT_SLOT))
    spread = []
    for segment in scan.segments:
        value = exp.If(this=in_segment.copy(), true=segment.this.copy(), false=exp.null())
        over = exp.Window(this=exp.Max(this=value),
                          partition_by=[exp.column("_e_unit", "e")])
        spread.append(exp.alias_(over, segment.alias, quoted=True))
    return query.select(*spread, append=True, copy=False)
