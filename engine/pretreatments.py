"""Pre-treatments applied to a per-client metric column before a statistic.

Declarations (with their implementations) live in `PRETREATMENTS`; config names and
parameters are upstream's. `apply(series_or_frame, specs, analysis_period_days)` runs them
(implemented in engine/pretreatment_functions.py, imported on first use).
Unlike upstream, zero_fill really fills: it sees the nulls unless remove_nulls ran first.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any

from engine.plugins import Param, PluginDef

_DECLARATIONS = (
    PluginDef("remove_nulls", "Drop clients whose value is null",
              implementation="engine.pretreatment_functions:remove_nulls"),
    PluginDef("remove_indefinites", "Drop clients whose value is null, NaN, +inf or -inf",
              implementation="engine.pretreatment_functions:remove_indefinites"),
    PluginDef("censor_highest_values", "Clip values above the given quantile",
              (Param("fraction", "number", 1 - 1e-5, "Quantile kept",
                     schema_extra=(("exclusiveMinimum", 0), ("maximum", 1))),),
              implementation="engine.pretreatment_functions:censor_highest"),
    PluginDef("censor_lowest_values", "Clip values below the given quantile",
              (Param("fraction", "number", 1e-5, "Quantile below which values are clipped",
                     schema_extra=(("minimum", 0), ("exclusiveMaximum", 1))),),
              implementation="engine.pretreatment_functions:censor_lowest"),
    PluginDef("censor_values_below_threshold", "Clip values below a threshold",
              (Param("threshold", "number", None, "Lowest value kept", required=True),),
              implementation="engine.pretreatment_functions:censor_below"),
    PluginDef("censor_values_above_threshold", "Clip values above a threshold",
              (Param("threshold", "number", None, "Highest value kept", required=True),),
              implementation="engine.pretreatment_functions:censor_above"),
    PluginDef("normalize_over_analysis_period", "Divide by the number of days in the window",
              implementation="engine.pretreatment_functions:normalize"),
    PluginDef("log", "Logarithm of the value (natural unless base is given); log(1 + x)",
              (Param("base", "number", None, "Base of the logarithm",
                     schema_extra=(("exclusiveMinimum", 0),)),),
              implementation="engine.pretreatment_functions:log"),
    PluginDef("zero_fill", "Replace nulls by 0", implementation="engine.pretreatment_functions:zero_fill"),
)

PRETREATMENTS: MappingProxyType[str, PluginDef] = MappingProxyType({d.name: d for d in _DECLARATIONS})


def __getattr__(name: str) -> Any:
    if name != "apply":
        raise AttributeError(f"module 'engine.pretreatments' has no attribute {name!r}")
    from engine.pretreatment_functions import apply

    return apply
