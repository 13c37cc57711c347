"""Typed values read out of merged config entries (TOML tables of unknown shape: the structure
check reports wrong types, these readers just skip them)."""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from engine.config.repository import Entry
from engine.config.spec import PreTreatmentSpec, Source, StatisticSpec
from engine.statistics.registry import STATISTICS


def table_of(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, (list, tuple)) else ()


def fragment_source(entry: Entry, fragment: str) -> Source:
    """Where the SQL fragment of an entry is written (engine-time SQL errors point there)."""
    origin = entry.origin_of(fragment)
    return Source(origin.path, origin.line)


def ratio_targets(entry: Entry) -> tuple[str, ...]:
    ratio = table_of(table_of(entry.get("statistics")).get("population_ratio"))
    return strings([ratio.get("numerator"), ratio.get("denominator")])


def statistics_of(table: Any) -> tuple[StatisticSpec, ...]:
    """Known statistics with their declared parameters (the structure check reports the rest)."""
    result = []
    for name, params in table_of(table).items():
        declaration = STATISTICS.get(name)
        if declaration is None:
            continue
        params = table_of(params)
        treatments = []
        for treatment in params.get("pre_treatments") or ():
            if isinstance(treatment, str):
                treatments.append(PreTreatmentSpec(treatment))
            elif isinstance(treatment, Mapping) and isinstance(treatment.get("name"), str):
                rest = {k: v for k, v in treatment.items() if k != "name"}
                treatments.append(PreTreatmentSpec(treatment["name"], MappingProxyType(rest)))
        known = {k: v for k, v in params.items() if declaration.param(k) is not None}
        result.append(StatisticSpec(name, MappingProxyType(known), tuple(treatments)))
    return tuple(result)
