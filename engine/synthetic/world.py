"""Synthetic telemetry with planted effects, for the demo, tests and benchmarks.

`generate(db_path, clients, days, seed)` writes a DuckDB file whose tables mirror the real
BigQuery tables our definitions (engine/definitions/*.toml) read, and returns a
`SyntheticWorld` holding the ground truth computed in Python from the same draws.

Naming: BigQuery `project.dataset.table` (or `dataset.table`) lives in DuckDB as schema
`dataset`, table `table`.

Contract with the enrollment/exposure SQL (engine/sql/):
- Desktop, `telemetry.events`: client_id VARCHAR, submission_date DATE, event_category
  ('normandy'), event_method ('enroll' | 'expose' | 'unenroll'), event_object
  ('nimbus_experiment'), event_string_value (experiment slug), event_map_values
  LIST<STRUCT(key VARCHAR, value VARCHAR)> with key 'branch' (unenroll events also 'reason').
  About 10% of enrolled clients send a second 'enroll' event on a later day (same branch):
  the enrollment date is the first one.
- Glean apps, `fenix.events_stream` and `firefox_ios.events_stream`: client_id VARCHAR,
  submission_date DATE, submission_timestamp TIMESTAMP, event_category, event_name,
  event_extra VARCHAR (JSON). Nimbus events have event_category 'nimbus_events', event_name
  'enrollment' | 'exposure' | 'unenrollment' and event_extra {"experiment": slug, "branch": b}.
  ios-onboarding-cards sends no Nimbus exposure events: its exposure is an
  ('onboarding', 'card_view') event, read by the config's custom exposure signal.

Experiments columns (annotation present from the enrollment day through the unenrollment
day, absent before and after, as in real pings):
- "simple" `experiments` LIST<STRUCT(key VARCHAR, value VARCHAR)> (slug -> branch):
  telemetry.clients_daily, search.mobile_search_clients_engines_sources_daily.
- "native" LIST<STRUCT(key VARCHAR, value STRUCT(branch VARCHAR))>: telemetry.crash
  `environment.experiments` (the data source selects it as `experiments`).
- "glean" `ping_info` STRUCT(experiments <native list>): fenix.metrics, fenix.crash,
  firefox_ios.metrics.
- "none": search.search_clients_engines_sources_daily, <app>.baseline_clients_daily.

Truth: each platform's experiments enroll disjoint clients; every enrolled client is active on
its enrollment, exposure and unenrollment days (so segments evaluated on the enrollment day
are exact); planted effects multiply the day's expected value from the enrollment day on, for
every client of the branch (exposed or not, unenrolled or not).
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import sqlglot.expressions as exp

from engine.synthetic.design import (
    DESIGNS,
    PLATFORMS,
    planted_metric_effects,
    registry_entry,
)
from engine.synthetic.population import Population, draw_panel, draw_population
from engine.synthetic.tables import (
    desktop_events,
    desktop_tables,
    glean_events,
    glean_tables,
)

DEFAULT_CLIENTS = 20_000
DEFAULT_DAYS = 60
DEFAULT_START = dt.date(2024, 1, 1)
PLATFORM_SHARES = {"firefox_desktop": 0.5, "fenix": 0.3, "firefox_ios": 0.2}
# segment slug (of our definitions) -> membership rule over a population and its rows
SEGMENT_RULES = {
    "new_users": lambda pop: pop.first_seen == pop.enroll_day,
    "us_users": lambda pop: pop.country == "US",
    "de_users": lambda pop: pop.country == "DE",
    "windows_users": lambda pop: pop.os == "Windows_NT",
}
PLATFORM_SEGMENTS = {
    "firefox_desktop": ("new_users", "us_users", "de_users", "windows_users"),
    "fenix": ("new_users", "us_users", "de_users"),
    "firefox_ios": ("new_users", "us_users", "de_users"),
}


@dataclass(frozen=True)
class SyntheticWorld:
    first_day: dt.date
    days: int
    seed: int
    registry: tuple[Mapping[str, Any], ...]  # Experimenter v8 records
    # slug -> client_id, branch, enrollment_date, exposure_date (None), unenrollment_date (None)
    enrollments: Mapping[str, pd.DataFrame] = field(repr=False)
    planted_effects: Mapping[str, Mapping[str, Mapping[str, float]]]  # slug -> metric -> branch
    segments: Mapping[str, Mapping[str, frozenset[str]]]  # slug -> segment -> client ids
    clients: pd.DataFrame = field(repr=False)  # latent traits, one row per client
    tables: Mapping[str, pa.Table] = field(repr=False)  # "dataset.table" -> rows written

    @property
    def last_day(self) -> dt.date:
        return self.first_day + dt.timedelta(days=self.days - 1)

    def daily(self, table: str) -> pd.DataFrame:
        """The exact rows written to `dataset.table` (nested columns as dicts and lists)."""
        return self.tables[table].to_pandas()

    def registry_json(self) -> str:
        return json.dumps(list(self.registry), indent=2)


def _enrollment_frame(pop: Population, index: int, first_day: dt.date) -> pd.DataFrame:
    members = np.flatnonzero(pop.experiment == index)
    design = pop.designs[index]

    def dates(days: np.ndarray) -> list[dt.date | None]:
        return [first_day + dt.timedelta(days=int(d)) if d >= 0 else None for d in days]

    return pd.DataFrame({
        "client_id": pop.client_id[members],
        "branch": [design.branches[b][0] for b in pop.branch[members]],
        "enrollment_date": dates(pop.enroll_day[members]),
        "exposure_date": dates(pop.expose_day[members]),
        "unenrollment_date": dates(pop.unenroll_day[members]),
    })


def _client_frame(pop: Population, first_day: dt.date) -> pd.DataFrame:
    return pd.DataFrame({
        "client_id": pop.client_id, "platform": pop.platform, "country": pop.country,
        "os": pop.os, "first_seen_date": [first_day + dt.timedelta(days=int(d)) for d in pop.first_seen],
        "p_active": pop.p_active, "hours_level": pop.hours_level, "uri_level": pop.uri_level,
        "search_level": pop.search_level, "crash_level": pop.crash_level,
        "default_browser": pop.default_browser,
    })


def _platform_sizes(clients: int) -> dict[str, int]:
    desktop = round(clients * PLATFORM_SHARES["firefox_desktop"])
    fenix = round(clients * PLATFORM_SHARES["fenix"])
    return {"firefox_desktop": desktop, "fenix": fenix, "firefox_ios": clients - desktop - fenix}


def simulate(clients: int = DEFAULT_CLIENTS, days: int = DEFAULT_DAYS, seed: int = 0,
             start_date: dt.date = DEFAULT_START) -> SyntheticWorld:
    """Draw the whole world in memory (no I/O)."""
    rng = np.random.default_rng(seed)
    tables: dict[str, list[pa.Table]] = {}
    enrollments: dict[str, pd.DataFrame] = {}
    segments: dict[str, dict[str, frozenset[str]]] = {}
    client_frames = []
    for platform, size in _platform_sizes(clients).items():
        designs = tuple(d for d in DESIGNS if d.platform == platform)
        pop = draw_population(rng, platform, size, days, designs)
        panel = draw_panel(rng, pop, days)
        if platform == "firefox_desktop":
            built = desktop_tables(rng, pop, panel, start_date)
            built["telemetry.events"] = desktop_events(pop, start_date)
        else:
            built = glean_tables(rng, pop, panel, start_date)
            built[f"{platform}.events_stream"] = glean_events(rng, pop, start_date)
        for name, table in built.items():
            tables.setdefault(name, []).append(table)
        for index, design in enumerate(designs):
            enrollments[design.slug] = _enrollment_frame(pop, index, start_date)
            members = pop.experiment == index
            segments[design.slug] = {
                seg: frozenset(pop.client_id[members & SEGMENT_RULES[seg](pop)])
                for seg in PLATFORM_SEGMENTS[platform]}
        client_frames.append(_client_frame(pop, start_date))
    return SyntheticWorld(
        first_day=start_date, days=days, seed=seed,
        registry=tuple(registry_entry(d, start_date, days) for d in DESIGNS),
        enrollments=MappingProxyType(enrollments),
        planted_effects=MappingProxyType({d.slug: planted_metric_effects(d) for d in DESIGNS}),
        segments=MappingProxyType({k: MappingProxyType(v) for k, v in segments.items()}),
        clients=pd.concat(client_frames, ignore_index=True),
        tables=MappingProxyType({k: pa.concat_tables(v) for k, v in sorted(tables.items())}),
    )


def write_duckdb(world: SyntheticWorld, db_path: str | os.PathLike) -> None:
    """Write every table of the world to a fresh DuckDB file (an existing file is replaced)."""
    path = os.fspath(db_path)
    for stale in (path, path + ".wal"):
        if os.path.exists(stale):
            os.remove(stale)
    con = duckdb.connect(path)
    try:
        # fully qualified names: a file called e.g. telemetry.duckdb is itself a catalog "telemetry"
        catalog = con.execute("SELECT current_database()").fetchone()[0]
        for name, table in world.tables.items():
            schema, _, table_name = name.partition(".")
            con.execute(exp.Create(this=exp.table_(schema, db=catalog), kind="SCHEMA", exists=True)
                        .sql(dialect="duckdb"))
            con.register("synthetic_source", table)
            create = exp.Create(this=exp.table_(table_name, db=schema, catalog=catalog), kind="TABLE",
                                expression=exp.select("*").from_("synthetic_source"))
            con.execute(create.sql(dialect="duckdb"))
            con.unregister("synthetic_source")
    finally:
        con.close()


def generate(db_path: str | os.PathLike, clients: int = DEFAULT_CLIENTS, days: int = DEFAULT_DAYS,
             seed: int = 0, start_date: dt.date = DEFAULT_START) -> SyntheticWorld:
    """Simulate the world and write it to `db_path`; returns the ground truth."""
    world = simulate(clients, days, seed, start_date)
    write_duckdb(world, db_path)
    return world


__all__ = ["PLATFORMS", "SyntheticWorld", "generate", "simulate", "write_duckdb"]
