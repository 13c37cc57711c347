"""What one statistic works on: labels, branches, seed, parameters, and the treated columns of
the rows it summarises (it asks for summaries of them; it never holds client rows)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.statistics.records import (
    ALL_NULL,
    EMPTY_BRANCH,
    OK,
    SINGLE_CLIENT,
    ZERO_VARIANCE,
    Labels,
)
from engine.statistics.summaries import EMPTY_MOMENTS, BranchMoments, Column, RowSet

COVARIATE_SUFFIX = "__pre"


@dataclass(frozen=True)
class Context:
    metric: str
    reference_branch: str
    labels: Labels
    branches: tuple[str, ...]
    rows: RowSet
    columns: Mapping[str, Column] = field(default_factory=dict)  # source -> treated column
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    analysis_period_days: int | None = None
    covariate: Column | None = None  # the pre-enrollment value of the metric, when joined

    @property
    def others(self) -> tuple[str, ...]:
        return tuple(b for b in self.branches if b != self.reference_branch)

    def column(self, name: str | None = None) -> Column:
        name = name or self.metric
        return self.columns.get(name) or Column(name)


@dataclass(frozen=True)
class BranchState:
    branch: str
    moments: BranchMoments
    state: str
    reason: str

    @property
    def n(self) -> int:
        return self.moments.n

    @property
    def n_rows(self) -> int:
        return self.moments.n_rows


def branch_state(branch: str, moments: BranchMoments | None) -> BranchState:
    """A branch's degenerate state from its moments (nulls and non-finite values dropped)."""
    m = moments or EMPTY_MOMENTS
    if m.n_rows == 0:
        return BranchState(branch, m, EMPTY_BRANCH, "no client in this branch")
    if m.n == 0:
        return BranchState(branch, m, ALL_NULL, f"all {m.n_rows} values are null or not finite")
    if m.n == 1:
        return BranchState(branch, m, SINGLE_CLIENT, "only one client has a value")
    if m.minimum == m.maximum:
        return BranchState(branch, m, ZERO_VARIANCE, f"every client has the value {m.minimum:g}")
    return BranchState(branch, m, OK, "")


def branch_states(branches: tuple[str, ...],
                  moments: Mapping[Any, BranchMoments]) -> dict[str, BranchState]:
    return {b: branch_state(b, moments.get(b)) for b in branches}


def resolve_branches(present: list[str], reference_branch: str,
                     branches: tuple[str, ...] | None) -> tuple[str, ...]:
    """Requested branches, else the reference first and the others in sorted order."""
    names = list(branches) if branches else sorted(present)
    if reference_branch not in names:
        names.insert(0, reference_branch)
    return tuple(dict.fromkeys(names))
