"""Summaries answered by the warehouse: the per-client rows never leave it.

`WarehouseSource` has `FrameSource.evaluate`'s signature, so the statistics' lock-step driver
(`engine.statistics.drive`) runs over either. It holds the rows of many window tables at
once (requests arrive `Tagged` by window). Each round, the requests of one kind for every
window go to the warehouse as one query (`engine.sql.summaries`) over the union of the
windows' rows, each window a part numbered in column `_win`; requests that differ only in
data-derived numbers share one expression (`engine.sql.slots`), so a round costs one query per
kind for every window it holds, and its text grows with request templates, not with windows.
Every result is small (bins x branches x requests, per window). An analysis gives a source one
`window_groups` group of windows at a time, so only that group's answers are held.
"""
from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlglot import exp

from engine.backends.base import Backend
from engine.sql.slots import PART, Instance, free_parameters, slot_columns, templates
from engine.sql.summaries import (
    BINS,
    CELLS,
    RANKS,
    SummaryQuery,
    kind_of,
    read_answers,
    summary_queries,
)
from engine.sql.treatments import Part
from engine.statistics.drive import Tagged
from engine.statistics.summaries import Request

# Requests plus their free parameters (a Slot value, a rank window: each a constant of a few
# dozen characters) per combined query: keeps the SQL text well under BigQuery's 1 MB limit.
MAX_UNITS = 10_000
# Rows per combined query of the kinds that rank or bin each request's rows (rows x requests):
# bounds the working set of one query (DuckDB sorts it in memory or spills it).
MAX_LONG_ROWS = 20_000_000
LONG_KINDS = (RANKS, CELLS, BINS)
# Windows, and their client rows, per combined query: each part's scan and covariate join
# hold buffers while the query runs (DuckDB at a 1 GB limit ran out of memory with 36 parts
# of 36k rows and with 8 of 180k, not with 8 of 36k).
MAX_PARTS = 8
MAX_ROWS = 300_000

Asked = tuple[Any, int, Request]  # (window key, position in the round, request)


class WarehouseSource:
    """Answers requests over `relations` (window key -> rows: one row per client, branch,
    source columns, BOOL segment columns; key None for untagged requests) with `backend`;
    `booleans` names the BOOL source columns, `rows` and `columns` give each window's rows
    and columns where known (a column a window lacks reads as NULL there)."""

    def __init__(self, backend: Backend, relations: Mapping[Any, exp.Query] | exp.Query,
                 booleans: Collection[str] = (), rows: Mapping[Any, int] | None = None,
                 columns: Mapping[Any, Collection[str]] | None = None):
        self.backend = backend
        self.relations = relations if isinstance(relations, Mapping) else {None: relations}
        self.booleans = frozenset(booleans)
        self.rows = rows or {}
        self.columns = columns or {}

    def evaluate(self, requests: Sequence[Request | Tagged]) -> list[Any]:
        by_kind: dict[str, list[Asked]] = {}
        for position, request in enumerate(requests):
            key, request = ((request.key, request.request) if isinstance(request, Tagged)
                            else (None, request))
            by_kind.setdefault(kind_of(request), []).append((key, position, request))
        answers: list[Any] = [None] * len(requests)
        for kind, asked in by_kind.items():
            for chunk in self._chunks(kind, asked):
                self._answer(kind, chunk, answers)
        return answers

    def _answer(self, kind: str, asked: list[Asked], answers: list[Any]) -> None:
        """One query for `asked` (one kind, several windows), read part by part."""
        keys = list(dict.fromkeys(key for key, _, _ in asked))
        number = {key: n for n, key in enumerate(keys)}
        groups = templates(Instance(number[key], position, request)
                           for key, position, request in asked)
        slots = slot_columns(groups)
        parts = [Part(n, self.relations[key], self.columns.get(key), slots.get(n, {}))
                 for n, key in enumerate(keys)]
        [query] = summary_queries(parts, [g.request for g in groups], self.booleans,
                                  [g.parts if len(g.parts) < len(keys) else None
                                   for g in groups])
        frame = self.backend.query(query.tree)
        own: list[list[Any]] = [[None] * len(groups) for _ in keys]  # per part
        for j, group in enumerate(groups):
            for instance in group.instances:
                own[instance.part][j] = instance
        for n, instances in enumerate(own):
            got = read_answers(
                SummaryQuery(kind, query.tree, tuple(
                    None if i is None else (j, i.request) for j, i in enumerate(instances))),
                frame[frame[PART] == n].reset_index(drop=True))
            for j, instance in enumerate(instances):
                if instance is not None:
                    answers[instance.position] = got[j]

    def _chunks(self, kind: str, asked: list[Asked]) -> list[list[Asked]]:
        """The requests split by window into queries within both budgets; one window's
        requests too, when they alone exceed them (each slice rescans its rows)."""
        by_key: dict[Any, list[Asked]] = {}
        for item in asked:
            by_key.setdefault(item[0], []).append(item)
        chunks: list[list[Asked]] = [[]]
        used, windows = 0.0, 0
        for key, items in by_key.items():
            slices = min(len(items), math.ceil(self._request_units(kind, key, items)))
            for i in range(slices):
                part = items[i * len(items) // slices:(i + 1) * len(items) // slices]
                units = self._request_units(kind, key, part)
                if key in self.rows:
                    units = max(units, self.rows[key] / MAX_ROWS)
                if chunks[-1] and (used + units > 1 or windows == MAX_PARTS):
                    chunks.append([])
                    used, windows = 0.0, 0
                chunks[-1] += part
                used, windows = used + units, windows + 1
        return chunks

    def _request_units(self, kind: str, key: Any, items: list[Asked]) -> float:
        """Share of a query's budgets that `items` (requests of one window) use."""
        units = sum(_units(r) for _, _, r in items) / MAX_UNITS
        if key in self.rows and kind in LONG_KINDS:
            units = max(units, len(items) * self.rows[key] / MAX_LONG_ROWS)
        return units


def window_groups(rows: Sequence[int]) -> list[range]:
    """Consecutive windows (by their client rows) in groups of at most MAX_PARTS windows and
    MAX_ROWS rows (at least one window): the most one combined query reads, so a group's
    statistics cost no more queries than all at once, and only one group's answers are held."""
    groups: list[range] = []
    start, used = 0, 0
    for i, n in enumerate(rows):
        if i > start and (used + n > MAX_ROWS or i - start == MAX_PARTS):
            groups.append(range(start, i))
            start, used = i, 0
        used += n
    if rows:
        groups.append(range(start, len(rows)))
    return groups


def _units(request: Request) -> int:
    return 1 + sum(len(v) if isinstance(v, tuple) else 1 for v in free_parameters(request))
