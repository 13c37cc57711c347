"""One scan of one data source for every window a run computes: windows by arithmetic.

Each row of the source is joined to its unit's enrollment (on the unit only), and its day
d = DATE_DIFF(submission_date, enrollment_date, DAY) says which windows it belongs to: within a
period windows do not overlap, so window N of a period of k-day windows holds the rows with
DIV(d, k) = N (d >= 0); the overall and pre-enrollment windows are one day range each. A row
is repeated into the slots it belongs to - at most one per period, plus the segment slot of
this source - never into one copy per window, and aggregated per unit and slot.

Slots are integers: a window's slot is `PERIOD_CODE * 10000 + window number`; segments of this
source use slot `SEGMENT_SLOT`. The rows are aggregated per unit and slot as they stream from
the scan (so DuckDB sums each unit's values in one order, run after run), then joined to the
`slots` rows (unit, slot) the caller provides; a unit without rows in a slot gets the
aggregates over one row of NULLs (what a LEFT JOIN of the source gives), computed from a read
of nothing (WHERE FALSE). Segment values (one per unit) are spread to every slot of the unit
with an analytic MAX over the unit, so the same scan serves both.

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
from engine.sql.dialect import column, field, fill, literal

SEGMENT_SLOT = -1
_SLOT_BASE = 10_000

# Each row joins its unit's enrollment and is repeated once per member (a period's windows,
# the segment days): a cross join with a constant table of member numbers, not an UNNEST of a
# per-row array, whose lateral join DuckDB aggregates in a varying order (float sums differ in
# their last bits from run to run).
_ROWS = """
SELECT * FROM (
  SELECT ds.*, _e_en.client_id AS _e_unit, :slot AS _e_slot
  FROM :source AS ds
  JOIN enrollments AS _e_en ON :unit = _e_en.client_id
  CROSS JOIN :members AS _e_m
  WHERE :date BETWEEN :first AND :last
) AS _e_rows
WHERE _e_rows._e_slot IS NOT NULL
"""

_GROUPED = """
SELECT ds._e_unit AS _e_unit, ds._e_slot AS _e_slot FROM :rows AS ds
GROUP BY ds._e_unit, ds._e_slot
"""

# The aggregates over one row of NULLs: what a unit without rows in a slot gets (as a LEFT
# JOIN of the source gave it). WHERE FALSE reads nothing (BigQuery bills 0 bytes for it).
_NO_ROWS = """
SELECT 1 AS _e_one FROM (SELECT 1 AS _e_one) AS _e_row
LEFT JOIN (SELECT ds.* FROM :source AS ds WHERE FALSE) AS ds ON TRUE
"""

_AGGREGATE = """
SELECT e._e_unit AS client_id, e._e_slot AS _e_slot
FROM (SELECT s.client_id AS _e_unit, s.slot AS _e_slot FROM :slots AS s) AS e
LEFT JOIN :grouped AS r ON r._e_unit = e._e_unit AND r._e_slot = e._e_slot
CROSS JOIN :no_rows AS z
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
    numbers = [exp.select(exp.alias_(literal(i), "m")) for i in range(1, len(members) + 1)]
    table: exp.Query = numbers[0]
    for number in numbers[1:]:
        table = exp.union(table, number, distinct=False)
    slot = exp.Case(this=column("m", "_e_m"), ifs=[
        exp.If(this=literal(i), true=member) for i, member in enumerate(members, start=1)])
    rows = fill(_ROWS, source=scan.source, unit=field("ds", scan.unit_column), date=date,
                slot=slot, members=table.subquery(), first=literal(first), last=literal(last))
    expressions = (*scan.metrics, *scan.segments)
    grouped = fill(_GROUPED, rows=rows.subquery()).select(*expressions, copy=True)
    no_rows = fill(_NO_ROWS, source=scan.source.copy()).select(*expressions, copy=True)
    query = fill(_AGGREGATE, slots=slots, grouped=grouped.subquery(), no_rows=no_rows.subquery())
    values = {e.alias: exp.If(this=column("_e_unit", "r").is_(exp.null()),
                              true=_quoted(e.alias, "z"), false=_quoted(e.alias, "r"))
              for e in expressions}
    query = query.select(*[exp.alias_(values[m.alias], m.alias, quoted=True)
                           for m in scan.metrics], append=True, copy=False)
    in_segment = column("_e_slot", "e").eq(literal(SEGMENT_SLOT))
    spread = []
    for segment in scan.segments:  # one value per unit, from its segment slot, on every slot
        value = exp.If(this=in_segment.copy(), true=values[segment.alias], false=exp.null())
        over = exp.Window(this=exp.Max(this=value), partition_by=[column("_e_unit", "e")])
        spread.append(exp.alias_(over, segment.alias, quoted=True))
    return query.select(*spread, append=True, copy=False)


def _quoted(name: str, table: str) -> exp.Column:
    return exp.column(exp.to_identifier(name, quoted=True), exp.to_identifier(table))
