"""Many windows' requests in one query per kind (engine.sql.slots, engine.run.warehouse_source):
requests that differ only in data-derived numbers share one expression, and every answer of
the combined query equals the numpy oracle's over that window's own rows."""
from __future__ import annotations

import math

import pytest
from sqlglot import exp

from engine.backends.duckdb import DuckDBBackend
from engine.run import warehouse_source
from engine.run.warehouse_source import WarehouseSource
from engine.sql.slots import Instance, PerPart, Slot, templates
from engine.sql.summaries import kind_of
from engine.statistics.drive import Tagged
from engine.statistics.frame_source import FrameSource
from engine.statistics.summaries import (
    CLIP_UPPER,
    DIVIDE,
    DROP_NONFINITE,
    FILL_NONFINITE,
    Column,
    GridCounts,
    LinearBins,
    Moments,
    OrderStatistics,
    ResampleCells,
    Residuals,
    RowSet,
    Step,
)
from tests.sql.test_summaries import _frame, _relation, same

ALL = RowSet("all")


def clipped(source: str, threshold: float) -> Column:
    return Column(source, (Step(DROP_NONFINITE), Step(CLIP_UPPER, threshold)))


def test_requests_differing_in_free_numbers_share_a_template():
    asked = [Instance(0, 0, Moments(ALL, clipped("normal", 12.0))),
             Instance(1, 1, Moments(ALL, clipped("normal", 14.0))),
             Instance(1, 2, Moments(ALL, clipped("normal", 15.0))),  # a second one in part 1
             Instance(2, 3, Moments(ALL, clipped("normal", 12.0))),
             Instance(0, 4, Moments(ALL, Column("normal", (Step(DIVIDE, 0.0),)))),
             Instance(1, 5, Moments(ALL, Column("normal", (Step(DIVIDE, 2.0),)))),
             Instance(0, 6, OrderStatistics(ALL, Column("normal"), (("a", 0, 3),))),
             Instance(1, 7, OrderStatistics(ALL, Column("normal"), (("a", 5, 9),)))]
    groups = templates(asked)
    assert [[i.position for i in g.instances] for g in groups] == [[0, 1, 3], [2], [4], [5], [6, 7]]
    threshold = groups[0].request.y.steps[1].argument
    assert isinstance(threshold, Slot) and dict(threshold.values) == {0: 12.0, 1: 14.0, 2: 12.0}
    assert groups[1].request == asked[2].request  # alone: no Slot at all
    assert groups[2].request.y.steps[0].argument == 0.0  # 0 chooses other SQL: not free
    windows = groups[4].request.windows
    assert isinstance(windows, PerPart) and windows.by_part == {0: (("a", 0, 3),), 1: (("a", 5, 9),)}


def test_a_slot_refuses_arithmetic():
    slot = Slot({0: 2.0, 1: 3.0}, "_p0")
    for operation in (lambda: slot * 2, lambda: 2 * slot, lambda: slot - 1.0, lambda: -slot):
        with pytest.raises(TypeError):
            operation()
    assert math.isfinite(slot) and slot != 2.0 and slot == Slot({1: 3.0, 0: 2.0}, "_p9")


class CountingBackend(DuckDBBackend):
    """The real backend, counting the queries it runs."""

    queries = 0

    def query(self, sql):
        self.queries += 1
        return super().query(sql)


@pytest.fixture(scope="module")
def windows(tmp_path_factory):
    frame, stored = _frame()
    small, small_stored = _frame(seed=3, per_branch=780)
    backend = CountingBackend(results=tmp_path_factory.mktemp("slots") / "results.duckdb")
    backend.write_table("rows", stored)
    backend.write_table("small_rows", small_stored)
    big = _relation()
    small_relation = big.copy().transform(
        lambda n: exp.to_table("small_rows") if isinstance(n, exp.Table) else n)
    no_covariate = exp.select(exp.Star(except_=[exp.column("cov")])).from_(big.subquery("r"))
    relations = {"a": big, "b": small_relation, "c": no_covariate}
    oracles = {"a": FrameSource(frame), "b": FrameSource(small),
               "c": FrameSource(frame.drop(columns="cov"))}
    columns = {key: set(frame.columns) - ({"cov"} if key == "c" else set()) for key in relations}
    source = WarehouseSource(backend, relations, {"flag", "seg1", "seg2"},
                             {"a": len(frame), "b": len(small), "c": len(frame)}, columns)
    yield backend, source, oracles
    backend.close()


def _asked(key: str, k: int) -> list:
    """Every kind of request, with numbers that depend on the window (k)."""
    threshold = 11.0 + k
    y = clipped("heavy", threshold)
    out: list = [
        Moments(ALL.with_column(y), y, distinct=True),
        Moments(RowSet("seg1"), clipped("normal", 9.5 + k)),
        Moments(RowSet("seg1"), clipped("normal", 20.0 + k)),  # one template twice per window
        OrderStatistics(ALL, Column("counts", (Step(DROP_NONFINITE),)),
                        ((None, 0, 4 + k), ("control", 100 * k, 100 * k + 40), ("treatment", 7, 9))),
        GridCounts(ALL, y, (0.5 + k, 2.0, 3.25 * (k + 1), math.inf)),
        LinearBins(ALL, y, -1.0 - k, 0.25 + 0.1 * k, 32),
        ResampleCells(ALL, (y,)),
        ResampleCells(ALL, (clipped("normal", 8.0 + k), Column("counts", (Step(DROP_NONFINITE),)))),
    ]
    if key != "c":  # the covariate exists in a and b only
        x = Column("cov", (Step(FILL_NONFINITE, 5.0 + k),))
        out += [Moments(ALL, y, x=x),
                Residuals(ALL.with_column(y), y, x, 5.0 + k, 0.8 - 0.1 * k, 1e-5 * (k + 1),
                          (("control", 10.0 + k), ("treatment", 10.5)),
                          (("control", 3e-4), ("treatment", 3.5e-4 * (k + 1))),
                          (("control", 1e-5 * k), ("treatment", -2e-5)))]
    return out


def test_one_query_per_kind_answers_every_window_as_its_own_rows(windows):
    backend, source, oracles = windows
    asked = {key: _asked(key, k) for k, key in enumerate(("a", "b", "c"))}
    batch = [Tagged(key, request) for key, requests in asked.items() for request in requests]
    before = backend.queries
    got = source.evaluate(batch)
    assert backend.queries - before == 4  # grouped, ranks, cells, bins: for all three windows
    answers = iter(got)
    for key, requests in asked.items():
        for request, expected in zip(requests, oracles[key].evaluate(requests)):
            try:
                same(next(answers), expected)
            except AssertionError as err:
                raise AssertionError(f"{key}: {request}: {err}") from err


def test_one_windows_requests_are_sliced_when_they_alone_exceed_the_budget(windows, monkeypatch):
    """With room for one request's long rows per query, every rank, cell and bin request is
    its own query over its window: the answers do not change."""
    backend, source, oracles = windows
    monkeypatch.setattr(warehouse_source, "MAX_LONG_ROWS", 1)
    asked = {key: _asked(key, k) for k, key in enumerate(("a", "b", "c"))}
    batch = [Tagged(key, request) for key, requests in asked.items() for request in requests]
    long = sum(kind_of(r) in warehouse_source.LONG_KINDS for rs in asked.values() for r in rs)
    before = backend.queries
    got = iter(source.evaluate(batch))
    assert backend.queries - before == 1 + long  # the moments query, then one per request
    for key, requests in asked.items():
        for request, expected in zip(requests, oracles[key].evaluate(requests)):
            same(next(got), expected)
