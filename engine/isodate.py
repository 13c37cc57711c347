"""The one date parser: TOML dates, Experimenter's ISO strings (`2024-01-01T00:00:00Z`) and
`datetime` values all become a `datetime.date`."""
from __future__ import annotations

import datetime as dt


def parse_date(value: object) -> dt.date:
    """ValueError when `value` is no date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):  # a time of day after the date is ignored, nothing else is
        return dt.date.fromisoformat(value[:10] if value[10:11] in ("T", " ") else value)
    raise ValueError(f"{value!r} is not a date")


def yesterday() -> dt.date:
    """The last day with complete telemetry, as daily runs and merge re-analyses take it (UTC)."""
    return dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
