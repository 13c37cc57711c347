import datetime as dt

import pytest

from engine.config.resolve.templates import (
    BranchValues,
    ExperimentView,
    TemplateContext,
    TemplateError,
    render_source,
    render_sql,
)

VIEW = ExperimentView("norm-slug", "exp-slug", dt.date(2024, 5, 1), dt.date(2024, 6, 1), 14,
                      "control", "fenix", "org.mozilla.firefox", ("control", "treatment"), 5, "client")
CONTEXT = TemplateContext(VIEW, {"agg_any": "COALESCE(LOGICAL_OR({select_expr}), FALSE)"},
                          {"limit": 3, "label": BranchValues({"control": "a", "treatment": "b"})})


def test_functions_parameters_and_experiment_fields_render():
    sql = render_sql('{{agg_any("x > 1")}} AND n < {{parameters.limit}} AND s = "{{experiment.normandy_slug}}"'
                     " AND d <= '{{experiment.last_enrollment_date_str}}'", CONTEXT)
    assert sql == ("COALESCE(LOGICAL_OR(x > 1), FALSE) AND n < 3 AND s = \"norm-slug\""
                   " AND d <= '2024-05-14'")


@pytest.mark.parametrize("field", ["experimenter_slug", "start_date_str", "end_date_str", "enrollment_period",
                                   "reference_branch", "app_name", "app_id", "branches", "sample_size",
                                   "analysis_unit"])
def test_every_documented_experiment_field_is_available(field):
    assert render_sql("{{experiment.%s}}" % field, CONTEXT) != ""


def test_strict_undefined_and_syntax_errors_raise_with_line():
    with pytest.raises(TemplateError, match="undefined"):
        render_sql("{{experiment.nope}}", CONTEXT)
    with pytest.raises(TemplateError) as error:
        render_sql("a\nb\n{{ agg_any( }}", CONTEXT)
    assert error.value.line == 3


def test_branch_parameter_in_a_bare_position_becomes_case_of_literals():
    assert render_sql("x = {{parameters.label}}", CONTEXT) == (
        "x = CASE WHEN e.branch = 'control' THEN 'a' WHEN e.branch = 'treatment' THEN 'b' END")


def test_from_expression_dataset_and_literal_brace_escapes():
    text = "(SELECT '{{abc-123}}' AS id, '{{experiment.start_date_str}}' AS d FROM `p.{dataset}.t`)"
    assert render_source(text, VIEW, "ds") == "(SELECT '{abc-123}' AS id, '2024-05-01' AS d FROM `p.ds.t`)"
    with pytest.raises(TemplateError, match="default_dataset"):
        render_source("{dataset}.t", VIEW, None)


def test_sandbox_refuses_python_internals():
    with pytest.raises(TemplateError):
        render_sql("{{ experiment.__class__.__mro__ }}", CONTEXT)


def test_a_constant_filter_folded_at_compile_time_leaves_no_budget_behind():
    """A budget kept after a render would carry its deadline into later renders of the thread."""
    from engine.config.resolve import template_limits
    assert render_sql("{{ 'abc'|upper }} {{ 'q'|lower }}", CONTEXT) == "ABC q"
    assert template_limits._BUDGET.get() is None
