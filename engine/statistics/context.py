"""What one compute() call works on: the frame, labels, branches, seed; split per branch."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd

from engine.statistics.records import (
    ALL_NULL,
    EMPTY_BRANCH,
    OK,
    SINGLE_CLIENT,
    ZERO_VARIANCE,
    Labels,
)


@dataclass(frozen=True)
class BranchValues:
    """Non-null values of one column for one branch, with its degenerate state."""
    branch: str
    values: np.ndarray
    n_rows: int  # clients in the branch, nulls included
    state: str
    reason: str

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass(frozen=True, eq=False)
class Context:
    data: pd.DataFrame
    metric: str
    reference_branch: str
    labels: Labels
    branches: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    analysis_period_days: int | None = None

    @property
    def others(self) -> tuple[str, ...]:
        return tuple(b for b in self.branches if b != self.reference_branch)

    def column(self, name: str | None = None) -> np.ndarray:
        """Float view of a column (no copy when it already is float64); nulls are NaN."""
        col = self.data[name or self.metric]
        if col.dtype == np.float64:
            return col.to_numpy()
        return col.to_numpy(dtype=np.float64, na_value=np.nan)

    def split(self, name: str | None = None) -> dict[str, BranchValues]:
        return {bv.branch: bv for bv in self.iter_split(name)}

    def iter_split(self, name: str | None = None) -> Iterator[BranchValues]:
        """One branch at a time, so a caller that reduces each branch holds one copy only."""
        col = self.column(name)
        for b in self.branches:
            yield branch_values(b, col[self.rows(b)])

    def rows(self, branch: str) -> np.ndarray:
        """Boolean mask of one branch's rows."""
        codes, index = self._branch_codes
        return codes == index.get(branch, -2)  # -2: no row (nulls are -1)

    @cached_property
    def _branch_codes(self) -> tuple[np.ndarray, dict[str, int]]:
        """One factorisation of the branch column, as small integers (comparing the string
        column once per branch and metric was a visible cost in the pipeline)."""
        codes, names = pd.factorize(self.data["branch"])
        small = codes.astype(np.int8 if len(names) < 127 else np.int32)
        return small, {str(name): i for i, name in enumerate(names)}


def branch_values(branch: str, raw: np.ndarray, n_rows: int | None = None) -> BranchValues:
    """Drop nulls/non-finite values and classify; `n_rows` overrides the client count."""
    finite = np.isfinite(raw)
    values = raw if finite.all() else raw[finite]
    n_rows = len(raw) if n_rows is None else n_rows
    if n_rows == 0:
        return BranchValues(branch, values, 0, EMPTY_BRANCH, "no client in this branch")
    if values.size == 0:
        return BranchValues(branch, values, n_rows, ALL_NULL,
                            f"all {n_rows} values are null or not finite")
    if values.size == 1:
        return BranchValues(branch, values, n_rows, SINGLE_CLIENT, "only one client has a value")
    if values.min() == values.max():
        return BranchValues(branch, values, n_rows, ZERO_VARIANCE,
                            f"every client has the value {values[0]:g}")
    return BranchValues(branch, values, n_rows, OK, "")


def resolve_branches(data: pd.DataFrame, reference_branch: str,
                     branches: tuple[str, ...] | None) -> tuple[str, ...]:
    """Requested branches, else the reference first and the others in sorted order."""
    if branches:
        names = list(branches)
    else:
        present = sorted(str(b) for b in data["branch"].dropna().unique()) if len(data) else []
        names = present
    if reference_branch not in names:
        names.insert(0, reference_branch)
    return tuple(dict.fromkeys(names))
