"""Summaries answered by the warehouse: the per-client rows never leave it.

`WarehouseSource` has `FrameSource.evaluate`'s signature, so the statistics' lock-step driver
(`engine.statistics.drive`) runs over either. Each batch costs at most one query per kind of
request (`engine.sql.summaries`), and every result is small (bins x branches x requests).
"""
from __future__ import annotations

from typing import Any, Collection, Sequence

from sqlglot import exp

from engine.backends.base import Backend
from engine.sql.summaries import read_answers, summary_queries
from engine.statistics.summaries import Request


class WarehouseSource:
    """Answers requests over `relation` (one row per client: branch, source columns, BOOL
    segment columns) with `backend`; `booleans` names the BOOL source columns."""

    def __init__(self, backend: Backend, relation: exp.Query, booleans: Collection[str] = ()):
        self.backend = backend
        self.relation = relation
        self.booleans = frozenset(booleans)

    def evaluate(self, requests: Sequence[Request]) -> list[Any]:
        answers: dict[int, Any] = {}
        for query in summary_queries(self.relation, list(requests), self.booleans):
            answers.update(read_answers(query, self.backend.query(query.tree)))
        return [answers[i] for i in range(len(requests))]
