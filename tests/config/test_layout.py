from pathlib import Path

import pytest

from engine.config.layout import METRIC_HUB, OURS, LayoutError, detect_layout
from engine.config.repository import load_repository
from tests.config.mini_root import mini_root, write

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "metric-hub"


def test_our_layout_lists_every_kind(tmp_path):
    layout = detect_layout(mini_root(tmp_path, {"a": "", "b": ""}))
    assert layout.kind == OURS
    assert [p.stem for p in layout.experiment_paths()] == ["a", "b"]
    assert layout.outcome_paths()["firefox_desktop"]["search"].name == "search.toml"
    assert layout.platforms() == ("firefox_desktop",)
    assert layout.kind_of(tmp_path / "engine/definitions/functions.toml") == "functions"
    assert layout.kind_of(tmp_path / "outcomes/firefox_desktop/search.toml") == "outcome"
    assert layout.kind_of(tmp_path / "experiments/a.toml") == "experiment"


def test_metric_hub_definitions_are_overridden_by_jetstream_definitions(tmp_path):
    write(tmp_path, {
        "definitions/fenix.toml": '[metrics.m]\nselect_expression = "1"\ndata_source = "d"\nfriendly_name = "base"\n',
        "jetstream/definitions/fenix.toml": '[metrics.m]\nfriendly_name = "override"\n',
        "jetstream/defaults/fenix.toml": "",
        "jetstream/some-experiment.toml": "",
    })
    layout = detect_layout(tmp_path)
    assert layout.kind == METRIC_HUB
    assert [p.parent.name for p in layout.definition_paths()["fenix"]] == ["definitions", "definitions"]
    repo = load_repository(layout)
    metric = repo.definitions["fenix"].metrics["m"]
    assert metric.get("friendly_name") == "override" and metric.get("select_expression") == "1"
    assert metric.origin_of("friendly_name").path == "jetstream/definitions/fenix.toml"
    assert list(repo.experiments) == ["some-experiment"]


def test_real_corpus_is_a_config_root():
    layout = detect_layout(CORPUS)
    assert layout.kind == METRIC_HUB
    assert layout.platforms()[0] == "firefox_desktop"
    assert "cfr_metrics" not in layout.platforms()  # defaults without definitions: not a platform
    assert len(layout.experiment_paths()) > 300


def test_unknown_directory_is_a_layout_error(tmp_path):
    with pytest.raises(LayoutError):
        detect_layout(tmp_path)
