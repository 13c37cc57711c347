"""Arrow tables of the synthetic world, one builder per real table our definitions read.

Table keys are "dataset.table" (the DuckDB schema and table). Values on an active day are drawn
around each client's latent level and multiplied by the planted effect of that day, so a
branch's expected metric moves by exactly the planted relative amount.
"""
from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa

from engine.synthetic.population import Panel, Population

_KV = pa.struct([("key", pa.string()), ("value", pa.string())])
METRICS_PING_SHARE = 0.9  # share of active days with a Glean metrics ping (the rest is missing)
SEARCH_SOURCES = np.array(["urlbar", "searchbar", "newtab"])
GLEAN_DATASET = {"fenix": "fenix", "firefox_ios": "firefox_ios"}
APP_NAME_OS = {"fenix": "Firefox Android", "firefox_ios": "Firefox iOS"}
APP_NAME = {"fenix": "Fenix", "firefox_ios": "Firefox iOS"}


def _dates(first_day: dt.date, day: np.ndarray) -> pa.Array:
    return pa.array(np.datetime64(first_day, "D") + day.astype("timedelta64[D]"), type=pa.date32())


def _timestamps(rng: np.random.Generator, first_day: dt.date, day: np.ndarray) -> pa.Array:
    seconds = rng.integers(0, 86400, size=len(day)).astype("timedelta64[s]")
    base = np.datetime64(first_day, "s") + (day.astype("timedelta64[D]")).astype("timedelta64[s]")
    return pa.array((base + seconds).astype("datetime64[us]"), type=pa.timestamp("us"))


_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")


def _document_ids(rng: np.random.Generator, n: int) -> pa.Array:
    """Random 32-hex-digit ids, built without a Python loop."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    return pa.array(_HEX[raw].view("S32").ravel()).cast(pa.string())


def _constant(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value), n) if n else pa.array([], pa.string())


def _take(values: np.ndarray, index: np.ndarray) -> pa.Array:
    """values[index] as an Arrow string array (much faster than converting a numpy str array)."""
    return pa.array(values.astype(object)).take(pa.array(index)) if len(values) else pa.array([], pa.string())


def _branch_names(pop: Population) -> np.ndarray:
    """Branch slug per client ("" when not enrolled)."""
    names = np.full(pop.size, "", dtype=object)
    for index, design in enumerate(pop.designs):
        for b, (slug, _) in enumerate(design.branches):
            names[(pop.experiment == index) & (pop.branch == b)] = slug
    return names


def _experiments(pop: Population, client: np.ndarray, annotated: np.ndarray, native: bool) -> pa.Array:
    """One-entry (or empty) experiments map per row: slug -> branch ("simple") or {branch}."""
    rows = client[annotated]
    keys = _take(np.array([d.slug for d in pop.designs]), pop.experiment[rows])
    values = _take(_branch_names(pop), rows)
    if native:
        values = pa.StructArray.from_arrays([values], names=["branch"])
    offsets = np.concatenate([[0], np.cumsum(annotated)]).astype(np.int32)
    entries = pa.StructArray.from_arrays([keys, values], names=["key", "value"])
    return pa.ListArray.from_arrays(pa.array(offsets), entries)


def _struct(**fields: pa.Array) -> pa.StructArray:
    return pa.StructArray.from_arrays(list(fields.values()), names=list(fields))


def draw_measurements(rng: np.random.Generator, pop: Population, panel: Panel) -> dict[str, np.ndarray]:
    """Per active day: the measurements every table of the platform is cut from."""
    c, n = panel.client, len(panel.client)
    base_hours = pop.hours_level[c] * rng.gamma(4.0, 0.25, size=n)
    sap = rng.poisson(pop.search_level[c] * panel.multiplier["search"])
    tagged = rng.binomial(sap, 0.8)
    with_ads = rng.binomial(sap, 0.5)
    return {
        "active_hours": base_hours * panel.multiplier["active"],
        "session_hours": base_hours * (1.3 + rng.gamma(2.0, 0.4, size=n)),
        "uri": rng.poisson(pop.uri_level[c] * panel.multiplier["uri"]),
        "sap": sap,
        "tagged_sap": tagged,
        "tagged_follow_on": rng.binomial(tagged, 0.15),
        "organic": rng.poisson(pop.search_level[c] * 0.3),
        "search_with_ads": with_ads,
        "ad_click": rng.binomial(with_ads, 0.15),
        "content_crashes": rng.poisson(pop.crash_level[c]),
        "main_crashes": rng.poisson(pop.crash_level[c] * 0.3),
        "source": rng.choice(len(SEARCH_SOURCES), size=n, p=[0.6, 0.15, 0.25]),
        "opened_as_default": rng.poisson(0.5 * pop.default_browser[c]),
        "metrics_ping": rng.random(n) < METRICS_PING_SHARE,
    }


def _search_rows(pop: Population, panel: Panel, m: dict[str, np.ndarray], first_day: dt.date,
                 count_column: str) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Search table columns for the active days with any search, and that row mask."""
    keep = (m["sap"] + m["organic"]) > 0
    c = panel.client[keep]
    return {
        "client_id": _take(pop.client_id, c),
        "submission_date": _dates(first_day, panel.day[keep]),
        "engine": _take(pop.engine, c),
        "source": _take(SEARCH_SOURCES, m["source"][keep]),
        "country": _take(pop.country, c),
        count_column: pa.array(m["sap"][keep]),
        "tagged_sap": pa.array(m["tagged_sap"][keep]),
        "tagged_follow_on": pa.array(m["tagged_follow_on"][keep]),
        "organic": pa.array(m["organic"][keep]),
        "ad_click": pa.array(m["ad_click"][keep]),
        "search_with_ads": pa.array(m["search_with_ads"][keep]),
    }, keep


