"""Hints for unknown keys: known misplacements, close spellings, and where a key is valid.

Upstream silently ignores unknown keys, so a misplaced or misspelled key loses its intent
without a word; these hints say what the author most likely meant.
"""
from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Any, Iterable

# (table title, key) -> hint, for misplacements seen in real configs.
KNOWN_MISPLACEMENTS: dict[tuple[str, str], str] = {
    ("[segments.<slug>]", "window_start"):
        "a segment's window is read from its data source: move `window_start` under "
        "[segments.data_sources.<ds>] (the table named by this segment's data_source)",
    ("[segments.<slug>]", "window_end"):
        "a segment's window is read from its data source: move `window_end` under "
        "[segments.data_sources.<ds>] (the table named by this segment's data_source)",
    ("[segments.data_sources.<slug>]", "friendly_name"):
        "segment data sources have no friendly_name; describe the segment instead "
        "([segments.<slug>] friendly_name) or use a TOML comment",
    ("[segments.data_sources.<slug>]", "description"):
        "segment data sources have no description; describe the segment instead "
        "([segments.<slug>] description) or use a TOML comment",
    ("[metrics.<slug>]", "exposure_basis"):
        'did you mean `analysis_bases` (e.g. analysis_bases = ["exposures", "enrollments"])?',
    ("[metrics.<slug>]", "window_start"):
        "metrics have no window of their own; windows come from the period lists "
        "under [metrics] (daily, weekly, days28, overall, ...)",
    ("[metrics.<slug>]", "window_end"):
        "metrics have no window of their own; windows come from the period lists "
        "under [metrics] (daily, weekly, days28, overall, ...)",
    ("[metrics.<slug>]", "name"):
        "a metric's name is its table key ([metrics.<name>]); remove `name`",
    ("experiment config", "friendly_name"):
        "only outcome files have a top-level friendly_name; use a TOML comment here",
    ("experiment config", "description"):
        "only outcome files have a top-level description; use a TOML comment here",
    ("[experiment]", "enrollment_end_date"):
        "the enrollment end comes from the experiment registry; "
        "set `enrollment_period` (days) to override it",
    ("[experiment]", "enrollments_query"):
        "upstream ignores `enrollments_query` and reads the default enrollments; rename it "
        "`enrollment_query` to use this query",
    ("[experiment]", "exposure_query_type"):
        "there is no query type setting; describe exposures in [experiment.exposure_signal]",
}


def close_match(key: str, candidates: Iterable[str], cutoff: float = 0.75) -> str | None:
    candidates = list(candidates)
    lowered = {c.lower(): c for c in candidates}
    if key.lower() in lowered:
        return lowered[key.lower()]
    matches = difflib.get_close_matches(key, candidates, n=1, cutoff=cutoff)
    return matches[0] if matches else None


def tables_by_key(schemas: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """key -> titles of the tables (across all given schemas) where that key is valid."""
    index: dict[str, list[str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            title = node.get("title")
            if title and isinstance(node.get("properties"), dict):
                for key in node["properties"]:
                    if title not in index.setdefault(key, []):
                        index[key].append(title)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for schema in schemas:
        walk(schema)
    return index


@lru_cache(maxsize=None)
def _all_kinds_index() -> dict[str, list[str]]:
    from engine.config.schema.build import KINDS, cached_schema

    return tables_by_key(cached_schema(kind) for kind in KINDS)


def typo_of(key: str, table_title: str, known: Iterable[str]) -> str | None:
    """The known key `key` misspells (not a known misplacement, which has its own hint)."""
    if (table_title, key) in KNOWN_MISPLACEMENTS:
        return None
    match = close_match(key, list(known))
    return match if match and match != key else None


def unknown_key_hint(key: str, table_title: str, known: Iterable[str]) -> str | None:
    """The most useful hint for `key` found in the table titled `table_title`."""
    if (table_title, key) in KNOWN_MISPLACEMENTS:
        return KNOWN_MISPLACEMENTS[(table_title, key)]
    known = list(known)
    match = close_match(key, known)
    if match == key:
        return None
    if match and match.lower() == key.lower():
        return f"keys are lower case: write `{match}`"
    if match:
        return f"did you mean `{match}`?"
    elsewhere = [t for t in _all_kinds_index().get(key, []) if t != table_title]
    if elsewhere:
        return f"`{key}` is valid in {', '.join(elsewhere[:3])}, not here"
    if known:
        return f"keys allowed here: {', '.join(sorted(known))}"
    return None
