"""The generated schemas: checked in, valid 2020-12, strict, fed by the plug-in registries."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from engine.commands.schemas import command as schemas_command
from engine.config.schema.build import KINDS, build_schema, schema_json
from engine.statistics.pretreatments.declarations import PRETREATMENTS
from engine.statistics.registry import STATISTICS

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


@pytest.mark.parametrize("kind", KINDS)
def test_checked_in_schema_equals_builder_output(kind):
    path = SCHEMA_DIR / f"{kind}.json"
    assert path.read_text(encoding="utf-8") == schema_json(kind), "run `jetstream schemas`"


@pytest.mark.parametrize("kind", KINDS)
def test_schema_is_valid_2020_12(kind):
    schema = build_schema(kind)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def _objects(node, where="#"):
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            yield where, node
        for key, value in node.items():
            yield from _objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, f"{where}/{index}")


@pytest.mark.parametrize("kind", KINDS)
def test_every_table_is_closed_or_a_slug_map(kind):
    for where, node in _objects(build_schema(kind)):
        if "/if" in where:  # discriminator sub-schemas only select a branch
            continue
        if where.endswith("pre_treatment/else"):  # closed by its per-name `then` branches
            assert all(b["then"]["additionalProperties"] is False for b in node["allOf"])
            continue
        closed = node.get("additionalProperties")
        assert closed is False or isinstance(closed, dict), where


def test_statistics_come_from_the_registry():
    stats = build_schema("experiment")["$defs"]["statistics"]
    assert set(stats["properties"]) == set(STATISTICS)
    for name, plugin in STATISTICS.items():
        params = set(stats["properties"][name]["properties"])
        assert params == {p.name for p in plugin.params} | {"pre_treatments"}
        required = set(stats["properties"][name].get("required", []))
        assert required == {p.name for p in plugin.params if p.required}


def test_pre_treatments_come_from_the_registry():
    entry = build_schema("outcome")["$defs"]["pre_treatment"]
    assert set(entry["then"]["enum"]) == set(PRETREATMENTS)
    branches = {b["if"]["properties"]["name"]["const"]: b["then"] for b in entry["else"]["allOf"]}
    assert set(branches) == set(PRETREATMENTS)
    for name, plugin in PRETREATMENTS.items():
        assert set(branches[name]["properties"]) == {"name"} | {p.name for p in plugin.params}


def test_period_lists_only_where_upstream_reads_them():
    for kind in ("experiment", "defaults"):
        periods = build_schema(kind)["properties"]["metrics"]["properties"]
        assert {"daily", "weekly", "days28", "28_day", "overall",
                "preenrollment_weekly", "preenrollment_days28"} <= set(periods)
    assert build_schema("outcome")["properties"]["metrics"]["properties"] == {}


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown config kind"):
        build_schema("experiments")


def test_cli_writes_then_checks(tmp_path):
    runner = CliRunner()
    stale = runner.invoke(schemas_command, ["--check", "--out", str(tmp_path)])
    assert stale.exit_code == 1 and "out of date" in stale.output
    written = runner.invoke(schemas_command, ["--out", str(tmp_path)])
    assert written.exit_code == 0, written.output
    assert json.loads((tmp_path / "experiment.json").read_text()) == build_schema("experiment")
    fresh = runner.invoke(schemas_command, ["--check", "--out", str(tmp_path)])
    assert fresh.exit_code == 0 and "up to date" in fresh.output
    (tmp_path / "outcome.json").write_text("{}")
    again = runner.invoke(schemas_command, ["--check", "--out", str(tmp_path)])
    assert again.exit_code == 1 and "outcome.json" in again.output


def test_taplo_config_maps_every_schema():
    import tomllib

    taplo = tomllib.loads((SCHEMA_DIR.parent / ".taplo.toml").read_text(encoding="utf-8"))
    paths = {rule["schema"]["path"] for rule in taplo["rule"]}
    assert paths == {f"./schemas/{kind}.json" for kind in KINDS}
