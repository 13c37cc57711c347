"""The four fidelity gaps, each at the exact line: metrics of unselected outcomes, analysis
units, plainer messages (missing AND or parenthesis, undefined parameters), and errors placed on
the experiment config's own line. (`enrollments_query_type` and misspelled keys are in
test_mutations.py; the enrollment SQL in tests/engine/test_enrollments_query_type.py.)"""
from __future__ import annotations

import pytest

from engine.check.validate import validate
from engine.experimenter import parse_registry
from tests.config.mini_root import mini_root, write

E = "error"

BASE = """\
[experiment]
start_date = "2024-01-02"
end_date = "2024-02-01"
enrollment_period = 7

[metrics]
weekly = ["searches_per_hour"]
"""


def _registry(outcomes):
    return parse_registry([{"slug": "exp", "appName": "firefox_desktop", "startDate": "2024-01-02",
                            "endDate": "2024-02-01", "proposedEnrollment": 7, "referenceBranch": "control",
                            "branches": [{"slug": "control"}, {"slug": "treatment"}],
                            "outcomes": [{"slug": s} for s in outcomes]}])


def findings(root, text, registry=None, extra=None):
    mini_root(root, {"exp": text})
    write(root, extra or {})
    report = validate(root, [root / "experiments" / "exp.toml"], registry=registry)
    return {(f.severity.value, f.code, f.path, f.line) for f in report.findings
            if f.severity.value == "error"}, report


EXP = "experiments/exp.toml"


# ---- 1. metrics of outcomes the experiment never selected -----------------------------------

def test_offline_an_outcome_metric_resolves_as_upstreams_offline_parser_does(tmp_path):
    assert findings(tmp_path, BASE)[0] == set()


def test_with_a_registry_selecting_no_outcome_its_metrics_are_unknown(tmp_path):
    found, report = findings(tmp_path, BASE, _registry([]))
    assert found == {(E, "unknown-metric", EXP, 7)}
    [error] = [f for f in report.findings if f.is_error]
    assert error.message == ("metric 'searches_per_hour' (listed for weekly) is not defined for "
                             "platform firefox_desktop")


def test_with_a_registry_selecting_the_outcome_its_metrics_resolve(tmp_path):
    assert findings(tmp_path, BASE, _registry(["search"]))[0] == set()


def test_a_metric_without_select_expression_no_longer_borrows_it_from_another_outcome(tmp_path):
    text = BASE + '\n[metrics.searches_per_hour.statistics.deciles]\n'
    assert findings(tmp_path, text, _registry([]))[0] == {(E, "unknown-metric", EXP, 9)}


# ---- 2. analysis units ------------------------------------------------------------------------

UNITS = """\
[experiment]
start_date = "2024-01-02"
enrollment_period = 7
{unit}
[metrics]
weekly = ["grouped"]

[metrics.grouped]
select_expression = "COUNT(*)"
data_source = "per_client"
{metric_units}
[metrics.grouped.statistics.deciles]

[data_sources.per_client]
from_expression = "mozdata.t.per_client"
analysis_units = ["client_id"]
"""


def test_a_metric_declaring_a_unit_its_data_source_lacks_is_an_error(tmp_path):
    text = UNITS.format(unit="", metric_units='analysis_units = ["profile_group_id"]')
    assert findings(tmp_path, text)[0] == {(E, "unsupported-analysis-unit", EXP, 11)}


def test_an_experiment_unit_a_metrics_data_source_lacks_is_an_error(tmp_path):
    text = UNITS.format(unit='analysis_unit = "profile_group_id"', metric_units="")
    assert findings(tmp_path, text)[0] == {(E, "unsupported-analysis-unit", EXP, 4)}


def test_matching_units_are_clean(tmp_path):
    assert findings(tmp_path, UNITS.format(unit="", metric_units=""))[0] == set()


# ---- 3. plainer messages ------------------------------------------------------------------------

SELECT = """\
[experiment]
start_date = "2024-01-02"
enrollment_period = 7

[metrics]
weekly = ["m"]

[metrics.m]
select_expression = "{select}"
data_source = "clients_daily"

[metrics.m.statistics.deciles]

[parameters.message_id]
default = "abc"
"""


@pytest.mark.parametrize("select, code, says", [
    ("COUNTIF(a = 1 b = 2)", "sql-syntax", "missing AND, OR or a comma before `b`"),
    ("COALESCE(SUM(x, 0)", "sql-syntax", "this '(' is never closed (missing ')')"),
    ("SUM(a)) + 1", "sql-syntax", "')' closes nothing"),
    ("{{ parameters.messageid }}", "template-error",
     "parameter 'messageid' is not defined (defined parameters: message_id)"),
    ("{{ experiment.slug }}", "template-error", "experiment has no field 'slug' (fields: "),
])
def test_messages_say_what_is_wrong(tmp_path, select, code, says):
    found, report = findings(tmp_path, SELECT.format(select=select))
    assert found == {(E, code, EXP, 9)}
    assert any(says in f.message for f in report.findings if f.code == code)


# ---- 4. an error met in a shared file, on the experiment's own line ---------------------------

def test_a_listed_metric_broken_in_the_definitions_is_reported_on_the_listing_line(tmp_path):
    definitions = "engine/definitions/firefox_desktop.toml"
    from tests.config.mini_root import DEFINITIONS
    extra = {definitions: DEFINITIONS + '\n[metrics.broken]\ndata_source = "clients_daily"\n'}
    text = BASE.replace('weekly = ["searches_per_hour"]', 'weekly = ["broken"]') + \
        "\n[metrics.broken.statistics.deciles]\n"
    found, report = findings(tmp_path, text, extra=extra)
    assert found == {(E, "unknown-metric", EXP, 9)}  # the experiment's own table of the metric
    text = BASE.replace('weekly = ["searches_per_hour"]', 'weekly = ["broken"]')
    extra[definitions] += "statistics = { deciles = {} }\n"
    found, report = findings(tmp_path, text, extra=extra)
    assert found == {(E, "unknown-metric", EXP, 7)}  # the listing line, not the definitions
    [error] = [f for f in report.findings if f.is_error]
    assert f"(defined in {definitions}:" in error.message
