"""The binned (FFT) Gaussian KDE against the direct sum with the same bandwidth."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine.statistics import compute

TOLERANCE = 1e-4  # of the peak density, the bound stated in density.py
_FACTOR = {"normal_reference": 1.059, "silverman": 0.9}


def _direct(values, grid, h):
    return stats.gaussian_kde(values, bw_method=h / values.std(ddof=1))(grid)


def bandwidth(values, rule, adjust):
    """The rule density.py states, computed here from the values themselves."""
    iqr = float(np.subtract(*np.quantile(values, [0.75, 0.25]))) / 1.349
    spread = min(float(np.std(values, ddof=1)), iqr)
    return adjust * _FACTOR[rule] * spread * len(values) ** -0.2


@pytest.mark.parametrize("draw", [
    lambda rng: rng.normal(3, 2, 5000),
    lambda rng: rng.lognormal(0.5, 1.2, 5000),                     # long right tail
    lambda rng: np.log(rng.lognormal(0.5, 1.2, 5000)),             # log_space's view
    lambda rng: rng.poisson(3, 5000) + rng.normal(0, 0.05, 5000),  # sharp, narrow modes
])
def test_binned_kde_agrees_with_the_direct_sum(draw):
    values = draw(np.random.default_rng(0))
    frame = pd.DataFrame({"branch": "control", "m": values})
    records = compute("kernel_density_estimate", frame, "m", "control")
    grid = np.array([r.parameter for r in records])
    assert np.allclose(grid, np.linspace(values.min(), values.max(), 256), rtol=0, atol=1e-12)
    h = bandwidth(values, "normal_reference", 1.0)
    ours, reference = np.array([r.point for r in records]), _direct(values, grid, h)
    assert np.max(np.abs(ours - reference)) <= TOLERANCE * reference.max()


def test_records_carry_the_binned_density_per_branch_on_a_shared_grid():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"branch": np.repeat(["control", "treatment"], 3000),
                       "m": np.concatenate([rng.lognormal(0, 1, 3000),
                                            rng.lognormal(0.3, 1, 3000)])})
    records = compute("kernel_density_estimate", df, "m", "control",
                      {"log_space": True, "grid_size": 100, "bandwidth": "silverman"})
    by_branch = {b: [r for r in records if r.branch == b] for b in ("control", "treatment")}
    assert [r.parameter for r in by_branch["control"]] == [r.parameter
                                                           for r in by_branch["treatment"]]
    for branch, recs in by_branch.items():
        logged = np.log(df.m[df.branch == branch].to_numpy())
        grid = np.log([r.parameter for r in recs])
        h = bandwidth(logged, "silverman", 1.0)
        reference = _direct(logged, grid, h)
        ours = np.array([r.point for r in recs])
        assert np.max(np.abs(ours - reference)) <= TOLERANCE * reference.max()
        assert all(r.n == 3000 and r.state == "ok" for r in recs)
