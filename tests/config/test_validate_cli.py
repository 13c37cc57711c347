import json

from click.testing import CliRunner

from engine.cli import main
from tests.config.mini_root import mini_root

BROKEN = '[metrics]\nweekly = [\n  "missing_metric",\n]\n'


def _run(*args):
    return CliRunner().invoke(main, ["validate", *map(str, args)])


def test_clean_root_exits_zero_with_summary(tmp_path):
    root = mini_root(tmp_path, {"good": '[experiment]\noutcomes = ["search"]\n'})
    result = _run("--config-root", root)
    assert result.exit_code == 0, result.output
    assert "1/1 experiment config(s) resolve; 0 error(s)" in result.output
    assert "resolves on firefox_desktop" in result.output


def test_errors_exit_one_in_every_format(tmp_path):
    root = mini_root(tmp_path, {"bad": BROKEN})
    text = _run("--config-root", root, root / "experiments/bad.toml")
    assert text.exit_code == 1
    assert "experiments/bad.toml:3: error unknown-metric: metric 'missing_metric'" in text.output
    as_json = _run("--config-root", root, "--format", "json")
    assert as_json.exit_code == 1
    errors = [f for f in json.loads(as_json.output) if f["severity"] == "error"]
    assert {(f["path"], f["line"], f["code"]) for f in errors} == {("experiments/bad.toml", 3, "unknown-metric")}
    assert set(errors[0]) == {"path", "line", "column", "severity", "code", "message", "hint"}
    github = _run("--config-root", root, "--format", "github", "--platform", "firefox_desktop")
    assert github.exit_code == 1
    assert "::error file=experiments/bad.toml,line=3,title=unknown-metric::" in github.output


def test_registry_file_sets_platform_and_branches(tmp_path):
    root = mini_root(tmp_path, {"exp": '[experiment]\nreference_branch = "nope"\n'})
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps([{"slug": "exp", "appName": "firefox_desktop",
                                     "branches": [{"slug": "control"}]}]))
    result = _run("--config-root", root, "--registry", registry, "--format", "json")
    assert result.exit_code == 1
    assert [f["code"] for f in json.loads(result.output) if f["severity"] == "error"] == \
        ["unknown-reference-branch"]


def test_changed_outcome_and_definitions_files_are_validated(tmp_path):
    root = mini_root(tmp_path)
    outcome = root / "outcomes/firefox_desktop/search.toml"
    outcome.write_text(outcome.read_text().replace('"clients_daily"', '"no_such_source"'))
    result = _run("--config-root", root, "--format", "json", outcome)
    assert result.exit_code == 1
    (finding,) = [f for f in json.loads(result.output) if f["severity"] == "error"]
    assert (finding["path"], finding["line"], finding["code"]) == \
        ("outcomes/firefox_desktop/search.toml", 7, "unknown-data-source")


def test_usage_errors_exit_two(tmp_path):
    assert _run("--config-root", tmp_path).exit_code == 2  # neither layout
    root = mini_root(tmp_path)
    assert _run("--config-root", root, root / "nope.toml").exit_code == 2
    assert _run("--config-root", root, "--registry", tmp_path / "missing.json").exit_code == 2
    assert _run("--config-root", root, "--format", "xml").exit_code == 2
