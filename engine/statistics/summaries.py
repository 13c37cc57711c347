"""What a statistic asks of the per-client rows, and the small summaries it gets back.

A statistic never sees client rows. It is a generator that yields requests (or tuples of
requests) and receives their summaries: per-branch moments, order statistics at given ranks,
resampling cells, counts at or below grid points, linearly binned weights, HC2 residual sums.
Every summary is bounded by bins x branches, never by clients (order statistics: by the rank
windows asked for). Two evaluators answer the same requests with the same numbers:
`engine.statistics.frame_source` in numpy over a frame (the oracle of tests, and `compute()`),
and `engine.sql.summaries` in the warehouse, so client rows never leave it.

A `Column` is a per-client value: a source column of the rows (a metric, or a covariate
joined once by client) with pre-treatment `Step`s applied in order. A `RowSet` is a segment
plus the treated columns whose row-dropping steps decide which clients remain (a client dropped
by one column's treatment is dropped from every column, as for a frame). Non-finite values
(null, NaN, +-inf) count as rows but never enter a summary's values.
"""
from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

# Steps, in the order a pre-treatment chain applies them. Row-dropping steps:
DROP_NULL = "drop_null"            # drop rows whose value is null or NaN
DROP_NONFINITE = "drop_nonfinite"  # drop rows whose value is not finite
# Value steps (a null stays null unless the step fills it):
CLIP_UPPER = "clip_upper"          # min(value, argument)
CLIP_LOWER = "clip_lower"          # max(value, argument)
DIVIDE = "divide"                  # value / argument
LOG1P = "log1p"                    # log(1 + value) / log(argument or e); null where value <= -1
FILL_ZERO = "fill_zero"            # null -> 0
FILL_NONFINITE = "fill_nonfinite"  # null, NaN, +-inf -> argument (imputation)
POSITIVE_LOG = "positive_log"      # log(value); null where value <= 0
POSITIVE = "positive"              # value; null where value <= 0

ROW_DROPPING = (DROP_NULL, DROP_NONFINITE)
ALL_STEPS = (DROP_NULL, DROP_NONFINITE, CLIP_UPPER, CLIP_LOWER, DIVIDE, LOG1P, FILL_ZERO,
             FILL_NONFINITE, POSITIVE_LOG, POSITIVE)
_NEEDS_ARGUMENT = (CLIP_UPPER, CLIP_LOWER, DIVIDE, FILL_NONFINITE)


@dataclass(frozen=True)
class Step:
    op: str
    argument: float | None = None

    def __post_init__(self) -> None:
        if self.op not in ALL_STEPS:
            raise ValueError(f"unknown step {self.op!r}")
        if self.op in _NEEDS_ARGUMENT and self.argument is None:
            raise ValueError(f"step {self.op!r} needs an argument")


@dataclass(frozen=True)
class Column:
    source: str
    steps: tuple[Step, ...] = ()

    def then(self, op: str, argument: float | None = None) -> Column:
        return Column(self.source, (*self.steps, Step(op, argument)))

    def clipped(self, threshold: float | None) -> Column:
        return self if threshold is None else self.then(CLIP_UPPER, threshold)


ALL_SEGMENT = "all"  # the row set of every client (the plan's name for it, too)


@dataclass(frozen=True)
class RowSet:
    segment: str  # ALL_SEGMENT or a segment's boolean column
    columns: tuple[Column, ...] = ()  # whose row-dropping steps apply

    def with_column(self, column: Column) -> RowSet:
        if not any(s.op in ROW_DROPPING for s in column.steps):
            return self
        return RowSet(self.segment, (*self.columns, column))


# --- requests -------------------------------------------------------------------------

@dataclass(frozen=True)
class Moments:
    """Per branch: rows, finite values of `y` and their moments; with `x` (finite wherever y
    is, e.g. after FILL_NONFINITE) also x's sum and the centred cross-moments over the rows
    where y is finite. `distinct` adds the number of distinct finite y values."""
    rows: RowSet
    y: Column
    x: Column | None = None
    distinct: bool = False


