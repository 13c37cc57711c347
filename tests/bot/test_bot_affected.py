"""engine.plan.affected: changed paths -> experiments to re-analyse, with reasons (real files in tmp)."""
from __future__ import annotations

import datetime as dt

from engine.config.layout import detect_layout
from engine.experimenter import parse_registry
from engine.plan.affected import (
    Affected,
    Change,
    affected_experiments,
    experiment_infos,
)

TODAY = dt.date(2024, 3, 20)


def _tree(tmp_path):
    files = {
        "experiments/live.toml": '[experiment]\noutcomes = ["search"]\n',
        "experiments/recent.toml": '[experiment]\nend_date = "2024-03-10"\n',
        "experiments/old.toml": "[experiment]\n",
        "experiments/desktop.toml": "[experiment]\n",
        "experiments/future.toml": "[experiment]\n",
        "outcomes/fenix/search.toml": "friendly_name = 'Search'\n",
        "engine/defaults/fenix.toml": "",
        "engine/definitions/fenix.toml": "",
        "engine/definitions/functions.toml": "",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    registry = parse_registry([
        {"slug": "live", "appName": "fenix", "startDate": "2024-03-01"},
        {"slug": "recent", "appName": "fenix", "startDate": "2024-02-01", "endDate": "2024-02-15"},
        {"slug": "old", "appName": "fenix", "startDate": "2023-01-01", "endDate": "2023-02-01"},
        {"slug": "desktop", "appName": "firefox_desktop", "startDate": "2024-03-01"},
        {"slug": "future", "appName": "fenix", "startDate": "2024-05-01"},
    ])
    layout = detect_layout(tmp_path)
    return layout, experiment_infos(layout, registry)


def _run(tmp_path, *changes, recent_days=14):
    layout, infos = _tree(tmp_path)
    return affected_experiments(changes, layout, infos, TODAY, recent_days)


def test_own_config_change_always_counts(tmp_path):
    assert _run(tmp_path, Change("experiments/old.toml")) == (Affected("old", ("its config changed",)),)


def test_platform_defaults_reach_live_and_recent_experiments_of_that_platform_only(tmp_path):
    # config end_date (2024-03-10) overrides the registry's: ended 10 days ago, inside the window
    assert [a.slug for a in _run(tmp_path, Change("engine/defaults/fenix.toml"))] == ["live", "recent"]
    assert [a.slug for a in _run(tmp_path, Change("engine/defaults/fenix.toml"), recent_days=5)] == ["live"]
    assert _run(tmp_path, Change("engine/definitions/fenix.toml"))[0].reasons == ("fenix definitions changed",)


def test_outcome_change_reaches_its_users(tmp_path):
    assert _run(tmp_path, Change("outcomes/fenix/search.toml")) == (
        Affected("live", ("outcome `search` (fenix) changed",)),)


def test_functions_reach_every_recent_experiment_and_renames_count_both_paths(tmp_path):
    assert [a.slug for a in _run(tmp_path, Change("engine/definitions/functions.toml"))] == ["desktop", "live", "recent"]
    renamed = _run(tmp_path, Change("experiments/desktop.toml", "renamed", "experiments/gone.toml"))
    assert renamed == (Affected("desktop", ("its config changed",)),)
    assert _run(tmp_path, Change("experiments/nothere.toml", "removed"), Change("README.md")) == ()
