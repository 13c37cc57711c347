"""Pre-treatments: every upstream name, applied in order, on Series and frames."""
import numpy as np
import pandas as pd
import pytest

from engine.config.spec import PreTreatmentSpec
from engine.statistics.pretreatments.apply import apply
from engine.statistics.pretreatments.declarations import PRETREATMENTS


def _spec(name, **params):
    return PreTreatmentSpec(name, params)


def test_every_declaration_has_an_implementation():
    assert all(callable(d.load()) for d in PRETREATMENTS.values())


def test_remove_nulls_and_indefinites():
    s = pd.Series([1.0, np.nan, np.inf, -np.inf, 2.0])
    assert apply(s, [_spec("remove_nulls")]).tolist() == [1.0, np.inf, -np.inf, 2.0]
    assert apply(s, [_spec("remove_indefinites")]).tolist() == [1.0, 2.0]


def test_zero_fill_really_fills():
    s = pd.Series([1.0, None, 3.0])
    assert apply(s, [_spec("zero_fill")]).tolist() == [1.0, 0.0, 3.0]
    # and the order matters: removing nulls first leaves nothing to fill
    assert apply(s, [_spec("remove_nulls"), _spec("zero_fill")]).tolist() == [1.0, 3.0]


def test_censoring():
    s = pd.Series(np.arange(101, dtype=float))
    assert apply(s, [_spec("censor_highest_values", fraction=0.9)]).max() == 90.0
    assert apply(s, [_spec("censor_lowest_values", fraction=0.1)]).min() == 10.0
    assert apply(s, [_spec("censor_values_below_threshold", threshold=5)]).min() == 5.0
    assert apply(s, [_spec("censor_values_above_threshold", threshold=7)]).max() == 7.0
    assert len(apply(s, [_spec("censor_highest_values")])) == 101  # clipped, not dropped


def test_log_and_normalize():
    s = pd.Series([0.0, 9.0, 99.0])
    assert apply(s, [_spec("log", base=10)]).tolist() == pytest.approx([0.0, 1.0, 2.0])
    assert apply(s, [_spec("log")]).tolist() == pytest.approx(np.log1p(s).tolist())
    assert apply(s, [_spec("normalize_over_analysis_period")], 3).tolist() == [0.0, 3.0, 33.0]
    with pytest.raises(ValueError):
        apply(s, [_spec("normalize_over_analysis_period")])


def test_frame_rows_stay_aligned_when_a_column_drops_rows():
    df = pd.DataFrame({"branch": ["a", "b", "a"], "m": [1.0, None, 3.0], "k": [5.0, 6.0, None]},
                      index=[10, 11, 12])
    out = apply(df, [_spec("remove_nulls")], columns=["m"])
    assert out.index.tolist() == [10, 12]
    assert out.branch.tolist() == ["a", "a"] and out.k.tolist()[0] == 5.0
    both = apply(df, [_spec("remove_nulls")])
    assert both.index.tolist() == [10]


def test_unknown_pretreatment_raises():
    with pytest.raises(ValueError):
        apply(pd.Series([1.0]), [_spec("nope")])
