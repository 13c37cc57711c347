"""Reference checks: names in one place that must exist somewhere else.

metric -> data source, outcome exists and supports the platform, segments and their data
sources, depends_on, population_ratio numerator/denominator.
Each check returns findings located at the referring key (or list element).
"""
from __future__ import annotations

import contextlib
import contextvars
import difflib
import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from engine.config.load import Document, KeyPath
from engine.config.repository import Entry, Origin, Repository
from engine.findings import Finding, Severity
from engine.statistics.registry import STATISTICS

_HEADER = re.compile(r"^\s*\[")
_QUOTED = re.compile(r"\"([^\"]*)\"|'([^']*)'")


def element_line(doc: Document, key: KeyPath, value: str) -> int | None:
    """Line of `value` inside the (possibly multi-line) array at `key`."""
    start = doc.line_of(key)
    if start is None or key not in doc.lines:
        return start
    return _array_lines(doc.text, start).get(value, start)


@functools.lru_cache(maxsize=4096)
def _array_lines(text: str, start: int) -> dict[str, int]:
    """First line of every quoted string from line `start` to the next table header."""
    found: dict[str, int] = {}
    for offset, line in enumerate(text.splitlines()[start - 1:start + 500]):
        if offset and _HEADER.match(line):
            break
        for match in _QUOTED.finditer(line.split("=", 1)[-1] if offset == 0 else line):
            found.setdefault(match.group(1) or match.group(2), start + offset)
    return found


# "Did you mean" hints cost a fuzzy match against every known name; a validator that resolves
# a config on many platforms only reports one resolution, so it turns them off for the others.
_HINTS = contextvars.ContextVar("did_you_mean_hints", default=True)


@contextlib.contextmanager
def hints_enabled(enabled: bool) -> Iterator[None]:
    token = _HINTS.set(enabled)
    try:
        yield
    finally:
        _HINTS.reset(token)


def did_you_mean(name: str, candidates: Mapping[str, Any] | tuple[str, ...]) -> str | None:
    if not _HINTS.get():
        return None
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return f"did you mean {close[0]!r}?" if close else None


def outcome_documents(doc: Document, slugs: tuple[str, ...], from_config: bool, repo: Repository,
                      platform: str) -> tuple[list[tuple[str, Document]], list[Finding]]:
    found: list[tuple[str, Document]] = []
    findings: list[Finding] = []
    available = repo.outcomes.get(platform, {})
    for slug in slugs:
        if slug in available:
            found.append((slug, available[slug]))
            continue
        line = element_line(doc, ("experiment", "outcomes"), slug) if from_config else 1
        elsewhere = sorted(p for p, outcomes in repo.outcomes.items() if slug in outcomes)
        if elsewhere:
            findings.append(Finding(doc.path, line, None, Severity.ERROR, "outcome-platform",
                                    f"outcome {slug!r} does not support platform {platform}",
                                    f"it exists for: {', '.join(elsewhere)}"))
        else:
            findings.append(Finding(doc.path, line, None, Severity.ERROR, "unknown-outcome",
                                    f"outcome {slug!r} does not exist", did_you_mean(slug, available)))
    return found, findings


def lookup(kind: str, name: Any, table: Mapping[str, Entry], origin: Origin, platform: str,
           code: str) -> tuple[Entry | None, list[Finding]]:
    """Find `name` in `table`; else a finding at `origin` naming what was not found."""
    if isinstance(name, str) and name in table:
        return table[name], []
    if not isinstance(name, str) or not name:
        return None, [origin.finding(code, f"{kind} reference is missing or not a string")]
    return None, [origin.finding(code, f"{kind} {name!r} is not defined for platform {platform}",
                                 did_you_mean(name, table))]


def statistic_references(metric: Entry, metrics: Mapping[str, Entry], platform: str) -> list[Finding]:
    """population_ratio numerator/denominator must be metrics."""
    findings: list[Finding] = []
    statistics = metric.get("statistics")
    if not isinstance(statistics, Mapping):
        return findings
    origin = metric.origin_of("statistics")
    for name, params in statistics.items():
        if name not in STATISTICS or not isinstance(params, Mapping):
            continue  # the structure check reports unknown statistics and bad tables
        if name == "population_ratio":
            for role in ("numerator", "denominator"):
                target = params.get(role)
                if isinstance(target, str) and target not in metrics:
                    findings.append(origin.finding(
                        "unknown-metric",
                        f"population_ratio {role} {target!r} of metric {metric.name!r} is not a "
                        f"metric on platform {platform}", did_you_mean(target, metrics)))
    return findings


def depends_on_references(metric: Entry, metrics: Mapping[str, Entry], platform: str) -> list[Finding]:
    depends = metric.get("depends_on") or ()
    origin = metric.origin_of("depends_on")
    return [origin.finding("unknown-metric",
                           f"metric {metric.name!r} depends on {name!r}, which is not a metric on "
                           f"platform {platform}", did_you_mean(str(name), metrics))
            for name in depends if not isinstance(name, str) or name not in metrics]