def _crash_rows(m: dict[str, np.ndarray], panel: Panel) -> tuple[np.ndarray, np.ndarray]:
    """(panel row, process type) of every crash report."""
    index = np.arange(len(panel.client))
    rows = np.concatenate([np.repeat(index, m["main_crashes"]), np.repeat(index, m["content_crashes"])])
    kinds = np.repeat(np.array(["main", "content"]), [m["main_crashes"].sum(), m["content_crashes"].sum()])
    order = np.argsort(rows, kind="stable")
    return rows[order], kinds[order]


def desktop_tables(rng: np.random.Generator, pop: Population, panel: Panel,
                   first_day: dt.date) -> dict[str, pa.Table]:
    m = draw_measurements(rng, pop, panel)
    c = panel.client
    clients_daily = pa.table({
        "client_id": _take(pop.client_id, c),
        "submission_date": _dates(first_day, panel.day),
        "sample_id": pa.array(np.array([int(i[:2], 16) % 100 for i in pop.client_id])[c]),
        "normalized_channel": _constant("release", len(c)),
        "country": _take(pop.country, c),
        "os": _take(pop.os, c),
        "memory_mb": pa.array(pop.memory_mb[c]),
        "first_seen_date": _dates(first_day, pop.first_seen[c]),
        "is_default_browser": pa.array(pop.default_browser[c]),
        "active_hours_sum": pa.array(m["active_hours"]),
        "subsession_hours_sum": pa.array(m["session_hours"]),
        "scalar_parent_browser_engagement_total_uri_count_normal_and_private_mode_sum":
            pa.array(m["uri"]),
        "search_count_all": pa.array(m["sap"]),
        "experiments": _experiments(pop, c, panel.annotated, native=False),
    })
    search, _ = _search_rows(pop, panel, m, first_day, "sap")
    rows, kinds = _crash_rows(m, panel)
    crash = pa.table({
        "document_id": _document_ids(rng, len(rows)),
        "client_id": _take(pop.client_id, c[rows]),
        "submission_timestamp": _timestamps(rng, first_day, panel.day[rows]),
        "payload": _struct(process_type=pa.array(kinds, pa.string())),
        "environment": _struct(experiments=_experiments(pop, c[rows], panel.annotated[rows], native=True)),
    })
    return {"telemetry.clients_daily": clients_daily,
            "search.search_clients_engines_sources_daily": pa.table(search),
            "telemetry.crash": crash}


def _glean_ping(rng: np.random.Generator, pop: Population, panel: Panel, rows: np.ndarray,
                first_day: dt.date, metrics: pa.StructArray) -> pa.Table:
    c = panel.client[rows]
    return pa.table({
        "document_id": _document_ids(rng, len(rows)),
        "submission_timestamp": _timestamps(rng, first_day, panel.day[rows]),
        "client_info": _struct(client_id=_take(pop.client_id, c)),
        "ping_info": _struct(experiments=_experiments(pop, c, panel.annotated[rows], native=True)),
        "metrics": metrics,
    })


