"""Experiment dates: format, order, and the enrollment period inside the analysis span.

Configured values win over the registry's; offline, templates get placeholder dates.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from engine.config.load import Document
from engine.config.resolve.entries import table_of
from engine.experimenter import RegistryEntry
from engine.findings import Finding
from engine.isodate import parse_date

PLACEHOLDER_START = dt.date(2000, 1, 1)  # offline rendering of {{experiment.start_date_str}}
PLACEHOLDER_ENROLLMENT_DAYS = 7


@dataclass(frozen=True)
class ExperimentDates:
    start_date: dt.date | None
    end_date: dt.date | None
    enrollment_period: int | None

    def for_templates(self) -> tuple[dt.date, dt.date | None, int]:
        """Dates to render templates with: the real ones, or placeholders when unknown."""
        return (self.start_date or PLACEHOLDER_START, self.end_date,
                self.enrollment_period or PLACEHOLDER_ENROLLMENT_DAYS)


def _date(doc: Document, key: str, findings: list[Finding]) -> dt.date | None:
    value: Any = table_of(doc.data.get("experiment")).get(key)
    if value is None:
        return None
    try:
        return parse_date(value if isinstance(value, dt.date) else str(value))
    except ValueError:
        findings.append(doc.finding(("experiment", key), "invalid-date",
                                    f"{key} {value!r} is not a date", "write dates as YYYY-MM-DD"))
        return None


def experiment_dates(doc: Document, entry: RegistryEntry | None) -> tuple[ExperimentDates, list[Finding]]:
    findings: list[Finding] = []
    start = _date(doc, "start_date", findings) or (entry.start_date if entry else None)
    end = _date(doc, "end_date", findings) or (entry.end_date if entry else None)
    period: Any = table_of(doc.data.get("experiment")).get("enrollment_period")
    if not isinstance(period, int) or isinstance(period, bool):
        period = entry.enrollment_period if entry else None
    elif period < 1:
        findings.append(doc.finding(("experiment", "enrollment_period"), "invalid-enrollment-period",
                                    f"enrollment_period must be at least 1 day, not {period}"))
        period = None
    if start and end and end < start:
        key = "end_date" if "end_date" in table_of(doc.data.get("experiment")) else "start_date"
        findings.append(doc.finding(("experiment", key), "end-before-start",
                                    f"end date {end} is before start date {start}"))
    elif start and end and period:
        last_enrollment = start + dt.timedelta(days=period - 1)
        if last_enrollment > end:
            key = "enrollment_period" if "enrollment_period" in table_of(doc.data.get("experiment")) else "end_date"
            findings.append(doc.finding(
                ("experiment", key), "enrollment-after-end",
                f"enrollment ends {last_enrollment} ({period} days from {start}), after the end date {end}",
                "shorten enrollment_period or move end_date"))
    return ExperimentDates(start, end, period), findings
