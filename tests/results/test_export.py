"""JSON export: schemas, upstream-only consumers, determinism, atomic files, gs:// uploads."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import mozilla_nimbus_schemas.jetstream as upstream
import numpy as np
import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from engine.results.export import (
    CURVE_POINTS,
    DirectorySink,
    export_experiment,
    open_sink,
    statistics_text,
)
from engine.results.metadata import ErrorRecord
from engine.results.tables import UPSTREAM_FIELDS
from engine.statistics.records import Labels, make_record
from tests.results.fixtures import records, write_export, write_failed
from tests.results.gcs_server import FakeGcs
from tests.results.upstream import validate_upstream

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "results"


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_export_files_validate_against_schemas(tmp_path):
    write_export(tmp_path, "exp-one", mismatch=True)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["errors_exp-one.json", "metadata_exp-one.json",
                     "statistics_exp-one_overall.json", "statistics_exp-one_weekly.json"]
    for period in ("overall", "weekly"):
        validator("statistics").validate(json.loads((tmp_path / f"statistics_exp-one_{period}.json").read_text()))
    validator("metadata").validate(json.loads((tmp_path / "metadata_exp-one.json").read_text()))
    errors = json.loads((tmp_path / "errors_exp-one.json").read_text())
    validator("errors").validate(errors)
    assert errors[0]["stage"] == "statistics" and errors[0]["metric"] == "retained"


@pytest.mark.parametrize("mutation, field", [
    ({"comparison": "ratio"}, "comparison"),
    ({"window_index": 3}, "window_index"),
    ({"analysis_basis": "visits"}, "analysis_basis"),
    ({"Bad-Field": 1}, "Bad-Field"),
])
def test_statistics_schema_rejects_malformed_records(tmp_path, mutation, field):
    write_export(tmp_path)
    rows = json.loads((tmp_path / "statistics_demo-experiment_weekly.json").read_text())
    rows[0] = {**rows[0], **mutation}
    problems = list(validator("statistics").iter_errors(rows))
    assert problems and any(field in (str(p.path) + p.message) for p in problems)


def test_metadata_carries_display_information(tmp_path):
    write_export(tmp_path)
    meta = json.loads((tmp_path / "metadata_demo-experiment.json").read_text())
    assert meta["metrics"]["active_hours"] == {
        "friendly_name": "Active hours", "description": "Hours with user activity",
        "bigger_is_better": True, "analysis_bases": ["enrollments", "exposures"],
        "statistics": ["bootstrap_mean", "linear_model_mean", "deciles"],
        "periods": ["weekly", "overall"],
        "pre_treatments": {"bootstrap_mean": [], "linear_model_mean": [],
                           "deciles": ["log(base=10)"]}}
    assert meta["analysis_date"] == "2024-02-16" and meta["enrollment_end_date"] == "2024-01-07"
    assert meta["outcomes"]["networking"]["metrics"] == ["active_hours"]
    assert meta["name"] == "Demo experiment" and meta["schema_version"] == 4
    assert meta["default_metrics"] == ["days_of_use", "retained"]
    assert meta["config_commit"] == "0123456789abcdef0123456789abcdef01234567"


def test_export_files_validate_against_upstream_models(tmp_path):
    """mozilla-nimbus-schemas' jetstream models, as Experimenter reads our files."""
    write_export(tmp_path, "exp-one", mismatch=True)
    write_failed(tmp_path, "exp-failed")
    checked = validate_upstream(tmp_path)
    assert checked == {"statistics": 2, "metadata": 1, "errors": 2}
    meta = upstream.Metadata.model_validate_json((tmp_path / "metadata_exp-one.json").read_text())
    assert meta.outcomes["networking"].friendly_name == "Networking"
    errors = upstream.AnalysisErrors.model_validate_json(
        (tmp_path / "errors_exp-one.json").read_text()).root
    assert errors[0].filename == "fixtures.py" and errors[0].func_name == "write_export"
    assert errors[0].timestamp.isoformat() == "2024-02-16T00:00:00+00:00"


def test_errors_from_exceptions_name_where_they_were_raised():
    def failing_step():
        raise ValueError("bad window")

    try:
        failing_step()
    except ValueError as error:
        record = ErrorRecord.from_exception(error, experiment="x", analysis_date="2024-01-01",
                                            stage="statistics")
    assert (record.filename, record.func_name) == ("test_export.py", "failing_step")
    assert "bad window" in record.exception and record.to_dict()["source"] == "jetstream"


