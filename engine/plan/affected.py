"""Changed paths -> the experiments a merge must re-analyse, each with the reasons why.

An experiment is affected when its own config changed; or, if it is live or ended within the
recent window, when an outcome it uses changed or its platform's defaults, definitions or the
shared functions changed. Facts about experiments (platform, dates, outcomes) come from the
registry, overridden by the config's own `[experiment]` table.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from engine.config.layout import Layout
from engine.config.load import load_document
from engine.config.resolve.dates import experiment_dates
from engine.experimenter import Registry, platform_of


@dataclass(frozen=True)
class Change:
    path: str  # relative to the config root
    status: str = "modified"  # added | modified | removed | renamed
    previous_path: str | None = None


@dataclass(frozen=True)
class ExperimentInfo:
    slug: str
    platform: str | None
    start_date: dt.date | None
    end_date: dt.date | None
    outcomes: tuple[str, ...] = ()

    def is_recent(self, today: dt.date, recent_days: int) -> bool:
        """Live today, or ended no more than `recent_days` ago."""
        if self.start_date is None or self.start_date > today:
            return False
        return self.end_date is None or (today - self.end_date).days <= recent_days


@dataclass(frozen=True)
class Affected:
    slug: str
    reasons: tuple[str, ...]


def experiment_infos(layout: Layout, registry: Registry | None) -> dict[str, ExperimentInfo]:
    """Every experiment config under the root, with the facts the rules need (never raises)."""
    infos = {}
    for path in layout.experiment_paths():
        slug = path.stem
        entry = registry.get(slug) if registry else None
        doc = load_document(path)
        table = doc.data.get("experiment", {})
        table = table if isinstance(table, Mapping) else {}
        listed = table.get("outcomes")  # PR content: any type may be here
        listed = tuple(o for o in listed if isinstance(o, str)) if isinstance(listed, (list, tuple)) else ()
        outcomes = listed or (entry.outcomes if entry else ())
        dates, _ = experiment_dates(doc, entry)  # the dates resolution gives the spec
        infos[slug] = ExperimentInfo(
            slug=slug,
            platform=(platform_of(table["app_name"]) if isinstance(table.get("app_name"), str) else None)
            or (entry.app_name if entry else None),
            start_date=dates.start_date, end_date=dates.end_date,
            outcomes=tuple(str(o) for o in outcomes),
        )
    return infos


def _touched(changes: Iterable[Change]) -> list[str]:
    paths = []
    for change in changes:
        paths.append(change.path)
        if change.previous_path:
            paths.append(change.previous_path)
    return paths


def affected_experiments(changes: Iterable[Change], layout: Layout, infos: Mapping[str, ExperimentInfo],
                         today: dt.date, recent_days: int) -> tuple[Affected, ...]:
    """Pure given `infos`: which experiments to re-analyse, in slug order."""
    reasons: dict[str, list[str]] = {}
    removed = {c.path for c in changes if c.status == "removed"}

    def add(slug: str, reason: str) -> None:
        if reason not in reasons.setdefault(slug, []):
            reasons[slug].append(reason)

    def shared(reason: str, matches) -> None:
        for info in infos.values():
            if matches(info) and info.is_recent(today, recent_days):
                add(info.slug, reason)

    kinds = {path: layout.kind_of(layout.root / path) for path in _touched(changes)}
    for path, kind in sorted(kinds.items(), key=lambda item: (item[1] != "experiment", item[0])):
        stem, parent = Path(path).stem, Path(path).parent.name
        if kind == "experiment":
            if stem in infos and path not in removed:
                add(stem, "its config changed")
        elif kind == "outcome":
            shared(f"outcome `{stem}` ({parent}) changed",
                   lambda i, s=stem, p=parent: s in i.outcomes and i.platform in (p, None))
        elif kind in ("defaults", "definitions"):
            shared(f"{stem} {kind} changed", lambda i, p=stem: i.platform == p)
        elif kind == "functions":
            shared("shared SQL functions changed", lambda i: True)
    return tuple(Affected(slug, tuple(r)) for slug, r in sorted(reasons.items()))
