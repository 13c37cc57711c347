"""A tiny config root in our layout, written to tmp_path, shared by the resolution tests."""
from __future__ import annotations

from pathlib import Path

DEFINITIONS = '''
[metrics.active_hours]
select_expression = '{{agg_sum("active_hours_sum")}}'
data_source = "clients_daily"
friendly_name = "Active hours"
statistics = { bootstrap_mean = {} }

[metrics.search_count]
select_expression = "SUM(search_count)"
data_source = "clients_daily"

[metrics.search_with_ads]
select_expression = "SUM(ads)"
data_source = "clients_daily"

[metrics.uri_count]
select_expression = "SUM(uris)"
data_source = "clients_daily"
bigger_is_better = true

[data_sources.clients_daily]
from_expression = "mozdata.telemetry.clients_daily"
experiments_column_type = "native"

[data_sources.baseline]
from_expression = "`moz-fx-data-shared-prod.{dataset}.baseline`"
default_dataset = "org_mozilla_firefox"

[segments.heavy]
select_expression = "LOGICAL_OR(heavy)"
data_source = "clients_last_seen"

[segments.data_sources.clients_last_seen]
from_expression = "mozdata.telemetry.clients_last_seen"
window_start = -7
'''

FUNCTIONS = '''
[functions.agg_sum]
definition = "COALESCE(SUM({select_expr}), 0)"
'''

DEFAULTS = '''
[metrics]
weekly = ["active_hours"]
overall = ["active_hours", "uri_count"]

[metrics.uri_count.statistics.deciles]
[metrics.active_hours.statistics.deciles]
'''

OUTCOME = '''
friendly_name = "Search"
description = "Search metrics"

[metrics.searches_per_hour]
select_expression = "SAFE_DIVIDE(SUM(search_count), SUM(active_hours_sum))"
data_source = "clients_daily"
statistics = { bootstrap_mean = {} }
'''


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def mini_root(tmp_path: Path, experiments: dict[str, str] | None = None) -> Path:
    """Our layout with definitions, defaults and one outcome for firefox_desktop."""
    files = {
        "engine/definitions/firefox_desktop.toml": DEFINITIONS,
        "engine/definitions/functions.toml": FUNCTIONS,
        "engine/defaults/firefox_desktop.toml": DEFAULTS,
        "outcomes/firefox_desktop/search.toml": OUTCOME,
    }
    files.update({f"experiments/{slug}.toml": text for slug, text in (experiments or {}).items()})
    return write(tmp_path, files)