def test_curves_are_exported_at_a_bounded_number_of_points():
    labels = Labels("m", "kernel_density_estimate", "all", "enrollments", "1")
    grid = np.linspace(0, 10, 256)
    curve = [make_record(labels, b, parameter=x, point=float(np.exp(-x)))
             for b in ("control", "treatment") for x in grid]
    small = [make_record(replace(labels, statistic="empirical_cdf"), "control", parameter=x,
                         point=x / 10) for x in grid[:20]]
    rows = json.loads(statistics_text(curve + small))
    kde = [r for r in rows if r["statistic"] == "kernel_density_estimate"]
    assert len(kde) == 2 * CURVE_POINTS
    xs = [r["parameter"] for r in kde if r["branch"] == "control"]
    assert xs[0] == 0.0 and xs[-1] == 10.0 and xs == sorted(xs)
    assert len([r for r in rows if r["statistic"] == "empirical_cdf"]) == 20  # kept whole


def test_upstream_only_consumer_reads_our_records(tmp_path):
    """A consumer that knows only the upstream fields (and ignores unknown keys) gets typed rows."""
    write_export(tmp_path)
    rows = json.loads((tmp_path / "statistics_demo-experiment_weekly.json").read_text())

    def upstream_consumer(row: dict) -> tuple:
        known = {k: row[k] for k in UPSTREAM_FIELDS}
        assert isinstance(known["window_index"], str)
        for name in ("point", "lower", "upper", "parameter", "ci_width"):
            assert known[name] is None or isinstance(known[name], float)
        return tuple(known.values())

    parsed = [upstream_consumer(r) for r in rows]
    uplift = [p for p in parsed if p[4] == "relative_uplift" and p[10] == "new_users"
              and p[0] == "active_hours" and p[1] == "bootstrap_mean"]
    assert len(uplift) == 6 and all(p[8] < p[7] < p[9] and p[7] > 0.1 for p in uplift)
    assert all(list(r)[:13] == list(UPSTREAM_FIELDS) for r in rows)


def test_export_is_byte_identical_on_rerun(tmp_path):
    write_export(tmp_path / "a")
    write_export(tmp_path / "b")
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()


def test_failed_write_keeps_the_previous_file(tmp_path):
    sink = DirectorySink(tmp_path)
    sink.write_text("statistics_x_weekly.json", "[1]\n")
    with pytest.raises(UnicodeEncodeError):  # fails while writing the temp file
        sink.write_text("statistics_x_weekly.json", "[\ud800]")
    assert (tmp_path / "statistics_x_weekly.json").read_text() == "[1]\n"
    assert [p.name for p in tmp_path.iterdir()] == ["statistics_x_weekly.json"]  # no temp left


def test_gcs_export_uploads_every_file():
    with FakeGcs() as gcs:
        client = storage.Client(project="test", credentials=AnonymousCredentials(),
                                client_options=ClientOptions(api_endpoint=gcs.url))
        sink = open_sink("gs://results-bucket/jetstream/v1", client=client)
        written = export_experiment(sink, "exp-gs", {"weekly": records("weekly", range(1, 2))},
                                    {"experiment": "exp-gs"}, [])
    assert written == ["gs://results-bucket/jetstream/v1/statistics_exp-gs_weekly.json",
                       "gs://results-bucket/jetstream/v1/errors_exp-gs.json",
                       "gs://results-bucket/jetstream/v1/metadata_exp-gs.json"]
    key = ("results-bucket", "jetstream/v1/statistics_exp-gs_weekly.json")
    assert gcs.content_types[key] == "application/json"
    assert len(json.loads(gcs.objects[key])) == len(records("weekly", range(1, 2)))
    assert json.loads(gcs.objects[("results-bucket", "jetstream/v1/errors_exp-gs.json")]) == []
    assert all(r.startswith("POST /upload/storage/v1/b/results-bucket/o?") for r in gcs.requests)


def test_open_sink_rejects_gs_url_without_bucket():
    with pytest.raises(ValueError):
        open_sink("gs:///prefix")
