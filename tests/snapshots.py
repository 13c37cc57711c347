"""Snapshots of an analysis's result tables and export files, compared across reruns.

Reruns reproduce every number to RERUN_RELATIVE (warehouse float sums are order-dependent;
README, "Reruns"); RERUN_ABSOLUTE covers values that are rounding noise themselves (a
pre-enrollment window adjusted by itself fits exactly). `exact=True` compares bit for bit
(a run that changed nothing).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

RERUN_RELATIVE, RERUN_ABSOLUTE = 1e-9, 1e-8


def canonical_rows(frame):
    """A table's rows in a canonical order of its non-float columns (warehouses keep none)."""
    keys = [c for c in frame.columns if frame[c].dtype != float]
    return frame.sort_values(keys, na_position="first").reset_index(drop=True)


def snapshot(backend, out: Path, prefix: str = "") -> dict:
    tables = {t: canonical_rows(backend.query(f"SELECT * FROM {t}")) for t in backend.list_tables()
              if t.startswith(prefix)}
    files = {p.name: json.loads(p.read_bytes()) for p in sorted(out.iterdir())}
    return {"tables": tables, "files": files}


def assert_same(a, b, exact: bool = False, where: str = "") -> None:
    """Equal structures; floats to the rerun tolerances unless `exact`."""
    if isinstance(a, float) or isinstance(b, float):
        assert a == (b if exact else pytest.approx(b, rel=RERUN_RELATIVE, abs=RERUN_ABSOLUTE)), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], exact, f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, exact, f"{where}[{i}]")
    else:
        assert a == b, where


def assert_same_frame(table, other, exact: bool = False, name: str = "") -> None:
    assert list(table.columns) == list(other.columns), name
    assert len(table) == len(other), name
    for column in table.columns:
        if table[column].dtype == float and not exact:
            assert np.allclose(table[column], other[column], rtol=RERUN_RELATIVE,
                               atol=RERUN_ABSOLUTE, equal_nan=True), (name, column)
        else:
            assert table[column].equals(other[column]), (name, column)


def assert_same_snapshot(before: dict, after: dict, exact: bool = False) -> None:
    assert before["tables"].keys() == after["tables"].keys()
    for name, table in before["tables"].items():
        assert_same_frame(table, after["tables"][name], exact, name)
    assert_same(before["files"], after["files"], exact)
