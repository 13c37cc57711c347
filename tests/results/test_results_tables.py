"""Result tables per window and the union per period, in a real DuckDB file (the DuckDB backend)."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from engine.backends.duckdb import DuckDBBackend
from engine.results.tables import (
    RECORD_FIELDS,
    UPSTREAM_FIELDS,
    frame_records,
    normalize_record,
    read_period_frame,
    records_frame,
    union_table,
    window_table,
    write_windows,
)
from tests.results.fixtures import records


@pytest.fixture
def backend(tmp_path):
    backend = DuckDBBackend(None, tmp_path / "results.duckdb")
    yield backend
    backend.close()


def read_period(backend, slug, period):
    return frame_records(read_period_frame(backend, slug, period))


def test_table_names_follow_upstream():
    assert window_table("my-exp.v2", "weekly", 3) == "statistics_my_exp_v2_weekly_3"
    assert union_table("my-exp.v2", "overall") == "statistics_my_exp_v2_overall"


def test_normalize_keeps_upstream_order_and_cleans_numbers():
    raw = {"metric": "m", "statistic": "s", "branch": "b", "segment": "all",
           "analysis_basis": "enrollments", "window_index": 2, "point": float("nan"),
           "upper": float("inf"), "p_value_holm": 0.2, "nested": {"x": 1}}
    out = normalize_record(raw)
    assert tuple(out)[:len(RECORD_FIELDS)] == RECORD_FIELDS
    assert out["window_index"] == "2" and out["point"] is None and out["upper"] is None
    assert out["state"] == "ok" and out["p_value_holm"] == 0.2 and "nested" not in out


def test_frame_round_trip_preserves_records():
    recs = records("weekly", range(1, 2))
    back = frame_records(records_frame(recs))
    assert back == [normalize_record(r) for r in recs]
    assert list(records_frame(recs).columns)[:13] == list(UPSTREAM_FIELDS)


def test_windows_union_and_rerun_replace(backend):
    first = records("weekly", range(1, 2))
    second = records("weekly", range(2, 3))
    write_windows(backend, "exp-a", "weekly", {1: first})
    write_windows(backend, "exp-a", "weekly", {2: second})
    union = read_period(backend, "exp-a", "weekly")
    assert len(union) == len(first) + len(second)
    assert [r["window_index"] for r in union] == ["1"] * len(first) + ["2"] * len(second)
    # rerunning window 1 replaces it instead of appending
    write_windows(backend, "exp-a", "weekly", {1: first})
    again = read_period(backend, "exp-a", "weekly")
    assert again == union
    counts = backend.query("SELECT window_index, COUNT(*) AS n FROM statistics_exp_a_weekly "
                           "GROUP BY window_index ORDER BY window_index")
    assert counts["n"].tolist() == [len(first), len(second)]


def test_union_does_not_mix_experiments_or_periods(backend):
    write_windows(backend, "exp-a", "weekly", {1: records("weekly", range(1, 2))})
    write_windows(backend, "exp-ab", "weekly", {1: records("weekly", range(1, 2))[:3]})
    write_windows(backend, "exp-a", "overall", {1: records("weekly", range(1, 2))[:5]})
    assert len(read_period(backend, "exp-ab", "weekly")) == 3
    assert len(read_period(backend, "exp-a", "overall")) == 5
    assert read_period(backend, "exp-b", "weekly") == []


def test_failed_write_leaves_previous_tables(backend):
    write_windows(backend, "exp-a", "weekly", {1: records("weekly", range(1, 2))})
    before = read_period(backend, "exp-a", "weekly")

    class Broken:  # the same tables, but every write fails (a full disk)
        def __getattr__(self, name: str):
            return getattr(backend, name)

        def write_table(self, name: str, frame: pd.DataFrame) -> None:
            raise RuntimeError("disk full")

    broken = Broken()
    with pytest.raises(RuntimeError):
        write_windows(broken, "exp-a", "weekly", {1: records("weekly", range(5, 6))})
    assert read_period(backend, "exp-a", "weekly") == before
    assert not any(math.isnan(r["point"]) for r in before if r["point"] is not None)
