"""Statistics of window tables: every metric x statistic x segment, with errors.

Every statistic is a generator of summary requests (engine.statistics.summaries); the
statistics of every window table run together in lock-step (engine.statistics.drive), so each
round is a few warehouse queries, whatever the number of windows, metrics and segments.
Client rows never reach this process. A failing statistic becomes an `ErrorRecord` and the
others go on.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Sequence

from engine.config.spec import Metric, StatisticSpec
from engine.plan.analysis_plan import ALL_SEGMENT
from engine.results.metadata import ErrorRecord
from engine.statistics.api import merged_params, statistic
from engine.statistics.context import COVARIATE_SUFFIX, Context
from engine.statistics.drive import Evaluate, drive, in_process, tagged
from engine.statistics.multiple import adjust
from engine.statistics.pretreatments.apply import treat
from engine.statistics.records import Labels, StatisticRecord
from engine.statistics.summaries import Column, RowSet, Statistic

# Config spellings of the covariate period (the statistic's declaration) -> our period names.
COVARIATE_PERIODS = {"preenrollment_week": "preenrollment_weekly",
                     "preenrollment_days28": "preenrollment_days28"}


def covariate_column(metric: str, period: str) -> str:
    """The joined column holding `metric`'s value in pre-enrollment `period`."""
    return f"{metric}{COVARIATE_SUFFIX}_{period}"


def covariates_wanted(metrics: tuple[Metric, ...]) -> set[tuple[str, str]]:
    """(metric, pre-enrollment period) of every covariate adjustment the metrics ask for."""
    wanted = set()
    for metric in metrics:
        for spec in metric.statistics:
            adjustment = spec.params.get("covariate_adjustment") or {}
            if spec.name == "linear_model_mean" and adjustment.get("period"):
                wanted.add((metric.name, COVARIATE_PERIODS.get(adjustment["period"],
                                                               adjustment["period"])))
    return wanted


@dataclass(frozen=True)
class WindowInput:
    """One window table and what it stands for; `columns` are those its rows have (metric,
    segment and joined covariate columns)."""

    slug: str
    analysis_date: str
    period: str
    window_index: int  # 1-based window number
    window_days: int
    basis: str
    metrics: tuple[Metric, ...]
    segments: tuple[str, ...]  # configured segments (boolean columns); "all" is implicit
    reference_branch: str
    branches: tuple[str, ...]
    columns: frozenset[str]
    rows: int = 0  # clients in the window table (a query budget, not a statistic)


def seed_for(*parts: str) -> int:
    """A seed that depends only on what is computed, so a rerun reproduces every number."""
    return zlib.crc32("/".join(parts).encode("utf-8"))


def _columns(metric: Metric, spec: StatisticSpec) -> list[str]:
    if spec.name == "population_ratio":
        return [str(spec.params["numerator"]), str(spec.params["denominator"])]
    return [metric.name]


def _one(item: WindowInput, segment: str, metric: Metric, spec: StatisticSpec,
         warnings: list[ErrorRecord]) -> Statistic:
    """One statistic of one metric and segment, pre-treatments first."""
    missing = [c for c in _columns(metric, spec) if c not in item.columns]
    if missing:
        raise ValueError(f"per-client table has no column {', '.join(missing)}")
    params = merged_params(spec.name, spec.params)
    rows, treated = RowSet(segment), {}
    if spec.pre_treatments:
        rows, treated = yield from treat(rows, _columns(metric, spec), spec.pre_treatments,
                                         item.window_days)
    covariate = None
    adjustment = params.get("covariate_adjustment")
    if spec.name == "linear_model_mean" and adjustment:
        period = COVARIATE_PERIODS.get(adjustment["period"], adjustment["period"])
        name = covariate_column(metric.name, period)
        if name in item.columns:
            covariate = Column(name)
        else:
            params.pop("covariate_adjustment")
            warnings.append(_error(item, ValueError(
                f"no {period} values of {metric.name}: computed without the covariate "
                "adjustment (configure the metric for that period)"), segment=segment,
                metric=metric.name, statistic=spec.name, log_level="WARNING"))
    ctx = Context(metric=metric.name, reference_branch=item.reference_branch,
                  labels=Labels(metric.name, spec.name, segment, item.basis,
                                str(item.window_index)),
                  branches=item.branches, rows=rows, columns=treated, params=params,
                  seed=seed_for(item.slug, metric.name, spec.name, segment, item.basis,
                                item.period, str(item.window_index)),
                  analysis_period_days=item.window_days, covariate=covariate)
    return (yield from statistic(spec.name, ctx))


def window_statistics(items: Sequence[WindowInput], evaluate: Evaluate,
                      local: Evaluate = in_process
                      ) -> list[tuple[list[StatisticRecord], list[ErrorRecord]]]:
    """All records of each window table, p-values adjusted (Holm and BH) across its
    metrics, in one drive: each round asks the warehouse about every window at once.
    `evaluate` answers requests `Tagged` by the window's position in `items`, `local` the
    replicate draws."""
    errors: list[list[ErrorRecord]] = [[] for _ in items]
    jobs: list[tuple[int, dict[str, Any], Statistic]] = []
    for key, item in enumerate(items):
        for segment in (ALL_SEGMENT, *item.segments):
            if segment != ALL_SEGMENT and segment not in item.columns:
                errors[key].append(_error(item, KeyError(segment), segment=segment))
                continue
            for metric in item.metrics:
                for spec in metric.statistics:
                    where = {"segment": segment, "metric": metric.name, "statistic": spec.name}
                    job = tagged(key, _one(item, segment, metric, spec, errors[key]))
                    jobs.append((key, where, job))
    records: list[list[StatisticRecord]] = [[] for _ in items]
    for (key, where, _), result in zip(jobs, drive([job for _, _, job in jobs], evaluate,
                                                    local)):
        if isinstance(result, BaseException):
            errors[key].append(_error(items[key], result, **where))
        else:
            records[key] += result
    return [(adjust(adjust(mine, "holm"), "bh"), errors[key])
            for key, mine in enumerate(records)]


def _error(item: WindowInput, error: BaseException, **where: Any) -> ErrorRecord:
    return ErrorRecord.from_exception(error, experiment=item.slug,
                                      analysis_date=item.analysis_date, stage="statistics",
                                      period=item.period, window_index=item.window_index,
                                      analysis_basis=item.basis, **where)

