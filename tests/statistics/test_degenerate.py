"""Degenerate data gives records with an explicit state for every statistic, never an error."""
import json

import numpy as np
import pandas as pd
import pytest

from engine.statistics import STATISTICS, compute

PARAMS = {"population_ratio": {"numerator": "m", "denominator": "d"}}


def _case(control, treatment):
    rows = [("control", v) for v in control] + [("treatment", v) for v in treatment]
    df = pd.DataFrame(rows, columns=["branch", "m"]).astype({"m": float})
    df["d"] = 1.0
    df["m__pre"] = 1.0
    return df


CASES = {
    "empty_branch": (_case([1.0, 2.0, 3.0], []), "empty_branch"),
    "single_client": (_case([1.0, 2.0, 3.0], [5.0]), "single_client"),
    "all_zeros": (_case([0.0] * 5, [0.0] * 5), "zero_variance"),
    "zero_variance": (_case([1.0, 2.0, 3.0], [4.0] * 6), "zero_variance"),
    "all_null": (_case([1.0, 2.0, 3.0], [np.nan] * 4), "all_null"),
    "everything_empty": (_case([], []), "empty_branch"),
}


@pytest.mark.parametrize("name", sorted(STATISTICS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_degenerate_data_yields_states(name, case):
    df, expected = CASES[case]
    params = PARAMS.get(name, {"drop_highest": 0} if STATISTICS[name].param("drop_highest") else {})
    records = compute(name, df, "m", "control", params, branches=["control", "treatment"],
                      analysis_period_days=7)
    assert records, "a degenerate branch must still produce records"
    json.dumps([r.to_dict() for r in records])
    treatment_states = {r.state for r in records if r.branch == "treatment"}
    if name in ("count",):
        assert treatment_states <= {"ok", "empty_branch"}
    elif name in ("sum", "binomial", "empirical_cdf"):
        assert treatment_states <= {"ok", expected, "single_client", "zero_variance"}
    else:
        assert expected in treatment_states or "zero_reference" in treatment_states
    for rec in records:
        if rec.state in ("empty_branch", "all_null"):
            assert rec.lower is None and rec.upper is None and rec.reason


def test_relative_uplift_against_zero_reference():
    df = _case([0.0] * 5, [1.0, 2.0, 3.0])
    recs = compute("bootstrap_mean", df, "m", "control", {"drop_highest": 0})
    [rel] = [r for r in recs if r.comparison == "relative_uplift"]
    assert rel.state == "zero_reference" and rel.point is None
    [diff] = [r for r in recs if r.comparison == "difference"]
    assert diff.point == pytest.approx(2.0)


def test_unknown_names_and_parameters_raise_value_error():
    df = _case([1.0], [2.0])
    with pytest.raises(ValueError):
        compute("no_such_statistic", df, "m", "control")
    with pytest.raises(ValueError):
        compute("bootstrap_mean", df, "m", "control", {"num_sample": 3})


def test_reference_branch_missing_from_the_data():
    df = _case([1.0, 2.0, 3.0], [4.0, 5.0])
    recs = compute("bootstrap_mean", df, "m", "ref", {"num_samples": 50})
    assert {r.branch for r in recs if r.state == "empty_branch"} >= {"ref"}
    assert all(r.state == "empty_branch" for r in recs if r.comparison)