def glean_tables(rng: np.random.Generator, pop: Population, panel: Panel,
                 first_day: dt.date) -> dict[str, pa.Table]:
    m = draw_measurements(rng, pop, panel)
    c, ds = panel.client, GLEAN_DATASET[pop.platform]
    baseline = pa.table({
        "client_id": _take(pop.client_id, c),
        "submission_date": _dates(first_day, panel.day),
        "first_seen_date": _dates(first_day, pop.first_seen[c]),
        "country": _take(pop.country, c),
        "normalized_channel": _constant("release", len(c)),
        "durations": pa.array(np.rint(m["active_hours"] * 3600).astype(np.int64)),
    })
    ping_rows = np.flatnonzero(m["metrics_ping"])
    if pop.platform == "fenix":
        metrics = _struct(
            counter=_struct(events_normal_and_private_uri_count=pa.array(m["uri"][ping_rows])),
            boolean=_struct(metrics_default_browser=pa.array(pop.default_browser[c[ping_rows]])))
    else:
        metrics = _struct(counter=_struct(
            tabs_normal_and_private_uri_count=pa.array(m["uri"][ping_rows]),
            app_opened_as_default_browser=pa.array(m["opened_as_default"][ping_rows])))
    search, keep = _search_rows(pop, panel, m, first_day, "search_count")
    n_search = int(keep.sum())
    search = {
        "client_id": search.pop("client_id"), "submission_date": search.pop("submission_date"),
        "normalized_app_name": _constant(APP_NAME[pop.platform], n_search),
        "normalized_app_name_os": _constant(APP_NAME_OS[pop.platform], n_search),
        **search,
        "experiments": _experiments(pop, c[keep], panel.annotated[keep], native=False),
    }
    tables = {
        f"{ds}.baseline_clients_daily": baseline,
        f"{ds}.metrics": _glean_ping(rng, pop, panel, ping_rows, first_day, metrics),
        "search.mobile_search_clients_engines_sources_daily": pa.table(search),
    }
    if pop.platform == "fenix":
        rows, kinds = _crash_rows(m, panel)
        startup = rng.random(len(rows)) < 0.2
        crash_metrics = _struct(string=_struct(crash_process_type=pa.array(kinds, pa.string())),
                                boolean=_struct(crash_startup=pa.array(startup)))
        tables[f"{ds}.crash"] = _glean_ping(rng, pop, panel, rows, first_day, crash_metrics)
    return tables


def desktop_events(pop: Population, first_day: dt.date) -> pa.Table:
    """Normandy events in `telemetry.events`: enroll, expose and unenroll."""
    rows: list[dict] = []
    for i in np.flatnonzero(pop.experiment >= 0):
        design = pop.designs[pop.experiment[i]]
        branch = design.branches[pop.branch[i]][0]
        for method, day, extra in (("enroll", pop.enroll_day[i], ()),
                                   ("enroll", pop.reenroll_day[i], ()),
                                   ("expose", pop.expose_day[i], ()),
                                   ("unenroll", pop.unenroll_day[i], (("reason", "user-opt-out"),))):
            if day >= 0:
                rows.append({
                    "client_id": pop.client_id[i],
                    "submission_date": first_day + dt.timedelta(days=int(day)),
                    "event_category": "normandy", "event_method": method,
                    "event_object": "nimbus_experiment", "event_string_value": design.slug,
                    "event_map_values": [{"key": "branch", "value": branch}]
                    + [{"key": k, "value": v} for k, v in extra],
                })
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("client_id", pa.string()), ("submission_date", pa.date32()),
        ("event_category", pa.string()), ("event_method", pa.string()),
        ("event_object", pa.string()), ("event_string_value", pa.string()),
        ("event_map_values", pa.list_(_KV)),
    ]))


def glean_events(rng: np.random.Generator, pop: Population, first_day: dt.date) -> pa.Table:
    """Nimbus events (and onboarding card views) in `<app>.events_stream`."""
    rows: list[dict] = []
    for i in np.flatnonzero(pop.experiment >= 0):
        design = pop.designs[pop.experiment[i]]
        nimbus = json.dumps({"experiment": design.slug,
                             "branch": design.branches[pop.branch[i]][0]})
        exposure = (("nimbus_events", "exposure", nimbus) if design.exposure_event == "nimbus"
                    else ("onboarding", "card_view", json.dumps({"card_type": "welcome"})))
        for (category, name, extra), day in (
                (("nimbus_events", "enrollment", nimbus), pop.enroll_day[i]),
                (("nimbus_events", "enrollment", nimbus), pop.reenroll_day[i]),
                (exposure, pop.expose_day[i]),
                (("nimbus_events", "unenrollment", nimbus), pop.unenroll_day[i])):
            if day >= 0:
                date = first_day + dt.timedelta(days=int(day))
                second = int(rng.integers(0, 86400))
                rows.append({
                    "client_id": pop.client_id[i], "submission_date": date,
                    "submission_timestamp": dt.datetime.combine(date, dt.time())
                    + dt.timedelta(seconds=second),
                    "event_category": category, "event_name": name, "event_extra": extra,
                })
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("client_id", pa.string()), ("submission_date", pa.date32()),
        ("submission_timestamp", pa.timestamp("us")), ("event_category", pa.string()),
        ("event_name", pa.string()), ("event_extra", pa.string()),
    ]))
