"""Experiment registry: Experimenter-style JSON (API v6 camelCase or v8 names) from a file or URL.

Only the fields the analysis needs are kept, as frozen records keyed by slug.
"""
from __future__ import annotations

import datetime as dt
import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from engine.isodate import parse_date

# Experimenter application names that differ from our platform (= definitions file) names.
_APP_ALIASES = {"ios": "firefox_ios", "firefox-ios": "firefox_ios", "firefox-desktop": "firefox_desktop",
                "desktop": "firefox_desktop", "monitor_web": "monitor_cirrus"}


@dataclass(frozen=True)
class Branch:
    slug: str
    ratio: float = 1.0


class RegistryError(Exception):
    """The registry source cannot be read or is not Experimenter JSON."""


@dataclass(frozen=True)
class RegistryEntry:
    slug: str
    normandy_slug: str
    app_name: str | None
    app_id: str | None
    branches: tuple[Branch, ...] = ()
    reference_branch: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    proposed_enrollment: int | None = None
    enrollment_end_date: dt.date | None = None
    is_rollout: bool = False
    status: str | None = None
    channel: str | None = None
    outcomes: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    name: str | None = None  # the display name (Experimenter's userFacingName)

    @property
    def branch_slugs(self) -> tuple[str, ...]:
        return tuple(b.slug for b in self.branches)

    @property
    def enrollment_period(self) -> int | None:
        """Days of enrollment: from the enrollment end date if known, else the proposed period."""
        if self.enrollment_end_date and self.start_date:
            return (self.enrollment_end_date - self.start_date).days + 1
        return self.proposed_enrollment


@dataclass(frozen=True)
class Registry:
    entries: Mapping[str, RegistryEntry]

    def get(self, slug: str) -> RegistryEntry | None:
        return self.entries.get(slug)

    def __len__(self) -> int:
        return len(self.entries)


def _field(record: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if record.get(name) is not None:
            return record[name]
    return None


def _date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return parse_date(value)
    except ValueError as error:
        raise RegistryError(f"invalid date {value!r}") from error


def _slugs(items: Any) -> tuple[str, ...]:
    """Outcomes/segments come as strings or as objects with a slug."""
    if not isinstance(items, list):
        return ()
    return tuple(str(i["slug"]) if isinstance(i, Mapping) else str(i) for i in items
                 if not isinstance(i, Mapping) or "slug" in i)


def platform_of(app_name: str | None) -> str | None:
    if not app_name:
        return None
    name = str(app_name)
    return _APP_ALIASES.get(name, name.replace("-", "_"))


def parse_entry(record: Mapping[str, Any]) -> RegistryEntry:
    if not isinstance(record, Mapping) or not isinstance(record.get("slug"), str):
        raise RegistryError("every experiment needs a string 'slug'")
    branches = tuple(
        Branch(str(b["slug"]), float(b.get("ratio", 1) or 1))
        for b in record.get("branches") or () if isinstance(b, Mapping) and "slug" in b)
    proposed = _field(record, "proposedEnrollment", "proposed_enrollment")
    return RegistryEntry(
        slug=record["slug"],
        normandy_slug=str(_field(record, "normandy_slug", "normandySlug", "slug")),
        app_name=platform_of(_field(record, "appName", "app_name", "application")),
        app_id=_field(record, "appId", "app_id"),
        branches=branches,
        reference_branch=_field(record, "referenceBranch", "reference_branch"),
        start_date=_date(_field(record, "startDate", "start_date")),
        end_date=_date(_field(record, "endDate", "end_date")),
        proposed_enrollment=int(proposed) if proposed is not None else None,
        enrollment_end_date=_date(_field(record, "enrollmentEndDate", "enrollment_end_date",
                                         "_enrollmentEndDate")),
        is_rollout=bool(_field(record, "isRollout", "is_rollout")),
        status=_field(record, "status", "publishStatus"),
        channel=_field(record, "channel"),
        outcomes=_slugs(record.get("outcomes")),
        segments=_slugs(record.get("segments")),
        name=_field(record, "userFacingName", "name"),
    )


def parse_registry(payload: Any) -> Registry:
    """A list of experiments, a single experiment, or {"experiments": [...]}."""
    if isinstance(payload, Mapping) and isinstance(payload.get("experiments"), list):
        payload = payload["experiments"]
    records: Iterable[Any] = [payload] if isinstance(payload, Mapping) else payload
    if not isinstance(records, list) and not isinstance(payload, Mapping):
        raise RegistryError("registry JSON must be a list of experiments or an object")
    entries = {entry.slug: entry for entry in map(parse_entry, records)}
    return Registry(MappingProxyType(entries))


def load_registry(source: str | Path, timeout: float = 30.0) -> Registry:
    """Read the registry from a local file or an http(s) URL."""
    text = str(source)
    try:
        if text.startswith(("http://", "https://")):
            with urllib.request.urlopen(text, timeout=timeout) as response:  # noqa: S310 (scheme checked)
                raw = response.read()
        else:
            raw = Path(text).read_bytes()
        payload = json.loads(raw)
    except (OSError, ValueError) as error:
        raise RegistryError(f"cannot read registry {text}: {error}") from error
    return parse_registry(payload)
