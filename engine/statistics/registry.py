"""The one registry of statistics: config name -> declaration (parameters) + implementation.

The JSON Schemas (schemas/*.json), the validator's messages and `compute()` all read these
declarations; there is no second list anywhere.
"""
from __future__ import annotations

from types import MappingProxyType

from engine.statistics.plugins import Param, PluginDef

_CI = Param("confidence_interval", "number", 0.95, "Two-sided confidence level of intervals",
            schema_extra=(("exclusiveMinimum", 0), ("exclusiveMaximum", 1)))
_NUM_SAMPLES = Param("num_samples", "integer", 10000, "Bootstrap replicates",
                     schema_extra=(("minimum", 1),))
_DROP_HIGHEST_TEXT = ("Values above the (1 - drop_highest) quantile of the metric over all "
                      "branches together are clipped to it (one pooled threshold; rounded up "
                      "for integer data)")
_DROP_HIGHEST = Param("drop_highest", "number", 0.005, _DROP_HIGHEST_TEXT,
                      schema_extra=(("minimum", 0), ("exclusiveMaximum", 1)))
_SEQUENTIAL = Param("sequential", "boolean", False,
                    "Always-valid interval, safe to look at daily without inflating false positives")
_SEQUENTIAL_TUNING = Param("sequential_tuning", "number", 10000,
                           "Clients (all compared branches together) at which the always-valid "
                           "interval is tightest; fix it before looking at the data",
                           schema_extra=(("exclusiveMinimum", 0),))
_LOG_SPACE = Param("log_space", "boolean", False, "Evaluate on a logarithmic grid")
_GRID_SIZE = Param("grid_size", "integer", 256, "Number of grid points", schema_extra=(("minimum", 2),))
_PERIOD_NAMES = ("preenrollment_week", "preenrollment_days28")

_DECLARATIONS = (
    PluginDef("bootstrap_mean", "Mean per branch with (Bayesian) bootstrap intervals",
              (_NUM_SAMPLES, _DROP_HIGHEST, _CI, _SEQUENTIAL, _SEQUENTIAL_TUNING,
               Param("exact", "boolean", False,
                     "Resample every client (slow, for parity) instead of the binned scheme")),
              implementation="engine.statistics.bootstrap:bootstrap_mean"),
    PluginDef("binomial", "Proportion of clients with a true value (Beta posterior)",
              (_CI, _SEQUENTIAL, _SEQUENTIAL_TUNING,
               Param("num_samples", "integer", 10000, "Posterior draws for comparisons",
                     schema_extra=(("minimum", 1),))),
              implementation="engine.statistics.binomial:binomial"),
    PluginDef("deciles", "Deciles per branch (inverse-CDF quantiles) with order-statistic "
              "intervals; comparisons by Bayesian bootstrap of the deciles",
              (_CI, Param("num_samples", "integer", 10000, "Bootstrap replicates of comparisons",
                          schema_extra=(("minimum", 1),))),
              implementation="engine.statistics.quantiles:deciles"),
    PluginDef("kernel_density_estimate", "Kernel density estimate per branch",
              (Param("bandwidth", "string", "normal_reference", "Bandwidth rule",
                     enum=("normal_reference", "scott", "silverman")),
               Param("adjust", "number", 1.0, "Multiplier of the bandwidth",
                     schema_extra=(("exclusiveMinimum", 0),)),
               Param("kernel", "string", "gau", "Kernel", enum=("gau",)),
               _LOG_SPACE, _GRID_SIZE),
              implementation="engine.statistics.density:kernel_density_estimate"),
    PluginDef("empirical_cdf", "Empirical cumulative distribution per branch",
              (_LOG_SPACE, _GRID_SIZE), implementation="engine.statistics.density:empirical_cdf"),
    PluginDef("count", "Number of clients per branch", (), implementation="engine.statistics.counts:count"),
    PluginDef("sum", "Sum of the metric per branch", (), implementation="engine.statistics.counts:sum_"),
    PluginDef("linear_model_mean", "Mean by OLS, optionally adjusted for a pre-enrollment "
              "covariate; heteroskedasticity-robust (HC2) errors",
              (_DROP_HIGHEST, _CI, _SEQUENTIAL, _SEQUENTIAL_TUNING,
               Param("covariate_adjustment", "object", None,
                     "Pre-enrollment period whose value of the same metric is the covariate",
                     schema_extra=(("properties", {"period": {"type": "string",
                                                              "enum": list(_PERIOD_NAMES)}}),
                                   ("required", ["period"]),
                                   ("additionalProperties", False)))),
              implementation="engine.statistics.linear_model:linear_model_mean"),
    PluginDef("per_client_dau_impact",
              "DAU gained over the window if the branch were deployed to the enrolled "
              "population: the linear-model difference of means times the enrolled clients; "
              "relative uplift unscaled; no per-branch records (as upstream)",
              (Param("drop_highest", "number", 0.0, _DROP_HIGHEST_TEXT,
                     schema_extra=(("minimum", 0), ("exclusiveMaximum", 1))), _CI),
              implementation="engine.statistics.dau:per_client_dau_impact"),
    PluginDef("population_ratio", "Ratio of two metrics' sums over the population",
              (Param("numerator", "string", None, "Metric slug of the numerator", required=True),
               Param("denominator", "string", None, "Metric slug of the denominator", required=True),
               _NUM_SAMPLES, _DROP_HIGHEST, _CI),
              implementation="engine.statistics.population_ratio:population_ratio"),
)

STATISTICS: MappingProxyType[str, PluginDef] = MappingProxyType({d.name: d for d in _DECLARATIONS})
