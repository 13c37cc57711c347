"""`[parameters]`: one value per parameter, merged custom > outcome > default.

A later layer's explicit `value` wins, then a later layer's `default`. With
`distinct_by_branch = true` the value is a table branch -> value and templates see a CASE over
the branches (see templates.BranchValues).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Sequence

from engine.config.repository import Entry
from engine.config.resolve.templates import BranchValues
from engine.findings import Finding

_MISSING = object()


def _last(entries: Sequence[Entry], key: str) -> Any:
    return next((e.get(key) for e in reversed(entries) if e.get(key) is not None), _MISSING)


def merge_parameters(layers: Sequence[Mapping[str, Entry]], branches: tuple[str, ...]
                     ) -> tuple[dict[str, Any], list[Finding]]:
    """`layers` lowest precedence first; `branches` from the registry (empty offline)."""
    values: dict[str, Any] = {}
    findings: list[Finding] = []
    names = dict.fromkeys(name for layer in layers for name in layer)
    for name in names:
        entries = [layer[name] for layer in layers if name in layer]
        value = _last(entries, "value")
        if value is _MISSING:
            value = _last(entries, "default")
        if value is _MISSING:
            continue  # a template using it reports the missing value
        top = entries[-1]
        distinct = _last(entries, "distinct_by_branch")
        if distinct is True:
            if not isinstance(value, Mapping):
                findings.append(top.origin.finding(
                    "parameter-not-per-branch",
                    f"parameter {name!r} is distinct_by_branch but its value is not a table of branches",
                    'write default = { control = "...", treatment = "..." }'))
                continue
            missing = [b for b in branches if b not in value]
            if missing:
                findings.append(top.origin.finding(
                    "parameter-missing-branch",
                    f"parameter {name!r} has no value for branch(es) {', '.join(missing)}"))
            slugs = branches or tuple(value)
            values[name] = BranchValues({b: value[b] for b in slugs if b in value})
        elif isinstance(value, Mapping):
            findings.append(top.origin.finding(
                "parameter-not-per-branch",
                f"parameter {name!r} has a table value but is not distinct_by_branch",
                "set distinct_by_branch = true for per-branch values"))
        else:
            values[name] = value
    return values, findings
