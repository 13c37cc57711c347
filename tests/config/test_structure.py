"""check_structure: schema violations as findings on the right line, with useful hints."""
import textwrap

import pytest

from engine.config.load import parse_document
from engine.config.schema.structure import check_structure
from engine.findings import Severity


def check(text: str, kind: str = "experiment"):
    doc = parse_document("x.toml", textwrap.dedent(text).encode())
    assert doc.ok, doc.findings
    return check_structure(doc, kind)


def only(findings):
    assert len(findings) == 1, findings
    return findings[0]


CLEAN = {
    "experiment": """
        [experiment]
        start_date = "2024-01-02"
        enrollment_period = 7
        segments = ["new_users"]
        [experiment.exposure_signal]
        name = "saw"
        friendly_name = "Saw it"
        description = "Saw the feature"
        data_source = "events"
        select_expression = "COUNT(*) > 0"
        window_end = "analysis_window_end"
        [metrics]
        weekly = ["clicks"]
        28_day = ["clicks"]
        [metrics.clicks]
        select_expression = "SUM(clicks)"
        data_source = "events"
        owner = "someone@example.com"
        [metrics.clicks.statistics.bootstrap_mean]
        drop_highest = 0
        pre_treatments = ["remove_nulls", {name = "censor_highest_values", fraction = 0.99}]
        [metrics.clicks.statistics.linear_model_mean.covariate_adjustment]
        period = "preenrollment_week"
        [data_sources.events]
        from_expression = "mozdata.t.events"
        experiments_column_type = "none"
        [segments.new_users]
        data_source = "clients_last_seen"
        select_expression = "LOGICAL_OR(days_since_first_seen < 7)"
        [segments.data_sources.clients_last_seen]
        from_expression = "mozdata.t.cls"
        window_start = -7
        [parameters.id]
        friendly_name = "Message id"
        distinct_by_branch = true
        default = {control = "a", treatment = "b"}
    """,
    "outcome": """
        friendly_name = "Outcome"
        description = "What it measures"
        default_metrics = ["m"]
        [metrics.m]
        select_expression = "1"
        data_source = "d"
        [metrics.m.statistics.binomial]
        [data_sources.d]
        from_expression = "t"
    """,
    "defaults": """
        [metrics]
        daily = ["a"]
        preenrollment_days28 = ["a"]
        [metrics.a.statistics.deciles]
    """,
    "definitions": """
        [metrics.a]
        select_expression = "1"
        data_source = "d"
        level = "gold"
        [data_sources.d]
        from_expression = "t"
        joins = {other = {on_expression = "x = y", relationship = "many_to_one"}}
        [dimensions.country]
        data_source = "d"
        select_expression = "country"
    """,
    "functions": """
        [functions.agg_sum]
        definition = "SUM({select_expr})"
        friendly_name = "Sum"
    """,
}


@pytest.mark.parametrize("kind", sorted(CLEAN))
def test_clean_configs_have_no_findings(kind):
    assert check(CLEAN[kind], kind) == []


def test_segment_window_is_a_warning_naming_its_data_source():
    finding = only(check("""
        [segments.s]
        data_source = "cls"
        select_expression = "TRUE"
        window_start = -7
    """))
    assert (finding.severity, finding.code, finding.line, finding.column) == (
        Severity.WARNING, "unknown-key", 5, 1)
    assert "[segments.s]" in finding.message
    assert "[segments.data_sources.cls]" in finding.hint


@pytest.mark.parametrize("text, hint", [
    ("[experiment]\nenrollments_query = 'SELECT 1'\n", "rename it `enrollment_query`"),
    ("[metrics.m]\ndescriptionn = 'x'\n", "did you mean `description`?"),
    ("[metrics.m]\nexposure_basis = ['exposures']\n", "analysis_bases"),
    ("[experiment]\ndefault_dataset = 'x'\n", "is valid in [data_sources.<slug>]"),
    ("friendly_name = 'x'\n", "only outcome files"),
    ("[metrics.m]\nSelect_Expression = '1'\n", "lower case"),
    ("[experiment]\nzzz = 1\n", "keys allowed here:"),
])
def test_ignored_keys_are_warnings_with_hints(text, hint):
    finding = only(check(text))
    assert finding.severity is Severity.WARNING and finding.code == "unknown-key"
    assert hint in finding.hint


