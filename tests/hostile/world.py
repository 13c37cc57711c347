"""A config root (our layout) with one experiment carrying a hostile fragment, a small DuckDB
telemetry file its queries bind against, and a secret outside the tree that must never leak."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb

SECRET = "s3cr3t-outside-the-tree"
CLIENT_IDS = ("client-aaaa-1111", "client-bbbb-2222")

DEFINITIONS = """
[data_sources.clients_daily]
from_expression = "mozdata.telemetry.clients_daily"
experiments_column_type = "none"
"""

DEFAULTS = "[metrics]\nweekly = []\n"

FUNCTIONS = '[functions.agg_sum]\ndefinition = "COALESCE(SUM({select_expr}), 0)"\n'


def experiment(select: str = "SUM(clicks)", enrollment: str | None = None,
               source: str = "mozdata.telemetry.clients_daily", extra: str = "") -> str:
    """A valid experiment config with `select` as its metric's select_expression (json.dumps
    gives a valid TOML basic string for any text)."""
    query = f"enrollment_query = {json.dumps(enrollment)}\n" if enrollment is not None else ""
    return (f'[experiment]\nstart_date = "2024-01-02"\nend_date = "2024-02-01"\n'
            f"enrollment_period = 7\n{query}{extra}\n"
            f'[metrics]\nweekly = ["m"]\n\n[metrics.m]\nselect_expression = {json.dumps(select)}\n'
            f'data_source = "events"\n\n[metrics.m.statistics.bootstrap_mean]\n\n'
            f"[data_sources.events]\nfrom_expression = {json.dumps(source)}\n"
            f'experiments_column_type = "none"\n')


def write_root(root: Path, files: dict[str, str | bytes]) -> Path:
    base = {"engine/definitions/firefox_desktop.toml": DEFINITIONS,
            "engine/definitions/functions.toml": FUNCTIONS,
            "engine/defaults/firefox_desktop.toml": DEFAULTS}
    for name, content in {**base, **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    (root.parent / "secret.toml").write_text(f'secret = "{SECRET}"\n[experiment]\nx = "{SECRET}"\n')
    return root


def telemetry(path: Path) -> Path:
    """Desktop enrollment events and a clients_daily table with two client ids."""
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA telemetry")
    con.execute("""CREATE TABLE telemetry.events AS SELECT * FROM (VALUES
        ('client-aaaa-1111', [{'key': 'branch', 'value': 'control'}], DATE '2024-01-03',
         'normandy', 'enroll', 'exp'),
        ('client-bbbb-2222', [{'key': 'branch', 'value': 'treatment'}], DATE '2024-01-03',
         'normandy', 'enroll', 'exp'))
        t(client_id, event_map_values, submission_date, event_category, event_method,
          event_string_value)""")
    con.execute("""CREATE TABLE telemetry.clients_daily AS SELECT * FROM (VALUES
        ('client-aaaa-1111', DATE '2024-01-04', 3), ('client-bbbb-2222', DATE '2024-01-04', 5))
        t(client_id, submission_date, clicks)""")
    con.close()
    return path
