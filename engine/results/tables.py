"""Statistics records as frames and result tables in a backend.

A record keeps the upstream shape (`UPSTREAM_FIELDS`) so existing consumers read it; our
extra fields (`ADDITIVE_FIELDS`, plus any further snake_case scalar a statistic adds) come after.
Tables: one per window, `statistics_<slug>_<period>_<N>`, and one union per period,
`statistics_<slug>_<period>`, carrying `window_index`. Every write goes through the backend's
atomic `write_table`, so an interrupted run leaves the previous tables intact.
"""
from __future__ import annotations

import math
import re
from dataclasses import is_dataclass
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from engine.backends.base import Backend, read_table
from engine.plan.analysis_plan import table_slug

UPSTREAM_FIELDS = (
    "metric",
    "statistic",
    "parameter",
    "branch",
    "comparison",
    "comparison_to_branch",
    "ci_width",
    "point",
    "lower",
    "upper",
    "segment",
    "analysis_basis",
    "window_index",
)
ADDITIVE_FIELDS = ("p_value", "n", "state", "reason")
RECORD_FIELDS = UPSTREAM_FIELDS + ADDITIVE_FIELDS
_NUMERIC = ("parameter", "ci_width", "point", "lower", "upper", "p_value")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def window_table(slug: str, period: str, window_index: int) -> str:
    return f"statistics_{table_slug(slug)}_{period}_{int(window_index)}"


def union_table(slug: str, period: str) -> str:
    return f"statistics_{table_slug(slug)}_{period}"


def _clean_number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number


def normalize_record(record: Any) -> dict[str, Any]:
    """A record (dict or object with `to_dict()`) as a plain JSON-ready dict in field order.

    `window_index` is a string, as upstream publishes it; NaN and infinities become null.
    """
    raw = dict(record.to_dict() if hasattr(record, "to_dict") else record)
    out: dict[str, Any] = {name: raw.pop(name, None) for name in RECORD_FIELDS}
    for name in _NUMERIC:
        out[name] = _clean_number(out[name])
    if out["window_index"] is not None:
        out["window_index"] = str(int(out["window_index"]))
    if out["n"] is not None:
        out["n"] = int(out["n"])
    if out["state"] is None:
        out["state"] = "ok"
    for name in sorted(raw):
        value = raw[name]
        if not _FIELD_NAME.match(name) or isinstance(value, (dict, list, tuple)):
            continue  # only flat snake_case scalars are additive fields
        out[name] = _clean_number(value) if isinstance(value, float) else value
    return out


def _raw(record: Any) -> dict[str, Any]:
    if isinstance(record, dict):
        return record
    if is_dataclass(record):
        return dict(vars(record))  # much faster than to_dict()/asdict(); cleaned below
    return dict(record.to_dict())


def records_frame(records: Iterable[Any]) -> pd.DataFrame:
    """Records as a frame with a stable column order (window_index as an integer column).

    Vectorised: the same cleaning as `normalize_record`, column by column.
    """
    frame = pd.DataFrame.from_records([_raw(r) for r in records])
    extras = sorted(c for c in frame.columns if c not in RECORD_FIELDS and _FIELD_NAME.match(c)
                    and not (frame[c].dtype == object  # only object columns hold containers
                             and frame[c].map(lambda v: isinstance(v, (dict, list, tuple))).any()))
    frame = frame.reindex(columns=list(RECORD_FIELDS) + extras)
    for name in _NUMERIC + tuple(c for c in extras if frame[c].dtype.kind in "fiu"):
        values = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        frame[name] = values.where(np.isfinite(values))
    frame["window_index"] = pd.to_numeric(frame["window_index"]).astype("Int64")
    frame["n"] = pd.to_numeric(frame["n"]).astype("Int64")
    frame["state"] = frame["state"].where(frame["state"].notna(), "ok")
    for name in RECORD_FIELDS:
        if name not in _NUMERIC and name not in ("window_index", "n"):
            frame[name] = frame[name].astype("object")
    return frame


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The inverse of `records_frame`: JSON-ready dicts in field order, nulls for missing values."""
    frame = frame.copy()
    frame["window_index"] = frame["window_index"].map(
        lambda v: None if pd.isna(v) else str(int(v))).astype(object)
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    for row in rows:
        if row["n"] is not None:
            row["n"] = int(row["n"])
    return rows


# The order records are read back in (warehouses keep no row order of their own): window, then
# what a record is about, then the point on its curve.
_ORDER = ("window_index", "metric", "statistic", "segment", "analysis_basis", "branch",
          "comparison", "comparison_to_branch", "parameter")


def _read_records(backend: Backend, table: str) -> pd.DataFrame:
    return read_table(backend, table, order_by=_ORDER)


def window_tables(backend: Backend, slug: str, period: str) -> dict[int, str]:
    """Existing per-window result tables of one period, by window index."""
    pattern = re.compile(re.escape(union_table(slug, period)) + r"_(\d+)$")
    found = {}
    for name in backend.list_tables():
        match = pattern.match(name)
        if match:
            found[int(match.group(1))] = name
    return dict(sorted(found.items()))


def write_windows(backend: Backend, slug: str, period: str,
                  windows: Mapping[int, Iterable[Any]]) -> list[str]:
    """Replace each given window's result table, then rebuild the period's union once."""
    written = []
    for window_index, records in sorted(windows.items()):
        frame = records_frame(records)
        frame["window_index"] = pd.array([int(window_index)] * len(frame), dtype="Int64")
        written.append(window_table(slug, period, window_index))
        backend.write_table(written[-1], frame)
    write_union(backend, slug, period)
    return written


def write_union(backend: Backend, slug: str, period: str) -> str:
    """The union of a period's window tables, ordered by window (materialised atomically)."""
    frames = [_read_records(backend, t) for t in window_tables(backend, slug, period).values()]
    frames = [f for f in frames if len(f)]
    union = pd.concat(frames, ignore_index=True) if frames else records_frame([])
    name = union_table(slug, period)
    backend.write_table(name, union)
    return name


def read_period_frame(backend: Backend, slug: str, period: str) -> pd.DataFrame:
    """All records of a period from its union table, as a frame (empty when nothing was
    written yet)."""
    name = union_table(slug, period)
    if not backend.table_exists(name):
        return records_frame([])
    return _read_records(backend, name)
