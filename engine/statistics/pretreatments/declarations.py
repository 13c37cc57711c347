"""Pre-treatments applied to a per-client metric column before a statistic.

Declarations (with their implementations) live in `PRETREATMENTS`; config names and
parameters are upstream's. `engine.statistics.pretreatments.apply.apply(series_or_frame, specs,
analysis_period_days)` runs them; this module imports no numpy, so the validator can read it.
Unlike upstream, zero_fill really fills: it sees the nulls unless remove_nulls ran first.
"""
from __future__ import annotations

from types import MappingProxyType

from engine.statistics.plugins import Param, PluginDef

_DECLARATIONS = (
    PluginDef("remove_nulls", "Drop clients whose value is null",
              implementation="engine.statistics.pretreatments.apply:remove_nulls"),
    PluginDef("remove_indefinites", "Drop clients whose value is null, NaN, +inf or -inf",
              implementation="engine.statistics.pretreatments.apply:remove_indefinites"),
    PluginDef("censor_highest_values", "Clip values above the given quantile",
              (Param("fraction", "number", 1 - 1e-5, "Quantile kept",
                     schema_extra=(("exclusiveMinimum", 0), ("maximum", 1))),),
              implementation="engine.statistics.pretreatments.apply:censor_highest"),
    PluginDef("censor_lowest_values", "Clip values below the given quantile",
              (Param("fraction", "number", 1e-5, "Quantile below which values are clipped",
                     schema_extra=(("minimum", 0), ("exclusiveMaximum", 1))),),
              implementation="engine.statistics.pretreatments.apply:censor_lowest"),
    PluginDef("censor_values_below_threshold", "Clip values below a threshold",
              (Param("threshold", "number", None, "Lowest value kept", required=True),),
              implementation="engine.statistics.pretreatments.apply:censor_below"),
    PluginDef("censor_values_above_threshold", "Clip values above a threshold",
              (Param("threshold", "number", None, "Highest value kept", required=True),),
              implementation="engine.statistics.pretreatments.apply:censor_above"),
    PluginDef("normalize_over_analysis_period", "Divide by the number of days in the window",
              implementation="engine.statistics.pretreatments.apply:normalize"),
    PluginDef("log", "Logarithm of the value (natural unless base is given); log(1 + x)",
              (Param("base", "number", None, "Base of the logarithm",
                     schema_extra=(("exclusiveMinimum", 0),)),),
              implementation="engine.statistics.pretreatments.apply:log"),
    PluginDef("zero_fill", "Replace nulls by 0", implementation="engine.statistics.pretreatments.apply:zero_fill"),
)

PRETREATMENTS: MappingProxyType[str, PluginDef] = MappingProxyType({d.name: d for d in _DECLARATIONS})

