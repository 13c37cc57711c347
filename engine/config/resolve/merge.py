"""The metric table of one resolution: every layer's entries, merged per name on first use.

Wildcard tables (`[metrics."search_*"]`) of the experiment apply to every matching metric.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Mapping

from engine.config.repository import Entry

WILDCARD = frozenset("*?[")


class MergedMetrics(Mapping[str, Entry]):
    """Metric entries merged on first access: definitions < outcomes < defaults < wildcard
    tables < the experiment's own table. Statistics given by any layer above the definitions
    replace the definitions' suggested statistics; above that they merge by statistic name."""

    def __init__(self, definitions: Mapping[str, Entry], upper: list[Mapping[str, Entry]],
                 wildcards: Mapping[str, Entry], exact: Mapping[str, Entry]) -> None:
        self._definitions, self._upper, self._wildcards, self._exact = definitions, upper, wildcards, exact
        self._names = dict.fromkeys([*definitions, *(n for m in upper for n in m), *exact])
        self._cache: dict[str, Entry] = {}

    def __getitem__(self, name: str) -> Entry:
        if name not in self._cache:
            if name not in self._names:
                raise KeyError(name)
            above = [m[name] for m in self._upper if name in m]
            above += [e for p, e in self._wildcards.items() if fnmatch.fnmatchcase(name, p)]
            above += [self._exact[name]] if name in self._exact else []
            base = self._definitions.get(name)
            if base is not None and any("statistics" in e.fields for e in above):
                base = base.without("statistics")
            layers = ([base] if base is not None else []) + above
            entry = layers[0]
            for layer in layers[1:]:
                entry = entry.merge(layer)
            self._cache[name] = entry
        return self._cache[name]

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)
