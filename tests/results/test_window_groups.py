"""The statistics step runs one group of windows at a time (memory: only a group's answers are
held); groups follow the combined queries' budgets and change no number."""
from __future__ import annotations

from itertools import pairwise

import pytest

from engine.backends.duckdb import DuckDBBackend
from engine.results.export import DirectorySink
from engine.run import warehouse_source
from engine.run.experiment import analyse_experiment
from engine.run.warehouse_source import MAX_PARTS, MAX_ROWS, window_groups
from tests.engine import minitelemetry as mt
from tests.results.test_analysis import make_spec, snapshot, telemetry  # noqa: F401 (fixture)
from tests.snapshots import assert_same_snapshot


@pytest.mark.parametrize("rows", [[10] * 20, [MAX_ROWS // 3] * 7, [MAX_ROWS * 2, 5, 5, MAX_ROWS, 1],
                                  [], [0] * 9])
def test_groups_cover_every_window_in_order_within_the_budgets(rows):
    groups = window_groups(rows)
    assert [i for g in groups for i in g] == list(range(len(rows)))
    for group in groups:
        assert 1 <= len(group) <= MAX_PARTS
        assert len(group) == 1 or sum(rows[i] for i in group) <= MAX_ROWS
    for before, after in pairwise(groups):  # a group ends only when the next would not fit
        assert (len(before) == MAX_PARTS
                or sum(rows[i] for i in before) + rows[after.start] > MAX_ROWS)


def _analyse(telemetry, directory):
    directory.mkdir()
    backend = DuckDBBackend(telemetry, directory / "results.duckdb")
    said: list[str] = []
    outcome = analyse_experiment(make_spec(), backend, mt.END, DirectorySink(directory / "out"),
                                 progress=lambda _, what: said.append(what))
    assert outcome.status == "ok"
    return snapshot(backend, directory / "out"), [s for s in said if "window tables" in s]


def test_one_window_per_group_gives_the_same_results(telemetry, tmp_path, monkeypatch):  # noqa: F811
    together, steps = _analyse(telemetry, tmp_path / "together")
    assert steps == ["statistics of window tables 1-8 of 9", "statistics of window tables 9-9 of 9"]
    monkeypatch.setattr(warehouse_source, "MAX_PARTS", 1)
    apart, steps = _analyse(telemetry, tmp_path / "apart")
    assert steps == [f"statistics of window tables {i}-{i} of 9" for i in range(1, 10)]
    assert together["tables"]
    assert_same_snapshot(together, apart)
