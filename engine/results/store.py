"""Reads an export directory (what `engine.results.export` wrote) for the result pages.

`ExportIndex` parses each file once and keeps it, keyed by the file's modification time and
size: a page view costs a directory listing and dictionary look-ups, and a re-export (an atomic
`os.replace`, so a new mtime) is picked up by the next view. Statistics are indexed by
(segment, basis, window) when read, so a view never scans a period's records.
"""
from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from engine.config.spec import PERIODS
from engine.results.export import errors_name, metadata_name, statistics_name

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_FILE = re.compile(r"^(metadata|errors)_(.+)\.json$")

Key = tuple[str, str, str]  # (segment, analysis basis, window index)


@dataclass(frozen=True)
class PeriodRecords:
    """One period's statistics records, grouped by selection."""

    records: tuple[Mapping[str, Any], ...]
    by_selection: Mapping[Key, tuple[Mapping[str, Any], ...]] = field(repr=False)
    segments: tuple[str, ...] = ()
    bases: tuple[str, ...] = ()
    windows: tuple[str, ...] = ()  # in window order

    @classmethod
    def of(cls, rows: list[Mapping[str, Any]]) -> "PeriodRecords":
        groups: dict[Key, list[Mapping[str, Any]]] = {}
        for r in rows:
            groups.setdefault((r["segment"], r["analysis_basis"], r["window_index"]), []).append(r)
        windows = sorted({k[2] for k in groups}, key=lambda w: (len(w), w))
        return cls(tuple(rows), {k: tuple(v) for k, v in groups.items()},
                   tuple(dict.fromkeys(r["segment"] for r in rows)),
                   tuple(dict.fromkeys(r["analysis_basis"] for r in rows)), tuple(windows))

    def select(self, segment: str, basis: str, window: str | None) -> tuple[Mapping[str, Any], ...]:
        return self.by_selection.get((segment, basis, window or ""), ())

    def series(self, segment: str, basis: str) -> list[tuple[str, tuple[Mapping[str, Any], ...]]]:
        """(window, records) of every window of one segment and basis, in window order."""
        return [(w, self.by_selection[(segment, basis, w)]) for w in self.windows
                if (segment, basis, w) in self.by_selection]


EMPTY = PeriodRecords((), {})


class ExportIndex:
    """The exported files of every experiment in one directory, each parsed once."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._cache: dict[str, tuple[tuple[int, int], Any]] = {}
        self._lock = threading.Lock()

    def _read(self, name: str, default: Any, parse: Callable[[Any], Any] = lambda v: v) -> Any:
        path = self.directory / name
        try:
            stat = path.stat()
        except OSError:
            return default
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        with self._lock:
            cached = self._cache.get(name)
            if cached is None or cached[0] != stamp:
                value = parse(json.loads(path.read_text(encoding="utf-8")))
                cached = self._cache[name] = (stamp, value)
        return cached[1]

    def _names(self) -> list[str]:
        try:
            return [e.name for e in os.scandir(self.directory)]
        except OSError:
            return []

    def slugs(self) -> list[str]:
        """Experiments with metadata (analysed) or only an errors file (failed), sorted."""
        found = {m.group(2) for m in map(_FILE.match, self._names()) if m}
        return sorted(s for s in found if _SLUG.match(s))

    def has(self, slug: str) -> bool:
        return bool(_SLUG.match(slug)) and any(
            (self.directory / name).is_file() for name in (metadata_name(slug), errors_name(slug)))

    def metadata(self, slug: str) -> dict[str, Any]:
        return self._read(metadata_name(slug), {}) if _SLUG.match(slug) else {}

    def errors(self, slug: str) -> list[dict[str, Any]]:
        return self._read(errors_name(slug), []) if _SLUG.match(slug) else []

    def periods(self, slug: str) -> list[str]:
        """Periods with a statistics file, in the canonical period order."""
        names = set(self._names())
        return [p for p in PERIODS if statistics_name(slug, p) in names]

    def statistics(self, slug: str, period: str) -> PeriodRecords:
        if period not in PERIODS or not _SLUG.match(slug):
            return EMPTY
        return self._read(statistics_name(slug, period), EMPTY, PeriodRecords.of)
