"""Analysis periods and windows, and which windows are ready on a given date.

Windows are counted in days from each client's own enrollment date (day 0):
daily N = [N, N], weekly N = [7N, 7N+6], days28 N = [28N, 28N+27],
overall = [0, end_date - last_enrollment_date], pre-enrollment week/28 days end on day -1.
A window [s, e] is ready on date D (the last day with complete data) once enrollment has closed
and the last-enrolled client has data through its day e: last_enrollment_date + e <= D.
No window reaches past the experiment's end date.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterator

from engine.config.spec import PERIOD_ALIASES, PERIODS, ExperimentSpec

# period -> (window length in days, whether windows repeat); overall/pre-enrollment are single
REPEATING = {"daily": 1, "weekly": 7, "days28": 28}
_PREENROLLMENT = {"preenrollment_weekly": 7, "preenrollment_days28": 28}


@dataclass(frozen=True, order=True)
class Window:
    """One analysis window: days [start, end] relative to each client's enrollment date."""

    period: str
    index: int  # 0-based N as in "week N"
    start: int
    end: int

    @property
    def number(self) -> int:
        """1-based window number used in table names and results (upstream convention)."""
        return self.index + 1

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def is_preenrollment(self) -> bool:
        return self.start < 0


@dataclass(frozen=True)
class Timeline:
    """The dates that decide windows: first and last enrollment day and the experiment end."""

    start_date: dt.date
    last_enrollment_date: dt.date
    end_date: dt.date | None

    @property
    def enrollment_days(self) -> int:
        return (self.last_enrollment_date - self.start_date).days + 1

    @property
    def overall_end(self) -> int | None:
        """Last day index every client has data for, or None while the experiment runs."""
        if self.end_date is None:
            return None
        return (self.end_date - self.last_enrollment_date).days


def canonical_period(name: str) -> str:
    period = PERIOD_ALIASES.get(name, name)
    if period not in PERIODS:
        raise ValueError(f"unknown period {name!r}; expected one of {', '.join(PERIODS)}")
    return period


def window(period: str, index: int = 0, timeline: Timeline | None = None) -> Window:
    """The window `index` of `period`; the overall window needs a timeline with an end date."""
    period = canonical_period(period)
    if period in REPEATING:
        size = REPEATING[period]
        return Window(period, index, size * index, size * index + size - 1)
    if index != 0:
        raise ValueError(f"period {period} has a single window")
    if period in _PREENROLLMENT:
        return Window(period, 0, -_PREENROLLMENT[period], -1)
    if timeline is None or timeline.overall_end is None:
        raise ValueError("the overall window needs the experiment's end date")
    return Window(period, 0, 0, timeline.overall_end)


def is_ready(win: Window, timeline: Timeline, date: dt.date) -> bool:
    """True once every enrolled client has complete data for `win` on `date`."""
    if date < timeline.last_enrollment_date:
        return False
    last_day = timeline.last_enrollment_date + dt.timedelta(days=win.end)
    if timeline.end_date is not None and last_day > timeline.end_date:
        return False
    return last_day <= date


def ready_on(win: Window, timeline: Timeline) -> dt.date:
    """The first date on which `win` is ready (if it ever is: see `is_ready`)."""
    return timeline.last_enrollment_date + dt.timedelta(days=max(win.end, 0))


def ready_windows(period: str, timeline: Timeline, date: dt.date) -> tuple[Window, ...]:
    """All windows of `period` that are complete on `date`, in order."""
    period = canonical_period(period)
    if period == "overall":
        if timeline.overall_end is None:
            return ()
        candidates: Iterator[Window] = iter([window(period, 0, timeline)])
    elif period in _PREENROLLMENT:
        candidates = iter([window(period)])
    else:
        candidates = (window(period, i) for i in range(0, 100_000))
    ready: list[Window] = []
    for win in candidates:
        if not is_ready(win, timeline, date):
            break
        ready.append(win)
    return tuple(ready)


def timeline_of(experiment: ExperimentSpec) -> Timeline | None:
    """The experiment's timeline, or None when start date or enrollment period is unknown.
    Dates are final in the spec (resolution applied the registry): nothing here reads it."""
    last = experiment.last_enrollment_date
    if experiment.start_date is None or last is None:
        return None
    return Timeline(experiment.start_date, last, experiment.end_date)
