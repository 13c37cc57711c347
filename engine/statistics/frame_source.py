"""Summaries computed in numpy over a frame of client rows: the oracle of the warehouse's.

`engine.sql.summaries` must return exactly these (to floating-point rounding); tests compare
the two on the same rows. `compute()` uses this source, so the statistics' own tests run over
small frames without a warehouse.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from engine.statistics import resample
from engine.statistics.summaries import (
    ALL_SEGMENT,
    CLIP_LOWER,
    CLIP_UPPER,
    DIVIDE,
    DROP_NONFINITE,
    DROP_NULL,
    FILL_NONFINITE,
    FILL_ZERO,
    LOG1P,
    POSITIVE,
    POSITIVE_LOG,
    BranchMoments,
    Column,
    GridCounts,
    LinearBins,
    Moments,
    OrderStatistics,
    Request,
    ResampleCells,
    Residual,
    Residuals,
    RowSet,
    Runs,
    Step,
)



def _apply(step: Step, v: np.ndarray) -> np.ndarray:
    a = step.argument
    with np.errstate(divide="ignore", invalid="ignore"):
        if step.op == CLIP_UPPER:
            return np.where(v > a, a, v)
        if step.op == CLIP_LOWER:
            return np.where(v < a, a, v)
        if step.op == DIVIDE:
            return v / a
        if step.op == LOG1P:
            out = np.where(v > -1, np.log1p(np.where(v > -1, v, 0.0)), np.nan)
            return out / np.log(a) if a else out
        if step.op == FILL_ZERO:
            return np.where(np.isnan(v), 0.0, v)
        if step.op == FILL_NONFINITE:
            return np.where(np.isfinite(v), v, a)
        if step.op == POSITIVE_LOG:
            return np.where(v > 0, np.log(np.where(v > 0, v, 1.0)), np.nan)
        if step.op == POSITIVE:
            return np.where(v > 0, v, np.nan)
    return v  # row-dropping steps leave values as they are


def _dropped(step: Step, v: np.ndarray) -> np.ndarray | None:
    if step.op == DROP_NULL:
        return np.isnan(v)
    if step.op == DROP_NONFINITE:
        return ~np.isfinite(v)
    return None


class FrameSource:
    """Answers requests over `frame`: one row per client, column `branch`, metric and
    covariate columns, and one boolean column per segment."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        codes, names = pd.factorize(frame["branch"]) if len(frame) else (np.zeros(0, int), [])
        self._codes = codes
        self._branches = [str(n) for n in names]
        self._handlers: dict[type, Callable[[Any], Any]] = {
            Moments: self._moments, OrderStatistics: self._order_statistics,
            ResampleCells: self._cells, GridCounts: self._grid_counts,
            LinearBins: self._linear_bins, Residuals: self._residuals}

    def evaluate(self, requests: list[Request]) -> list[Any]:
        return [self._handlers[type(r)](r) for r in requests]

    def values(self, rows: RowSet, column: Column) -> np.ndarray:
        """The treated values of the rows that remain (non-finite ones included), in row
        order: what a frame-based pre-treatment would have left."""
        return self._values(column)[0][self._keep(rows)]

    # --- values -------------------------------------------------------------------------
    def _source(self, name: str) -> np.ndarray:
        if name not in self.frame.columns:
            raise ValueError(f"per-client table has no column {name}")
        col = self.frame[name]
        if col.dtype == np.float64:
            return col.to_numpy()
        return col.to_numpy(dtype=np.float64, na_value=np.nan)

    def _values(self, column: Column) -> tuple[np.ndarray, np.ndarray]:
        """(values, rows dropped by the column's own steps)."""
        v = self._source(column.source)
        dropped = np.zeros(len(v), dtype=bool)
        for step in column.steps:
            drop = _dropped(step, v)
            if drop is not None:
                dropped |= drop
            v = _apply(step, v)
        return v, dropped

    def _keep(self, rows: RowSet) -> np.ndarray:
        if rows.segment == ALL_SEGMENT:
            keep = np.ones(len(self.frame), dtype=bool)
        else:
            keep = self.frame[rows.segment].fillna(False).astype(bool).to_numpy().copy()
        for column in rows.columns:
            keep &= ~self._values(column)[1]
        return keep

    def _by_branch(self, keep: np.ndarray) -> dict[str, np.ndarray]:
        return {b: keep & (self._codes == i) for i, b in enumerate(self._branches)}

    # --- requests -----------------------------------------------------------------------
    def _moments(self, r: Moments) -> dict[str, BranchMoments]:
        keep = self._keep(r.rows)
        y = self._values(r.y)[0]
        x = self._values(r.x)[0] if r.x is not None else None
        out = {}
        for b, rows in self._by_branch(keep).items():
            yb = y[rows]
            finite = np.isfinite(yb)
            v = yb[finite]
            if not v.size:
                out[b] = BranchMoments(int(rows.sum()), 0, distinct=0 if r.distinct else None)
                continue
            extra: dict[str, Any] = {}
            if x is not None:
                xv = x[rows][finite]
                extra = dict(total_x=float(xv.sum()),
                             m2_x=float(np.square(xv - xv.mean()).sum()),
                             cross=float(((xv - xv.mean()) * (v - v.mean())).sum()))
            out[b] = BranchMoments(
                int(rows.sum()), int(v.size), float(v.sum()),
                float(np.square(v - v.mean()).sum()), int(np.count_nonzero(v)),
                float(v.min()), float(v.max()), bool(np.all(v == np.round(v))),
                int(np.unique(v).size) if r.distinct else None, **extra)
        return out

    def _sorted(self, rows: RowSet, column: Column) -> dict[Any, np.ndarray]:
        keep = self._keep(rows)
        y = self._values(column)[0]
        groups: dict[Any, np.ndarray] = {None: keep, **self._by_branch(keep)}
        out = {}
        for b, mask in groups.items():
            v = y[mask]
            out[b] = np.sort(v[np.isfinite(v)])
        return out

    def _order_statistics(self, r: OrderStatistics) -> dict[Any, Runs]:
        ordered = self._sorted(r.rows, r.y)
        ranks: dict[Any, set[int]] = {}
        for b, first, last in r.windows:
            n = len(ordered.get(b, ()))
            ranks.setdefault(b, set()).update(range(max(first, 0), min(last, n - 1) + 1))
        out = {}
        for b, wanted in ranks.items():
            at = np.array(sorted(wanted), dtype=np.int64)
            values = ordered.get(b, np.empty(0))[at]
            start = np.concatenate(([True], values[1:] != values[:-1])) if len(at) else at
            out[b] = Runs(values[start], at[start])
        return out

    def _cells(self, r: ResampleCells) -> dict[str, resample.Cells]:
        keep = self._keep(r.rows)
        columns = [self._values(c)[0] for c in r.columns]
        x = np.column_stack(columns)
        out = {}
        for b, rows in self._by_branch(keep).items():
            xb = x[rows]
            xb = xb[np.all(np.isfinite(xb), axis=1)]
            if len(xb):
                out[b] = resample.cells_of(xb, r.exact)
        return out

    def _grid_counts(self, r: GridCounts) -> dict[str, np.ndarray]:
        grid = np.asarray(r.grid)
        return {b: np.searchsorted(v, grid, side="right")
                for b, v in self._sorted(r.rows, r.y).items() if b is not None}

    def _linear_bins(self, r: LinearBins) -> dict[str, np.ndarray]:
        out = {}
        for b, v in self._sorted(r.rows, r.y).items():
            if b is None or not v.size:
                continue
            pos = np.clip((v - r.origin) / r.delta, 0, r.size - 1)
            left = np.minimum(pos.astype(np.int64), r.size - 2)
            frac = pos - left
            out[b] = (np.bincount(left, 1 - frac, minlength=r.size)
                      + np.bincount(left + 1, frac, minlength=r.size))
        return out

    def _residuals(self, r: Residuals) -> dict[str, Residual]:
        keep = self._keep(r.rows)
        y, x = self._values(r.y)[0], self._values(r.x)[0]
        alpha, lever, cross = dict(r.alpha), dict(r.lever), dict(r.cross)
        out = {}
        for b, rows in self._by_branch(keep).items():
            if b not in alpha:
                continue
            yb, xb = y[rows], x[rows]
            finite = np.isfinite(yb)
            z = xb[finite] - r.centre
            e2 = (yb[finite] - alpha[b] - r.beta * z) ** 2
            h = lever[b] + 2 * cross[b] * z + r.curve * z ** 2
            with np.errstate(divide="ignore", invalid="ignore"):
                w = np.where(h < 1, e2 / (1 - h), e2)
            out[b] = Residual(float(w.sum()), float((w * z).sum()), float((w * z * z).sum()))
        return out
