"""The lock-step driver: batches, shared answers, isolated failures, broken sources."""
import traceback

import pandas as pd
import pytest

from engine.statistics.drive import SourceBroken, ask, drive, together
from engine.statistics.frame_source import FrameSource
from engine.statistics.summaries import Column, Moments, OrderStatistics, RowSet

FRAME = pd.DataFrame({"branch": ["a", "a", "b", "b", "b"], "m": [1.0, 2.0, 3.0, 4.0, None]})
ROWS, M = RowSet("all"), Column("m")


class Counting:
    """A frame source that records the batches it is asked."""

    def __init__(self, fail_on: type | None = None, broken: bool = False):
        self.source, self.batches = FrameSource(FRAME), []
        self.fail_on, self.broken = fail_on, broken

    def evaluate(self, requests):
        self.batches.append(list(requests))
        if self.broken:
            raise SourceBroken("gone")
        if self.fail_on and any(isinstance(r, self.fail_on) for r in requests):
            raise RuntimeError("query failed")
        return self.source.evaluate(requests)


def _mean_then_median(branch):
    moments = yield Moments(ROWS, M)
    n = moments[branch].n
    runs = yield OrderStatistics(ROWS, M, ((branch, (n - 1) // 2, (n - 1) // 2),))
    return moments[branch].mean, float(runs[branch].at((n - 1) // 2)[()])


def test_one_batch_per_round_and_shared_requests_asked_once():
    source = Counting()
    results = drive([_mean_then_median("a"), _mean_then_median("b")], source.evaluate)
    assert results == [(1.5, 1.0), (3.5, 3.0)]
    assert [len(batch) for batch in source.batches] == [1, 2]  # moments shared by both


def test_an_answer_is_remembered_across_rounds():
    def twice():
        first = yield Moments(ROWS, M)
        second = yield Moments(ROWS, M)
        return first == second
    source = Counting()
    assert drive([twice()], source.evaluate) == [True]
    assert len(source.batches) == 1


def test_a_failing_statistic_does_not_stop_the_others():
    def broken():
        yield Moments(ROWS, M)
        raise ValueError("bad statistic")
    results = drive([broken(), _mean_then_median("a")], Counting().evaluate)
    assert isinstance(results[0], ValueError) and results[1] == (1.5, 1.0)


def test_a_failed_batch_is_thrown_into_the_statistics_waiting_on_it():
    results = drive([_mean_then_median("a")], Counting(fail_on=OrderStatistics).evaluate)
    assert isinstance(results[0], RuntimeError)


def test_each_statistic_gets_its_own_copy_of_a_failed_batch_error():
    """One exception object thrown into every waiting generator grew a frame per generator
    (formatting the last error record walked them all)."""
    results = drive([_mean_then_median("a") for _ in range(300)],
                    Counting(fail_on=OrderStatistics).evaluate)
    depths = {len(traceback.extract_tb(r.__traceback__)) for r in results}
    assert all(isinstance(r, RuntimeError) for r in results) and len(depths) == 1
    assert len({id(r) for r in results}) == 300


def test_a_broken_source_stops_the_whole_step():
    with pytest.raises(SourceBroken):
        drive([_mean_then_median("a")], Counting(broken=True).evaluate)


def test_together_runs_parts_side_by_side():
    def both():
        return (yield from together(_mean_then_median("a"), _mean_then_median("b"),
                                    ask(Moments(ROWS, M))))
    source = Counting()
    (a, b, moments), = drive([both()], source.evaluate)
    assert a == (1.5, 1.0) and b == (3.5, 3.0) and moments["b"].n_rows == 3
    assert len(source.batches) == 2