@dataclass(frozen=True)
class OrderStatistics:
    """Values of `y` (finite ones, ascending) at 0-based ranks: `windows` holds
    (branch, first, last) rank ranges; branch None means all branches pooled."""
    rows: RowSet
    y: Column
    windows: tuple[tuple[str | None, int, int], ...]


@dataclass(frozen=True)
class ResampleCells:
    """The Bayesian-bootstrap cells (engine.statistics.resample) of the rows whose every
    column is finite, per branch: levels of a histogram when values are few, else atoms
    plus equal-count bins with their moments."""
    rows: RowSet
    columns: tuple[Column, ...]
    exact: bool = False


@dataclass(frozen=True)
class GridCounts:
    """Per branch: for each grid point g, the number of finite values <= g."""
    rows: RowSet
    y: Column
    grid: tuple[float, ...]


@dataclass(frozen=True)
class LinearBins:
    """Per branch: finite values linearly binned onto origin + k * delta, k < size (weights
    of the two neighbouring points, values clamped to the grid's range)."""
    rows: RowSet
    y: Column
    origin: float
    delta: float
    size: int


@dataclass(frozen=True)
class Residuals:
    """Per branch, over rows where y is finite: sums of w, w z and w z^2 with z = x - centre,
    e = y - alpha[branch] - beta z, h = lever[branch] + 2 cross[branch] z + curve z^2 and
    w = e^2 / (1 - h) (e^2 where h >= 1): the HC2 sandwich's meat."""
    rows: RowSet
    y: Column
    x: Column
    centre: float
    beta: float
    curve: float
    alpha: tuple[tuple[str, float], ...]
    lever: tuple[tuple[str, float], ...]
    cross: tuple[tuple[str, float], ...]


@dataclass(frozen=True, eq=False)
class Replicates:
    """Bayesian-bootstrap replicates (num_samples, d) of the means of `cells`, from the
    generator seeded by (seed, *names): CPU work on a summary, no rows; the engine runs these
    in worker processes while the warehouse answers the rest."""
    cells: Any  # engine.statistics.resample.Cells
    num_samples: int
    seed: int
    names: tuple[str, ...]


Request = Union[Moments, OrderStatistics, ResampleCells, GridCounts, LinearBins, Residuals,
                Replicates]
LOCAL = (Replicates,)  # requests answered by local computation, not by the rows' source
Asked = Union[Request, tuple[Request, ...]]
# A statistic: yields requests, receives their summaries (a tuple for a tuple), returns records.
Statistic = Generator[Asked, Any, list]


# --- summaries ------------------------------------------------------------------------

@dataclass(frozen=True)
class BranchMoments:
    n_rows: int            # clients in the branch (non-finite values included)
    n: int                 # finite values
    total: float = 0.0     # their sum
    m2: float = 0.0        # sum of squared deviations from their mean
    nonzero: int = 0
    minimum: float = float("nan")
    maximum: float = float("nan")
    integral: bool = True  # every finite value is an integer
    distinct: int | None = None
    total_x: float = 0.0
    m2_x: float = 0.0
    cross: float = 0.0     # sum of (x - mean x)(y - mean y)

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else float("nan")


EMPTY_MOMENTS = BranchMoments(0, 0)


@dataclass(frozen=True)
class Runs:
    """Sorted distinct values with the first 0-based rank each one holds (within the asked
    windows: ranks outside them are unknown)."""
    values: np.ndarray
    first_ranks: np.ndarray

    def at(self, ranks: np.ndarray | int) -> np.ndarray:
        index = np.searchsorted(self.first_ranks, np.asarray(ranks), side="right") - 1
        if np.any(index < 0):
            raise ValueError("rank below the fetched windows")
        return self.values[index]


PerBranch = Mapping[Any, Any]  # branch (None for rows without one) -> summary


@dataclass(frozen=True)
class Residual:
    weights: float = 0.0
    weighted_z: float = 0.0
    weighted_zz: float = 0.0

