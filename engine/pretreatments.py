"""Pre-treatments applied to a per-client metric column before a statistic.

Declarations (with their implementations) live in `PRETREATMENTS`; config names and
parameters are upstream's. `apply(series_or_frame, specs, analysis_period_days)` runs them.
Unlike upstream, zero_fill really fills: it sees the nulls unless remove_nulls ran first.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from engine.plugins import Param, PluginDef

# Implementations: each maps a float Series to a (possibly shorter) Series, index labels kept.


def _remove_nulls(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    return s[s.notna()]


def _remove_indefinites(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    return s[np.isfinite(s.to_numpy(dtype=float, na_value=np.nan))]


def _censor_highest(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    return s.clip(upper=s.quantile(float(params["fraction"])))


def _censor_lowest(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    return s.clip(lower=s.quantile(float(params["fraction"])))


def _censor_below(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    return s.clip(lower=float(params["threshold"]))


def _censor_above(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    return s.clip(upper=float(params["threshold"]))


def _normalize(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    if not days:
        raise ValueError("normalize_over_analysis_period needs the analysis period's length")
    return s / float(days)


def _log(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    base = params.get("base")
    out = np.log1p(s)
    return out / np.log(float(base)) if base else out


def _zero_fill(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    return s.fillna(0.0)


_DECLARATIONS = (
    PluginDef("remove_nulls", "Drop clients whose value is null", implementation=_remove_nulls),
    PluginDef("remove_indefinites", "Drop clients whose value is null, NaN, +inf or -inf",
              implementation=_remove_indefinites),
    PluginDef("censor_highest_values", "Clip values above the given quantile",
              (Param("fraction", "number", 1 - 1e-5, "Quantile kept",
                     schema_extra=(("exclusiveMinimum", 0), ("maximum", 1))),),
              implementation=_censor_highest),
    PluginDef("censor_lowest_values", "Clip values below the given quantile",
              (Param("fraction", "number", 1e-5, "Quantile below which values are clipped",
                     schema_extra=(("minimum", 0), ("exclusiveMaximum", 1))),),
              implementation=_censor_lowest),
    PluginDef("censor_values_below_threshold", "Clip values below a threshold",
              (Param("threshold", "number", None, "Lowest value kept", required=True),),
              implementation=_censor_below),
    PluginDef("censor_values_above_threshold", "Clip values above a threshold",
              (Param("threshold", "number", None, "Highest value kept", required=True),),
              implementation=_censor_above),
    PluginDef("normalize_over_analysis_period", "Divide by the number of days in the window",
              implementation=_normalize),
    PluginDef("log", "Logarithm of the value (natural unless base is given); log(1 + x)",
              (Param("base", "number", None, "Base of the logarithm",
                     schema_extra=(("exclusiveMinimum", 0),)),),
              implementation=_log),
    PluginDef("zero_fill", "Replace nulls by 0", implementation=_zero_fill),
)

PRETREATMENTS: MappingProxyType[str, PluginDef] = MappingProxyType({d.name: d for d in _DECLARATIONS})


def apply(data: pd.Series | pd.DataFrame, specs: Sequence[Any],
          analysis_period_days: int | None = None, *,
          columns: Sequence[str] | None = None) -> pd.Series | pd.DataFrame:
    """Apply pre-treatments in order (each spec has .name and .params, e.g. PreTreatmentSpec).

    A Series is treated as one metric. For a DataFrame the treatments apply to `columns`
    (default: every column except "branch"), and a row dropped from one treated column is
    dropped from the whole frame, so clients stay aligned across columns. Quantiles are
    taken over all branches together, as upstream.
    """
    if isinstance(data, pd.Series):
        return _apply_series(data.astype(float), specs, analysis_period_days)
    names = list(columns) if columns is not None else [c for c in data.columns if c != "branch"]
    frame = data.copy()
    for name in names:
        positional = frame[name].reset_index(drop=True).astype(float)
        treated = _apply_series(positional, specs, analysis_period_days)
        frame = frame.iloc[treated.index.to_numpy()].copy()
        frame[name] = treated.to_numpy()
    return frame


def _apply_series(s: pd.Series, specs: Sequence[Any], days: int | None) -> pd.Series:
    for spec in specs:
        definition = PRETREATMENTS.get(spec.name)
        if definition is None:
            raise ValueError(f"unknown pre-treatment {spec.name!r}")
        s = definition.implementation(s, {**definition.defaults(), **dict(spec.params)}, days)
    return s
