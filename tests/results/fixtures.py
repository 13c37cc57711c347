"""Well-formed result records and a complete export directory for page and export tests.

Records are built with the statistics package's own record type from small seeded frames
(mean with a normal interval, deciles, a histogram density and an ECDF), so their shape is the
real one while the numbers stay cheap to compute.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import stats as scipy_stats

from engine.config.spec import (
    AnalysisSpec,
    Branch,
    DataSource,
    ExperimentSpec,
    Metric,
    PreTreatmentSpec,
    Segment,
    SegmentDataSource,
    StatisticSpec,
)
from engine.results.export import DirectorySink, export_errors, export_experiment
from engine.results.metadata import (
    ErrorRecord,
    MetadataContext,
    build_metadata,
    errors_list,
)
from engine.statistics.multiple import adjust
from engine.statistics.records import Labels, StatisticRecord, make_record

BRANCHES = ("control", "treatment")
SEGMENTS = ("all", "new_users")
BASES = ("enrollments", "exposures")
UPLIFT = {"all": 0.05, "new_users": 0.20}  # planted relative effect on active_hours


def _values(seed: int, branch: str, segment: str, window: int, basis: str) -> np.ndarray:
    rng = np.random.default_rng([seed, BRANCHES.index(branch), SEGMENTS.index(segment), window,
                                 BASES.index(basis)])
    scale = 1 + (UPLIFT[segment] if branch == "treatment" else 0.0)
    return rng.gamma(2.0, 1.5, size=400) * scale


def _mean_records(labels: Labels, data: dict[str, np.ndarray],
                  shrink: float = 1.0) -> list[StatisticRecord]:
    """Normal-interval means and comparisons to control; `shrink` narrows the standard errors
    (a covariate-adjusted estimate, e.g. linear_model_mean, is more precise)."""
    out = []
    stats = {b: (v.mean(), shrink * v.std(ddof=1) / np.sqrt(len(v)), len(v))
             for b, v in data.items()}
    for branch, (mean, se, n) in stats.items():
        out.append(make_record(labels, branch, point=mean, lower=mean - 1.96 * se,
                               upper=mean + 1.96 * se, ci_width=0.95, n=n))
    ref_mean, ref_se, _ = stats["control"]
    for branch, (mean, se, n) in stats.items():
        if branch == "control":
            continue
        diff, diff_se = mean - ref_mean, float(np.hypot(se, ref_se))
        rel, rel_se = diff / ref_mean, diff_se / ref_mean
        for kind, point, half in (("difference", diff, 1.96 * diff_se),
                                  ("relative_uplift", rel, 1.96 * rel_se)):
            p_value = float(2 * scipy_stats.norm.sf(abs(diff) / diff_se))
            out.append(make_record(labels, branch, point=point, lower=point - half,
                                   upper=point + half, ci_width=0.95, comparison=kind,
                                   comparison_to_branch="control", p_value=p_value, n=n))
    return out


def _days_of_use(labels: Labels) -> list[StatisticRecord]:
    """A metric significant by its raw p-value (0.03) but not once adjusted across metrics."""
    out = [make_record(labels, b, point=p, lower=p - 0.2, upper=p + 0.2, ci_width=0.95, n=400)
           for b, p in (("control", 5.0), ("treatment", 5.2))]
    for kind, point in (("difference", 0.2), ("relative_uplift", 0.04)):
        out.append(make_record(labels, "treatment", point=point, lower=point * 0.1,
                               upper=point * 1.9, ci_width=0.95, comparison=kind,
                               comparison_to_branch="control", p_value=0.03, n=400))
    return out


def _distribution_records(labels: Labels, data: dict[str, np.ndarray]) -> list[StatisticRecord]:
    out = []
    grid = np.linspace(0, 15, 24)
    for branch, values in data.items():
        for q in np.arange(0.1, 1.0, 0.1):
            point = float(np.quantile(values, q))
            out.append(make_record(Labels(labels.metric, "deciles", labels.segment,
                                          labels.analysis_basis, labels.window_index),
                                   branch, parameter=round(q, 1), point=point,
                                   lower=point * 0.95, upper=point * 1.05, ci_width=0.95))
        density, _ = np.histogram(values, bins=np.append(grid, 16), density=True)
        for x, y in zip(grid, density):
            out.append(make_record(Labels(labels.metric, "kernel_density_estimate",
                                          labels.segment, labels.analysis_basis,
                                          labels.window_index), branch, parameter=x, point=y))
        for x in grid:
            out.append(make_record(Labels(labels.metric, "empirical_cdf", labels.segment,
                                          labels.analysis_basis, labels.window_index),
                                   branch, parameter=x, point=float((values <= x).mean())))
    return out


def records(period: str, windows: range, seed: int = 0) -> list[StatisticRecord]:
    out: list[StatisticRecord] = []
    for window in windows:
        for segment in SEGMENTS:
            for basis in BASES:
                data = {b: _values(seed, b, segment, window, basis) for b in BRANCHES}
                labels = Labels("active_hours", "bootstrap_mean", segment, basis, str(window))
                mine = _mean_records(labels, data)
                mine += _mean_records(replace(labels, statistic="linear_model_mean"), data, 0.6)
                mine += _days_of_use(replace(labels, metric="days_of_use"))
                if period == "overall":
                    mine += _distribution_records(labels, data)
                empty = Labels("retained", "binomial", segment, basis, str(window))
                mine += [make_record(empty, b, point=None, n=0, state="empty_branch",
                                     reason="no client in this branch") for b in BRANCHES]
                out += adjust(mine, "holm")
    return out


def spec(slug: str = "demo-experiment") -> AnalysisSpec:
    source = DataSource("clients_daily", "mozdata.telemetry.clients_daily")
    stats = (StatisticSpec("bootstrap_mean"), StatisticSpec("linear_model_mean"),
             StatisticSpec("deciles", pre_treatments=(PreTreatmentSpec("log", {"base": 10}),)))
    metrics = (Metric("active_hours", "SUM(active_hours_sum)", source, stats,
                      friendly_name="Active hours", description="Hours with user activity"),
               Metric("days_of_use", "COUNT(DISTINCT submission_date)", source,
                      (StatisticSpec("bootstrap_mean"),), friendly_name="Days of use"),
               Metric("retained", "COUNT(*) > 0", source, (StatisticSpec("binomial"),),
                      friendly_name="Retained"))
    experiment = ExperimentSpec(
        slug=slug, normandy_slug=slug, app_name="firefox_desktop", app_id=None,
        start_date=dt.date(2024, 1, 1), end_date=dt.date(2024, 2, 15), enrollment_period=7,
        reference_branch="control", branches=(Branch("control", 0.5), Branch("treatment", 0.5)),
        outcomes=("networking",))
    segment = Segment("new_users", "COUNT(*) > 0", SegmentDataSource("clients_last_seen", "x"))
    return AnalysisSpec(experiment, "firefox_desktop", {"weekly": metrics, "overall": metrics},
                        segments=(segment,))


CONTEXT = MetadataContext(
    "Demo experiment", "https://experimenter.services.mozilla.com/nimbus/demo-experiment/summary",
    {"networking": {"slug": "networking", "friendly_name": "Networking",
                    "description": "Page loads and their speed", "metrics": ["active_hours"],
                    "default_metrics": []}},
    ("days_of_use", "retained"))


def write_export(directory: Path, slug: str = "demo-experiment", mismatch: bool = False) -> Path:
    metadata = build_metadata(
        spec(slug), dt.date(2024, 2, 16), commit="0123456789abcdef0123456789abcdef01234567",
        enrollment={"enrollments": {"control": 800, "treatment": 720 if mismatch else 805},
                    "exposures": {"control": 400, "treatment": 401}},
        sample_ratio={"enrollments": {"p_value": 0.04 if mismatch else 0.9, "mismatch": mismatch},
                      "exposures": {"p_value": 0.97, "mismatch": False}},
        context=CONTEXT)
    errors = [ErrorRecord("x", "2024-02-16", "statistics", "boom", "ValueError", "weekly", 2,
                          "retained", "binomial")] if mismatch else []
    export_experiment(DirectorySink(directory), slug,
                      {"overall": records("overall", range(1, 2)),
                       "weekly": records("weekly", range(1, 4))},
                      metadata, errors_list(errors))
    return directory


def write_failed(directory: Path, slug: str = "broken-exp") -> Path:
    """What a run that failed before any result writes: only its errors file."""
    error = ErrorRecord(slug, "2024-02-16", "runnable",
                        "no start date (neither configured nor in the registry)")
    export_errors(DirectorySink(directory), slug, errors_list([error]))
    return directory
