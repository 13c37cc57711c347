"""Pre-treatments: every upstream name, applied in order, as steps of treated columns."""
import numpy as np
import pandas as pd
import pytest

from engine.config.spec import PreTreatmentSpec
from engine.statistics.drive import run_one
from engine.statistics.frame_source import FrameSource
from engine.statistics.pretreatments.apply import treat
from engine.statistics.pretreatments.declarations import PRETREATMENTS
from engine.statistics.summaries import RowSet


def _spec(name, **params):
    return PreTreatmentSpec(name, params)


def _frame(**columns):
    size = len(next(iter(columns.values())))
    return pd.DataFrame({"branch": ["a"] * size, **columns})


def _apply(frame, specs, days=None, columns=("m",)):
    """{source: values of the remaining rows} after the chain."""
    source = FrameSource(frame)
    rows, treated = run_one(treat(RowSet("all"), columns, specs, days), source.evaluate)
    return {name: source.values(rows, treated[name]).tolist() for name in treated}, rows


def _one(values, specs, days=None):
    return _apply(_frame(m=values), specs, days)[0]["m"]


def test_every_declaration_has_an_implementation():
    assert all(callable(d.load()) for d in PRETREATMENTS.values())


def test_remove_nulls_and_indefinites():
    s = [1.0, np.nan, np.inf, -np.inf, 2.0]
    assert _one(s, [_spec("remove_nulls")]) == [1.0, np.inf, -np.inf, 2.0]
    assert _one(s, [_spec("remove_indefinites")]) == [1.0, 2.0]


def test_zero_fill_really_fills():
    s = [1.0, None, 3.0]
    assert _one(s, [_spec("zero_fill")]) == [1.0, 0.0, 3.0]
    # and the order matters: removing nulls first leaves nothing to fill
    assert _one(s, [_spec("remove_nulls"), _spec("zero_fill")]) == [1.0, 3.0]


def test_censoring_at_quantiles_matches_pandas():
    s = np.arange(101, dtype=float)
    assert max(_one(s, [_spec("censor_highest_values", fraction=0.9)])) == 90.0
    assert min(_one(s, [_spec("censor_lowest_values", fraction=0.1)])) == 10.0
    assert min(_one(s, [_spec("censor_values_below_threshold", threshold=5)])) == 5.0
    assert max(_one(s, [_spec("censor_values_above_threshold", threshold=7)])) == 7.0
    assert len(_one(s, [_spec("censor_highest_values")])) == 101  # clipped, not dropped
    rough = np.random.default_rng(3).lognormal(0, 2, 997)
    rough[::50] = np.nan
    for q in (0.5, 0.9, 0.99, 0.999):
        assert max(v for v in _one(rough, [_spec("censor_highest_values", fraction=q)])
                   if v == v) == pytest.approx(pd.Series(rough).quantile(q), rel=1e-12)


def test_log_and_normalize():
    s = [0.0, 9.0, 99.0]
    assert _one(s, [_spec("log", base=10)]) == pytest.approx([0.0, 1.0, 2.0])
    assert _one(s, [_spec("log")]) == pytest.approx(np.log1p(s).tolist())
    assert _one(s, [_spec("normalize_over_analysis_period")], 3) == [0.0, 3.0, 33.0]
    with pytest.raises(ValueError):
        _one(s, [_spec("normalize_over_analysis_period")])
    # no logarithm at or below -1: null, never an error
    assert np.isnan(_one([-1.0, -2.0], [_spec("log")])).all()


def test_rows_stay_aligned_when_a_column_drops_rows():
    frame = _frame(m=[1.0, None, 3.0], k=[5.0, 6.0, None])
    one, _ = _apply(frame, [_spec("remove_nulls")], columns=("m",))
    assert one == {"m": [1.0, 3.0]}
    both, rows = _apply(frame, [_spec("remove_nulls")], columns=("m", "k"))
    assert both == {"m": [1.0], "k": [5.0]}
    assert len(rows.columns) == 2


def test_unknown_pretreatment_raises():
    with pytest.raises(ValueError):
        _one([1.0], [_spec("nope")])
