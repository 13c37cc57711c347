"""Summaries answered by the warehouse: the per-client rows never leave it.

`WarehouseSource` has `FrameSource.evaluate`'s signature, so the statistics' lock-step driver
(`engine.statistics.drive`) runs over either. It holds the rows of many window tables at
once (requests arrive `Tagged` by window): each round, the queries of one kind for every
window (`engine.sql.summaries`) go to the warehouse as one UNION ALL, each part tagged, so a
round costs one query per kind of request for the whole experiment, not one per window.
Every result is small (bins x branches x requests).
"""
from __future__ import annotations

from typing import Any, Callable, Collection, Mapping, Sequence

from sqlglot import exp

from engine.backends.base import Backend
from engine.sql.summaries import BINS, CELLS, RANKS, SummaryQuery, read_answers, summary_queries
from engine.statistics.drive import Tagged
from engine.statistics.summaries import GridCounts, Request

# Work per combined query, in requests (a grid point counts as one): keeps the SQL text well
# under BigQuery's 1 MB limit and the result under its column limit.
MAX_UNITS = 3000
# Rows per combined query of the kinds that rank or bin each request's rows (rows x requests):
# bounds the working set of one query (DuckDB sorts it in memory or spills it).
MAX_LONG_ROWS = 20_000_000
LONG_KINDS = (RANKS, CELLS, BINS)

Part = tuple[Any, SummaryQuery, list[int]]  # (window key, its query, batch positions)


class WarehouseSource:
    """Answers requests over `relations` (window key -> rows: one row per client, branch,
    source columns, BOOL segment columns; key None for untagged requests) with `backend`;
    `booleans` names the BOOL source columns."""

    def __init__(self, backend: Backend, relations: Mapping[Any, exp.Query] | exp.Query,
                 booleans: Collection[str] = (), rows: Mapping[Any, int] | None = None):
        self.backend = backend
        self.relations = relations if isinstance(relations, Mapping) else {None: relations}
        self.booleans = frozenset(booleans)
        self.rows = rows or {}  # window key -> its rows, where known

    def evaluate(self, requests: Sequence[Request | Tagged]) -> list[Any]:
        by_key: dict[Any, list[tuple[int, Request]]] = {}
        for position, request in enumerate(requests):
            key, request = ((request.key, request.request) if isinstance(request, Tagged)
                            else (None, request))
            by_key.setdefault(key, []).append((position, request))
        by_kind: dict[str, list[Part]] = {}
        for key, items in by_key.items():
            for query in summary_queries(self.relations[key], [r for _, r in items],
                                         self.booleans):
                positions = [items[i][0] for i, _ in query.requests]
                by_kind.setdefault(query.kind, []).append((key, query, positions))
        answers: list[Any] = [None] * len(requests)
        for kind, parts in by_kind.items():
            for chunk in _chunks(parts, self._weight(kind)):
                self._answer(chunk, answers)
        return answers

    def _answer(self, chunk: list[Part], answers: list[Any]) -> None:
        if len(chunk) == 1:
            frames = [self.backend.query(chunk[0][1].tree)]
        else:
            frame = self.backend.query(_union(chunk))
            frames = [frame[frame["_t"] == n].drop(columns="_t").reset_index(drop=True)
                      for n in range(len(chunk))]
        for (_, query, positions), frame in zip(chunk, frames):
            got = read_answers(query, frame)
            for (i, _), position in zip(query.requests, positions):
                answers[position] = got[i]


    def _weight(self, kind: str) -> Callable[[Part], float]:
        """A part's share of one combined query's budget."""
        def weight(part: Part) -> float:
            key, query, _ = part
            units = sum(len(r.grid) if isinstance(r, GridCounts) else 1
                        for _, r in query.requests)
            if kind in LONG_KINDS and key in self.rows:
                return max(units / MAX_UNITS, len(query.requests) * self.rows[key] / MAX_LONG_ROWS)
            return units / MAX_UNITS
        return weight


def _chunks(parts: list[Part], weight: Callable[[Part], float]) -> list[list[Part]]:
    """Consecutive parts, as many per query as fit in a budget of 1."""
    chunks: list[list[Part]] = [[]]
    used = 0.0
    for part in parts:
        units = weight(part)
        if chunks[-1] and used + units > 1:
            chunks.append([])
            used = 0
        chunks[-1].append(part)
        used += units
    return chunks


def _output_names(tree: exp.Expression) -> list[str]:
    """The column names a query returns (a `SELECT *` returns its FROM subquery's)."""
    if isinstance(tree, exp.Union):
        return _output_names(tree.this)
    if isinstance(tree, exp.Subquery):
        return _output_names(tree.this)
    names: list[str] = []
    for select in tree.selects:
        if isinstance(select, exp.Star):
            names += _output_names(tree.args["from_"].this)
        else:
            names.append(select.alias_or_name)
    return names


def _union(chunk: list[Part]) -> exp.Query:
    """Every part's rows with its number in `_t`; columns a part lacks are NULL."""
    outputs = [_output_names(query.tree) for _, query, _ in chunk]
    names: list[str] = []
    for own in outputs:
        names += [n for n in own if n not in names]
    tree: exp.Query | None = None
    for n, (_, query, _) in enumerate(chunk):
        own = set(outputs[n])
        part = exp.select(exp.alias_(exp.Literal.number(n), "_t"), *(
            exp.column(name, "_p") if name in own else exp.alias_(exp.null(), name)
            for name in names)).from_(query.tree.subquery("_p", copy=False), copy=False)
        tree = part if tree is None else exp.union(tree, part, distinct=False, copy=False)
    assert tree is not None
    return tree
