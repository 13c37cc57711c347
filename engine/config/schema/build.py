"""Build the JSON Schemas (2020-12) of every config file kind.

The checked-in `schemas/*.json` are this module's output (`jetstream schemas` regenerates them;
a test asserts they are equal). Statistic and pre-treatment names and parameters come from the
plug-in registries, so there is no second hand-kept list.

Every table is closed (`additionalProperties: false`) except maps keyed by user slugs. Two
annotation keywords, ignored by editors, steer `engine.config.schema.structure`:
`x-unknown` (code and severity of an unknown key in that table; default: warning `unknown-key`,
because upstream silently ignores such keys; `typo`: the severity of a close misspelling of a
known key there) and `x-code` (code for a bad value at that node).
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from engine.config.spec import PERIOD_ALIASES, PERIODS
from engine.statistics.plugins import PluginDef
from engine.statistics.pretreatments.declarations import PRETREATMENTS
from engine.statistics.registry import STATISTICS

SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE_URL = "https://jetstream-config.invalid/schemas/"
KINDS = ("experiment", "outcome", "defaults", "definitions", "functions")

PERIOD_KEYS = PERIODS + tuple(PERIOD_ALIASES)
EXPERIMENTS_COLUMN_TYPES = ("simple", "native", "glean", "events_stream", "none")
ANALYSIS_BASES = ("enrollments", "exposures")
ANALYSIS_UNITS = ("client_id", "profile_group_id")
EXPOSURE_WINDOW_LIMITS = (
    "analysis_window_start", "analysis_window_end", "enrollment_start", "enrollment_end",
)
JOIN_RELATIONSHIPS = ("one_to_one", "one_to_many", "many_to_one", "many_to_many")

_ERROR_UNKNOWN = {"code": "unknown-parameter", "severity": "error"}
# Where a misspelled key silently drops a setting that changes the analysis (`segmnets`,
# `reference_brach`, `[metric]`, `[experimnet]`), a close misspelling is an error; other unknown
# keys there, and known harmless misplacements, stay warnings.
_TYPO_IS_ERROR = {"typo": "error"}
# How enrollments are read (upstream's enrollments_query_type; `enrollment_query` overrides it)
ENROLLMENTS_QUERY_TYPES = ("normandy", "glean-event", "cirrus", "fenix-fallback")

Schema = dict[str, Any]


def _str(description: str = "") -> Schema:
    return {"type": "string", **({"description": description} if description else {})}


def _bool(description: str = "") -> Schema:
    return {"type": "boolean", **({"description": description} if description else {})}


def _str_list(description: str = "", enum: tuple[str, ...] | None = None) -> Schema:
    items: Schema = {"type": "string", **({"enum": list(enum)} if enum else {})}
    return {"type": "array", "items": items, **({"description": description} if description else {})}


def _table(title: str, properties: dict[str, Schema], required: tuple[str, ...] = (),
           unknown: dict[str, str] | None = None) -> Schema:
    schema: Schema = {"type": "object", "title": title, "properties": properties,
                      "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    if unknown:
        schema["x-unknown"] = unknown
    return schema


def _slug_map(title: str, value_ref: str) -> Schema:
    """A table keyed by user slugs; every value follows `value_ref`."""
    return {"type": "object", "title": title, "additionalProperties": {"$ref": value_ref}}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


# ---- plug-ins (statistics, pre-treatments) -------------------------------------------------

def _plugin_params(plugin: PluginDef, title: str) -> Schema:
    schema = plugin.params_schema()
    schema["title"] = title
    schema["x-unknown"] = dict(_ERROR_UNKNOWN)
    if not schema["required"]:
        del schema["required"]
    return schema


def pre_treatment_schema() -> Schema:
    """An entry of `pre_treatments`: a name, or a table `{name = "...", <params>}`."""
    names = sorted(PRETREATMENTS)
    by_name = []
    for name in names:
        params = _plugin_params(PRETREATMENTS[name], f"pre-treatment {name}")
        params["properties"] = {"name": {"const": name}, **params["properties"]}
        by_name.append({"if": {"type": "object", "required": ["name"], "properties": {"name": {"const": name}}},
                        "then": params})
    return {
        "type": ["string", "object"],
        "description": "A pre-treatment name, or a table with `name` and its parameters",
        "if": {"type": "string"},
        "then": {"enum": names, "x-code": "unknown-pre-treatment"},
        "else": {
            "required": ["name"],
            "properties": {"name": {"type": "string", "enum": names,
                                    "x-code": "unknown-pre-treatment"}},
            "allOf": by_name,
        },
    }


def statistics_schema() -> Schema:
    properties = {}
    for name in sorted(STATISTICS):
        params = _plugin_params(STATISTICS[name], f"[metrics.<slug>.statistics.{name}]")
        params["properties"]["pre_treatments"] = {
            "type": "array", "description": "Applied to the metric column before the statistic",
            "items": _ref("pre_treatment")}
        properties[name] = params
    return _table("[metrics.<slug>.statistics]", properties,
                  unknown={"code": "unknown-statistic", "severity": "error"})


# ---- shared tables -------------------------------------------------------------------------

def _data_source() -> Schema:
    return _table("[data_sources.<slug>]", {
        "from_expression": _str("Table name or sub-query (BigQuery SQL); may use {dataset}"),
        "experiments_column_type": {"type": "string", "enum": list(EXPERIMENTS_COLUMN_TYPES)},
        "client_id_column": _str(),
        "submission_date_column": _str(),
        "group_id_column": _str(),
        "default_dataset": _str("Value of {dataset} in from_expression"),
        "build_id_column": _str(),
        "glean_client_id_column": _str(),
        "legacy_client_id_column": _str(),
        "analysis_units": _str_list("Analysis units the source supports", ANALYSIS_UNITS),
        "friendly_name": _str(),
        "description": _str(),
        "deprecated": _bool(),
        "columns_as_dimensions": _bool(),
        "joins": {"type": "object", "title": "[data_sources.<slug>.joins]",
                  "additionalProperties": _table("[data_sources.<slug>.joins.<slug>]", {
                      "on_expression": _str(),
                      "relationship": {"type": "string", "enum": list(JOIN_RELATIONSHIPS)},
                  })},
    })


def _metric() -> Schema:
    return _table("[metrics.<slug>]", {
        "select_expression": _str("Aggregate SQL expression per client (Jinja template)"),
        "data_source": _str("Slug of a data source"),
        "friendly_name": _str(),
        "description": _str(),
        "bigger_is_better": _bool(),
        "analysis_bases": _str_list("", ANALYSIS_BASES),
        "analysis_units": _str_list("", ANALYSIS_UNITS),
        "type": _str(),
        "category": _str(),
        "depends_on": _str_list("Metric slugs this metric is computed from"),
        "owner": {"type": ["string", "array"], "items": {"type": "string"}},
        "deprecated": _bool(),
        "level": {"type": "string", "enum": ["gold", "silver", "bronze"]},
        "statistics": _ref("statistics"),
    })


def _segment() -> Schema:
    return _table("[segments.<slug>]", {
        "data_source": _str("Slug of a segment data source"),
        "select_expression": _str("Aggregate SQL expression returning a boolean per client"),
        "friendly_name": _str(),
        "description": _str(),
    }, required=("data_source", "select_expression"))


def _segment_data_source() -> Schema:
    return _table("[segments.data_sources.<slug>]", {
        "from_expression": _str(),
        "window_start": {"type": "integer", "description": "Days relative to enrollment"},
        "window_end": {"type": "integer", "description": "Days relative to enrollment"},
        "client_id_column": _str(),
        "submission_date_column": _str(),
        "group_id_column": _str(),
        "default_dataset": _str(),
    }, required=("from_expression",))


def _segments() -> Schema:
    return {"type": "object", "title": "[segments]",
            "properties": {"data_sources": _slug_map("[segments.data_sources]",
                                                     "#/$defs/segment_data_source")},
            "additionalProperties": _ref("segment")}


def _parameter() -> Schema:
    value = {"type": ["string", "number", "boolean", "object"],
             "additionalProperties": {"type": ["string", "number", "boolean"]}}
    return _table("[parameters.<slug>]", {
        "friendly_name": _str(),
        "description": _str(),
        "value": value,
        "default": value,
        "distinct_by_branch": _bool("Value is a table branch -> value, rendered as CASE"),
    })


def _window_limit() -> Schema:
    return {"type": ["integer", "string"],
            "if": {"type": "string"}, "then": {"enum": list(EXPOSURE_WINDOW_LIMITS)}}


def _experiment_section() -> Schema:
    return _table("[experiment]", {
        "enrollment_query": _str("SQL (Jinja) selecting enrolled clients"),
        "enrollment_period": {"type": "integer", "description": "Days"},
        "reference_branch": _str(),
        "start_date": {"type": "string", "format": "date", "description": "YYYY-MM-DD"},
        "end_date": {"type": "string", "format": "date", "description": "YYYY-MM-DD"},
        "segments": _str_list("Segment slugs"),
        "outcomes": _str_list("Outcome slugs"),
        "skip": _bool("Do not analyse this experiment"),
        "is_private": _bool(),
        "dataset_id": _str(),
        "sample_size": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
        "analysis_unit": {"type": "string", "enum": list(ANALYSIS_UNITS)},
        "enrollments_query_type": {"type": "string", "enum": list(ENROLLMENTS_QUERY_TYPES),
                                   "description": "Enrollment events to read (default: the "
                                                  "platform's: normandy on desktop, else glean-event)"},
        "exposure_signal": _table("[experiment.exposure_signal]", {
            "name": _str(), "data_source": _str(), "select_expression": _str(),
            "friendly_name": _str(), "description": _str(),
            "window_start": _window_limit(), "window_end": _window_limit(),
        }, required=("name", "data_source", "select_expression", "friendly_name", "description")),
    }, unknown=_TYPO_IS_ERROR)


def _metrics_section(with_periods: bool) -> Schema:
    periods = {p: _str_list(f"Metric slugs analysed per {p} window") for p in PERIOD_KEYS}
    return {"type": "object", "title": "[metrics]",
            "properties": periods if with_periods else {},
            "additionalProperties": _ref("metric")}


def _defs() -> dict[str, Schema]:
    return {
        "statistics": statistics_schema(),
        "pre_treatment": pre_treatment_schema(),
        "metric": _metric(),
        "data_source": _data_source(),
        "segment": _segment(),
        "segment_data_source": _segment_data_source(),
        "parameter": _parameter(),
    }


def _document(kind: str, title: str, properties: dict[str, Schema],
              required: tuple[str, ...] = (), unknown: dict[str, str] | None = None) -> Schema:
    body = _table(title, properties, required, unknown)
    return {"$schema": SCHEMA_DRAFT, "$id": f"{SCHEMA_BASE_URL}{kind}.json", **body,
            "$defs": _defs()}


def _data_sources(require_from: bool) -> Schema:
    entry: Schema = _ref("data_source")
    if require_from:
        entry = {"allOf": [entry], "required": ["from_expression"]}
    return {"type": "object", "title": "[data_sources]", "additionalProperties": entry}


def _parameters() -> Schema:
    return _slug_map("[parameters]", "#/$defs/parameter")


def build_schema(kind: str) -> Schema:
    """The JSON Schema of one file kind (see KINDS)."""
    if kind == "experiment":
        return _document(kind, "experiment config", {
            "experiment": _experiment_section(), "metrics": _metrics_section(True),
            "data_sources": _data_sources(False), "segments": _segments(),
            "parameters": _parameters()}, unknown=_TYPO_IS_ERROR)
    if kind == "outcome":
        return _document(kind, "outcome", {
            "friendly_name": _str(), "description": _str(),
            "metrics": _metrics_section(False), "default_metrics": _str_list(),
            "data_sources": _data_sources(False), "parameters": _parameters()},
            required=("friendly_name", "description"))
    if kind == "defaults":
        return _document(kind, "platform defaults", {
            "metrics": _metrics_section(True), "data_sources": _data_sources(False),
            "segments": _segments(), "parameters": _parameters()})
    if kind == "definitions":
        return _document(kind, "definitions", {
            "metrics": _metrics_section(False), "data_sources": _data_sources(True),
            "segments": _segments(), "parameters": _parameters(),
            "dimensions": _slug_map("[dimensions]", "#/$defs/dimension")}) | {
            "$defs": {**_defs(), "dimension": _table("[dimensions.<slug>]", {
                "data_source": _str(), "select_expression": _str(),
                "friendly_name": _str(), "description": _str()},
                required=("data_source", "select_expression"))}}
    if kind == "functions":
        schema = _document(kind, "functions", {
            "functions": _slug_map("[functions]", "#/$defs/function")})
        schema["$defs"] = {"function": _table("[functions.<slug>]", {
            "definition": _str("SQL with {select_expr} placeholder"),
            "friendly_name": _str(), "description": _str()}, required=("definition",))}
        return schema
    raise ValueError(f"unknown config kind {kind!r}; expected one of {', '.join(KINDS)}")


@lru_cache(maxsize=None)
def schema_json(kind: str) -> str:
    """Canonical text of a schema file (what `schemas/<kind>.json` holds)."""
    return json.dumps(build_schema(kind), indent=2, sort_keys=False) + "\n"


@lru_cache(maxsize=None)
def cached_schema(kind: str) -> Schema:
    return json.loads(schema_json(kind))
