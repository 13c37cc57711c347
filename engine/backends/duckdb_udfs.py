"""DuckDB stand-ins for the BigQuery UDFs (`mozfun.*`) our definitions and the corpus use most.

Corpus counts (metric-hub): map.get_key 263, hist.extract 98, norm.fenix_build_to_datetime 24,
norm.extract_version 15, hist.merge 7, hist.percentiles 5, norm.os 4, map.extract_keyed_scalar_sum 3,
hist.threshold_count 2, norm.truncate_version 1. Provided here: map.get_key, hist.extract,
hist.threshold_count, norm.extract_version, norm.truncate_version, norm.os,
map.extract_keyed_scalar_sum, plus FARM_FINGERPRINT (a stable hash; values differ from BigQuery's).
`mozfun.a.b(...)` calls are renamed to the macro `mozfun_a_b(...)` in the syntax tree.
"""
from __future__ import annotations

from sqlglot import exp

# name -> constant macro definition (DuckDB SQL, no interpolation)
MACROS: dict[str, str] = {
    "mozfun_map_get_key": """CREATE TEMP MACRO mozfun_map_get_key(m, k) AS
        (list_filter(m, lambda x: x.key = k))[1].value""",
    "mozfun_map_extract_keyed_scalar_sum": """CREATE TEMP MACRO
        mozfun_map_extract_keyed_scalar_sum(m) AS list_sum(list_transform(m, lambda x: x.value))""",
    "mozfun_hist_extract": """CREATE TEMP MACRO mozfun_hist_extract(h) AS {
        'sum': CAST(json_extract_string(h, '$.sum') AS BIGINT),
        'values': list_transform(json_keys(h, '$.values'), lambda k: {
            'key': CAST(k AS BIGINT),
            'value': CAST(json_extract_string(json_extract(h, '$.values'), '$."' || k || '"') AS BIGINT)
        })}""",
    "mozfun_hist_threshold_count": """CREATE TEMP MACRO mozfun_hist_threshold_count(h, t) AS
        coalesce(list_sum(list_transform(
            list_filter(mozfun_hist_extract(h).values, lambda x: x.key >= t),
            lambda x: x.value)), 0)""",
    "mozfun_norm_truncate_version": """CREATE TEMP MACRO mozfun_norm_truncate_version(v, level) AS
        CASE level WHEN 'major' THEN regexp_extract(v, '^([0-9]+)', 1)
                   WHEN 'minor' THEN regexp_extract(v, '^([0-9]+\\.[0-9]+)', 1) END""",
    "mozfun_norm_extract_version": """CREATE TEMP MACRO mozfun_norm_extract_version(v, part) AS
        TRY_CAST(CASE part WHEN 'major' THEN regexp_extract(v, '^([0-9]+)', 1)
                           WHEN 'minor' THEN regexp_extract(v, '^[0-9]+\\.([0-9]+)', 1)
                           WHEN 'patch' THEN regexp_extract(v, '^[0-9]+\\.[0-9]+\\.([0-9]+)', 1)
                 END AS BIGINT)""",
    "mozfun_norm_os": """CREATE TEMP MACRO mozfun_norm_os(os) AS
        CASE WHEN os ILIKE 'windows%' OR os ILIKE 'WINNT%' THEN 'Windows'
             WHEN os ILIKE 'darwin%' OR os ILIKE 'mac%' THEN 'Mac'
             WHEN os ILIKE '%linux%' OR os ILIKE '%bsd%' THEN 'Linux'
             WHEN os ILIKE 'android%' THEN 'Android'
             WHEN os ILIKE 'ios%' THEN 'iOS'
             ELSE 'Other' END""",
    "farm_fingerprint": """CREATE TEMP MACRO farm_fingerprint(x) AS
        CAST(hash(x) >> 1 AS BIGINT)""",
}


def _dotted_parts(node: exp.Expression) -> list[str] | None:
    """['mozfun', 'map'] for the left side of `mozfun.map.get_key(...)`."""
    if isinstance(node, exp.Identifier):
        return [node.name]
    if isinstance(node, exp.Column) and not node.table:
        return [node.name]
    if isinstance(node, exp.Dot):
        left = _dotted_parts(node.this)
        right = node.expression
        if left is not None and isinstance(right, exp.Identifier):
            return left + [right.name]
    return None


def rename_udfs(node: exp.Expression) -> exp.Expression:
    """Tree transform: `mozfun.ns.fn(args)` -> `mozfun_ns_fn(args)`."""
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Anonymous):
        parts = _dotted_parts(node.this)
        if parts and parts[0].lower() == "mozfun":
            name = "_".join([p.lower() for p in parts] + [node.expression.name.lower()])
            return exp.Anonymous(this=name, expressions=node.expression.expressions)
    return node
