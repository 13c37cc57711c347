"""Pre-treatments applied to a per-client metric column before a statistic.

Declarations live in `PRETREATMENTS`; config names and parameters are upstream's.
"""
from __future__ import annotations

from types import MappingProxyType

from engine.plugins import Param, PluginDef

_DECLARATIONS = (
    PluginDef("remove_nulls", "Drop clients whose value is null"),
    PluginDef("remove_indefinites", "Drop clients whose value is null, NaN, +inf or -inf"),
    PluginDef("censor_highest_values", "Clip values above the given quantile",
              (Param("fraction", "number", 1 - 1e-5, "Quantile kept",
                     schema_extra=(("exclusiveMinimum", 0), ("maximum", 1))),)),
    PluginDef("censor_lowest_values", "Clip values below the given quantile",
              (Param("fraction", "number", 1e-5, "Quantile below which values are clipped",
                     schema_extra=(("minimum", 0), ("exclusiveMaximum", 1))),)),
    PluginDef("censor_values_below_threshold", "Clip values below a threshold",
              (Param("threshold", "number", None, "Lowest value kept", required=True),)),
    PluginDef("censor_values_above_threshold", "Clip values above a threshold",
              (Param("threshold", "number", None, "Highest value kept", required=True),)),
    PluginDef("normalize_over_analysis_period", "Divide by the number of days in the window"),
    PluginDef("log", "Logarithm of the value (natural unless base is given); log(1 + x)",
              (Param("base", "number", None, "Base of the logarithm",
                     schema_extra=(("exclusiveMinimum", 0),)),)),
    PluginDef("zero_fill", "Replace nulls by 0"),
)

PRETREATMENTS: MappingProxyType[str, PluginDef] = MappingProxyType({d.name: d for d in _DECLARATIONS})
