"""Statistics over per-branch summaries, looked up by config name in `registry.STATISTICS`.

Each statistic is a generator of summary requests (summaries.py); the engine answers them in
the warehouse (engine.sql.summaries) and `compute()` in numpy over a frame (frame_source.py),
with the same numbers.

Contract used by the engine (names and signatures are stable):

``compute(name, data, metric, reference_branch, params=None, *, seed=0, segment="all",
analysis_basis="enrollments", window_index="1", branches=None, analysis_period_days=None)
-> list[StatisticRecord]``
    `data` has one row per client: column ``branch``, the metric column ``metric``, optionally
    ``f"{metric}__pre"`` (pre-enrollment covariate for linear_model_mean) and, for
    population_ratio, the numerator/denominator columns named by their slugs. `params` are
    merged over the declared defaults (unknown keys raise ValueError, as does an unknown
    name: both are config errors the validator reports first). Pre-treatments are steps of the
    treated columns (pretreatments/apply.py `treat`); compute only applies drop_highest, which
    clips every branch at one threshold, the (1 - drop_highest) quantile of the metric over
    all branches together (clipping.py).
    Degenerate data never raises: the record's `state` says what is wrong ("empty_branch",
    "all_null", "single_client", "zero_variance", "zero_reference", "not_applicable").
    Same seed -> identical numbers; each branch is resampled once and reused for every
    comparison against `reference_branch`.

``StatisticRecord`` (records.py): frozen; upstream fields metric, statistic, parameter,
    branch, comparison (None | "difference" | "relative_uplift"), comparison_to_branch,
    ci_width, point, lower, upper, segment, analysis_basis, window_index; additive p_value,
    n, state, reason, p_value_holm, p_value_bh. ``to_dict()`` is JSON-ready.

Families: bootstrap (bootstrap_mean; resample.py holds the binned / histogram Bayesian
bootstrap), binomial, quantiles (deciles), density (kernel_density_estimate, empirical_cdf),
linear_model (linear_model_mean, CUPED), counts (count, sum), population_ratio, dau
(per_client_dau_impact), sequential (always-valid intervals, `sequential=true`); clipping.py
holds drop_highest's one pooled threshold.

``srm.srm_test(counts, ratios, alpha=0.001) -> SrmResult(chi2, p_value, df, expected,
observed, mismatch, reason)``

``multiple.adjust(records, method="holm" | "bh") -> list[StatisticRecord]`` fills
    p_value_holm / p_value_bh across metrics (families: same statistic, branch, comparison,
    parameter, segment, basis, window).
"""
from __future__ import annotations

from typing import Any

__all__ = ["STATISTICS", "StatisticRecord", "compute"]

# Exported lazily: the validator reads STATISTICS without importing numpy, scipy or pandas.
_EXPORTS = {
    "compute": "engine.statistics.api",
    "StatisticRecord": "engine.statistics.records",
    "STATISTICS": "engine.statistics.registry",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'engine.statistics' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
