"""Statistics of one per-client window table: every metric x statistic x segment, with errors.

Pure over a frame (one row per client: branch, one column per metric, one boolean column per
segment). A failing statistic becomes an `ErrorRecord` and the others go on.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd

from engine.config.spec import Metric, StatisticSpec
from engine.plan.analysis_plan import ALL_SEGMENT
from engine.results.metadata import ErrorRecord
from engine.statistics import StatisticRecord, compute
from engine.statistics.linear_model import COVARIATE_SUFFIX
from engine.statistics.multiple import adjust
from engine.statistics.pretreatments.apply import apply as apply_pretreatments


@dataclass(frozen=True)
class WindowInput:
    """One per-client table's frame and what it stands for."""

    slug: str
    analysis_date: str
    period: str
    window_index: int  # 1-based window number
    window_days: int
    basis: str
    frame: pd.DataFrame
    metrics: tuple[Metric, ...]
    segments: tuple[str, ...]  # configured segments (boolean columns); "all" is implicit
    reference_branch: str
    branches: tuple[str, ...]
    covariates: Mapping[str, pd.DataFrame] | None = None  # pre-enrollment period -> frame


def seed_for(*parts: str) -> int:
    """A seed that depends only on what is computed, so a rerun reproduces every number."""
    return zlib.crc32("/".join(parts).encode("utf-8"))


def _columns(metric: Metric, statistic: StatisticSpec) -> list[str]:
    if statistic.name == "population_ratio":
        return [str(statistic.params["numerator"]), str(statistic.params["denominator"])]
    return [metric.name]


# Config spellings of the covariate period (the statistic's declaration) -> our period names.
_COVARIATE_PERIODS = {"preenrollment_week": "preenrollment_weekly"}


class MissingCovariate(ValueError):
    """The pre-enrollment values are not computed (their period is not configured)."""


def _with_covariate(data: pd.DataFrame, frame: pd.DataFrame, metric: str,
                    statistic: StatisticSpec, covariates: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    adjustment = statistic.params.get("covariate_adjustment")
    if statistic.name != "linear_model_mean" or not adjustment:
        return data
    period = _COVARIATE_PERIODS.get(adjustment["period"], adjustment["period"])
    pre = covariates.get(period)
    if pre is None or metric not in pre.columns:
        raise MissingCovariate(f"no {period} values of {metric}: computed without the "
                               "covariate adjustment (configure the metric for that period)")
    values = pre.set_index("client_id")[metric]
    data = data.copy()
    data[metric + COVARIATE_SUFFIX] = frame.loc[data.index, "client_id"].map(values).to_numpy()
    return data


def _one(item: WindowInput, segment: str, rows: pd.DataFrame, metric: Metric,
         statistic: StatisticSpec, warnings: list[ErrorRecord]) -> list[StatisticRecord]:
    columns = _columns(metric, statistic)
    missing = [c for c in columns if c not in rows.columns]
    if missing:
        raise ValueError(f"per-client table has no column {', '.join(missing)}")
    data = rows[["branch", *columns]]
    if statistic.pre_treatments:
        data = apply_pretreatments(data, statistic.pre_treatments, item.window_days,
                                   columns=columns)
    params = dict(statistic.params)
    try:
        data = _with_covariate(data, rows, metric.name, statistic, item.covariates or {})
    except MissingCovariate as missing:
        params.pop("covariate_adjustment")
        warnings.append(_error(item, missing, segment=segment, metric=metric.name,
                               statistic=statistic.name, log_level="WARNING"))
    return compute(statistic.name, data, metric.name, item.reference_branch, params,
                   seed=seed_for(item.slug, metric.name, statistic.name, segment, item.basis,
                                 item.period, str(item.window_index)),
                   segment=segment, analysis_basis=item.basis,
                   window_index=str(item.window_index), branches=item.branches,
                   analysis_period_days=item.window_days)


def segment_rows(frame: pd.DataFrame, segment: str) -> pd.DataFrame:
    if segment == ALL_SEGMENT:
        return frame
    return frame[frame[segment].fillna(False).astype(bool)]


def window_statistics(item: WindowInput) -> tuple[list[StatisticRecord], list[ErrorRecord]]:
    """All records of one window table, p-values adjusted (Holm and BH) across its metrics."""
    records: list[StatisticRecord] = []
    errors: list[ErrorRecord] = []
    for segment in (ALL_SEGMENT, *item.segments):
        try:
            rows = segment_rows(item.frame, segment)
        except KeyError as error:
            errors.append(_error(item, error, segment=segment))
            continue
        for metric in item.metrics:
            for statistic in metric.statistics:
                try:
                    records += _one(item, segment, rows, metric, statistic, errors)
                except Exception as error:  # noqa: BLE001 - recorded, the others go on
                    errors.append(_error(item, error, segment=segment, metric=metric.name,
                                         statistic=statistic.name))
    return adjust(adjust(records, "holm"), "bh"), errors


def _error(item: WindowInput, error: BaseException, **where: Any) -> ErrorRecord:
    return ErrorRecord.from_exception(error, experiment=item.slug,
                                      analysis_date=item.analysis_date, stage="statistics",
                                      period=item.period, window_index=item.window_index,
                                      analysis_basis=item.basis, **where)
