"""Reads an export directory (what `engine.results.export` wrote) for the result pages."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from engine.config.spec import PERIODS
from engine.results.export import errors_name, metadata_name, statistics_name

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ExportDirectory:
    """The exported JSON files of every experiment in one directory."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _read(self, name: str, default: Any) -> Any:
        path = self.directory / name
        if not path.is_file():
            return default
        return json.loads(path.read_text(encoding="utf-8"))

    def slugs(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        found = (p.name[len("metadata_"):-len(".json")]
                 for p in self.directory.glob("metadata_*.json"))
        return sorted(s for s in found if _SLUG.match(s))

    def has(self, slug: str) -> bool:
        return bool(_SLUG.match(slug)) and (self.directory / metadata_name(slug)).is_file()

    def metadata(self, slug: str) -> dict[str, Any]:
        return self._read(metadata_name(slug), {}) if _SLUG.match(slug) else {}

    def errors(self, slug: str) -> list[dict[str, Any]]:
        return self._read(errors_name(slug), []) if _SLUG.match(slug) else []

    def periods(self, slug: str) -> list[str]:
        """Periods with a statistics file, in the canonical period order."""
        return [p for p in PERIODS if (self.directory / statistics_name(slug, p)).is_file()]

    def statistics(self, slug: str, period: str) -> list[dict[str, Any]]:
        if period not in PERIODS or not _SLUG.match(slug):
            return []
        return self._read(statistics_name(slug, period), [])
