"""The result record every statistic produces (upstream shape plus additive fields)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

# Explicit states of degenerate data; "ok" means the numbers are meaningful.
OK = "ok"
EMPTY_BRANCH = "empty_branch"        # no client in the branch
ALL_NULL = "all_null"                # clients exist, but every value is null
SINGLE_CLIENT = "single_client"      # one client: no spread to estimate
ZERO_VARIANCE = "zero_variance"      # every client has the same value
ZERO_REFERENCE = "zero_reference"    # relative uplift against a reference mean of 0
NOT_APPLICABLE = "not_applicable"    # e.g. a missing parameter the statistic needs

# Severity order used when a comparison inherits the worse state of its two branches.
_STATE_RANK = {OK: 0, ZERO_VARIANCE: 1, SINGLE_CLIENT: 2, ZERO_REFERENCE: 3,
               ALL_NULL: 4, EMPTY_BRANCH: 5, NOT_APPLICABLE: 6}


def worse_state(a: str, b: str) -> str:
    return a if _STATE_RANK.get(a, 9) >= _STATE_RANK.get(b, 9) else b


def joined_reason(*reasons: str) -> str:
    return "; ".join(r for r in reasons if r)


@dataclass(frozen=True)
class Labels:
    """Where a record belongs: the fields shared by every record of one compute() call."""
    metric: str
    statistic: str
    segment: str = "all"
    analysis_basis: str = "enrollments"
    window_index: str = "1"


@dataclass(frozen=True)
class StatisticRecord:
    metric: str
    statistic: str
    parameter: float | None
    branch: str
    comparison: str | None
    comparison_to_branch: str | None
    ci_width: float | None
    point: float | None
    lower: float | None
    upper: float | None
    segment: str
    analysis_basis: str
    window_index: str
    p_value: float | None = None
    n: int | None = None
    state: str = OK
    reason: str = ""
    p_value_holm: float | None = None
    p_value_bh: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN and infinities become None."""
        return {k: _json_value(v) for k, v in asdict(self).items()}

    def with_values(self, **changes: Any) -> StatisticRecord:
        return replace(self, **changes)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def make_record(labels: Labels, branch: str, *, point: float | None,
                lower: float | None = None, upper: float | None = None,
                ci_width: float | None = None, parameter: float | None = None,
                comparison: str | None = None, comparison_to_branch: str | None = None,
                p_value: float | None = None, n: int | None = None,
                state: str = OK, reason: str = "") -> StatisticRecord:
    return StatisticRecord(
        metric=labels.metric, statistic=labels.statistic, parameter=_num(parameter),
        branch=branch, comparison=comparison, comparison_to_branch=comparison_to_branch,
        ci_width=ci_width, point=_num(point), lower=_num(lower), upper=_num(upper),
        segment=labels.segment, analysis_basis=labels.analysis_basis,
        window_index=labels.window_index, p_value=_num(p_value),
        n=None if n is None else int(n), state=state, reason=reason)


def _num(value: float | None) -> float | None:
    """Plain Python float (numpy scalars are not JSON-serialisable); NaN kept as None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