def test_unknown_statistic_is_an_error_with_suggestion():
    finding = only(check("[metrics.m.statistics.bootstrap_maen]\n"))
    assert (finding.severity, finding.code, finding.line) == (Severity.ERROR, "unknown-statistic", 1)
    assert finding.hint == "did you mean `bootstrap_mean`?"


def test_unknown_statistic_parameter_lists_the_allowed_ones():
    finding = only(check("[metrics.m.statistics.binomial]\nconfidence_intervall = 0.9\n"))
    assert (finding.code, finding.line, finding.severity) == ("unknown-parameter", 2, Severity.ERROR)
    assert finding.hint == "did you mean `confidence_interval`?"


def test_parameter_of_a_statistic_without_parameters():
    finding = only(check("[metrics.m.statistics.count]\nx = 1\n"))
    assert finding.code == "unknown-parameter" and "takes no parameters" in finding.hint


@pytest.mark.parametrize("entry, code", [
    ('"remove_null"', "unknown-pre-treatment"),
    ('{name = "lgo"}', "unknown-pre-treatment"),
    ('{name = "log", bse = 2}', "unknown-parameter"),
    ('{fraction = 0.5}', "missing-key"),
    ('{name = "censor_values_above_threshold"}', "missing-key"),
    ('{name = "log", base = "e"}', "wrong-type"),
    ('{name = "censor_highest_values", fraction = 2}', "bad-value"),
    ("3", "wrong-type"),
])
def test_bad_pre_treatments_are_errors(entry, code):
    text = f"[metrics.m.statistics.deciles]\n\npre_treatments = [{entry}]\n"
    finding = only(check(text))
    assert (finding.code, finding.line, finding.severity) == (code, 3, Severity.ERROR)


def test_toml_dates_read_as_the_strings_they_spell():
    assert check("[experiment]\nstart_date = 2024-01-02\nend_date = '2024-02-01'\n") == []
    finding = only(check("[experiment]\nenrollment_period = 2024-01-02\n"))
    assert finding.message == "`experiment.enrollment_period` must be an integer, not a string"


def test_misspelled_period_list_is_a_type_error_with_the_period():
    finding = only(check("[metrics]\nweeky = ['a']\n"))
    assert (finding.code, finding.line, finding.hint) == (
        "wrong-type", 2, "did you mean the period `weekly`?")


def test_missing_required_key_points_at_the_table():
    findings = check("[data_sources.d]\nfrom_expression = 't'\n[functions.f]\nfriendly_name = 'x'\n",
                     "functions")
    assert [(f.code, f.line, f.column) for f in findings] == [
        ("unknown-key", 1, 2), ("missing-key", 3, None)]
    assert findings[1].message == "[functions.f] is missing required key `definition`"


def test_outcome_requires_its_names():
    codes = sorted((f.code, f.message) for f in check("[metrics.m]\n", "outcome"))
    assert [c for c, _ in codes] == ["missing-key", "missing-key"]


def test_definitions_require_from_expression_but_experiments_may_override_partially():
    assert check("[data_sources.d]\nclient_id_column = 'c'\n") == []
    finding = only(check("[data_sources.d]\nclient_id_column = 'c'\n", "definitions"))
    assert (finding.code, finding.line) == ("missing-key", 1)


def test_syntax_errors_are_left_to_the_document():
    doc = parse_document("x.toml", b"[experiment\n")
    assert check_structure(doc, "experiment") == []


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        check_structure(parse_document("x.toml", b""), "nope")


def test_findings_are_sorted_by_line():
    findings = check("[experiment]\nzz = 1\nenrollment_period = 'x'\n[metrics.m]\nqq = 2\n")
    assert [f.line for f in findings] == [2, 3, 5]


def test_column_points_at_the_whole_key():
    finding = only(check("[metrics.m]\nmm = 1\n"))
    assert (finding.line, finding.column) == (2, 1)
    finding = only(check("[metrics.m.statistics.binomial]\npre_treatments = [{name = 'log', m = 1}]\n"))
    assert (finding.code, finding.line, finding.column) == ("unknown-parameter", 2, 34)
