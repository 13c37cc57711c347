"""Pre-treatment implementations and `apply()`; the declarations live in `declarations.py`."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from engine.statistics.pretreatments.declarations import PRETREATMENTS

# Implementations: each maps a float Series to a (possibly shorter) Series, index labels kept.


def remove_nulls(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    return s[s.notna()]


def remove_indefinites(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    return s[np.isfinite(s.to_numpy(dtype=float, na_value=np.nan))]


def censor_highest(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    return s.clip(upper=s.quantile(float(params["fraction"])))


def censor_lowest(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    return s.clip(lower=s.quantile(float(params["fraction"])))


def censor_below(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    return s.clip(lower=float(params["threshold"]))


def censor_above(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    return s.clip(upper=float(params["threshold"]))


def normalize(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    if not days:
        raise ValueError("normalize_over_analysis_period needs the analysis period's length")
    return s / float(days)


def log(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    base = params.get("base")
    out = np.log1p(s)
    return out / np.log(float(base)) if base else out


def zero_fill(s: pd.Series, params: Mapping[str, Any], days: int | None) -> pd.Series:
    return s.fillna(0.0)



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
        s = definition.load()(s, {**definition.defaults(), **dict(spec.params)}, days)
    return s
