"""Mutation suite: one valid config per kind, broken one way at a time.

Each mutation asserts the exact set of findings (severity, code, line) it must produce.
"""
import pytest

from engine.check.validate import validate
from engine.config.load import MAX_CONFIG_BYTES, parse_document
from engine.config.schema.structure import check_structure
from tests.config.mini_root import mini_root

E, W = "error", "warning"

EXPERIMENT = """\
[experiment]
start_date = "2024-01-02"
enrollment_period = 7
reference_branch = "control"
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
overall = ["clicks"]

[metrics.clicks]
select_expression = "SUM(clicks)"
data_source = "events"
bigger_is_better = true

[metrics.clicks.statistics.bootstrap_mean]
drop_highest = 0.01
pre_treatments = ["remove_nulls"]

[metrics.clicks.statistics.population_ratio]
numerator = "clicks"
denominator = "clicks"

[data_sources.events]
from_expression = "mozdata.t.events"
experiments_column_type = "native"

[segments.new_users]
data_source = "cls"
select_expression = "TRUE"

[segments.data_sources.cls]
from_expression = "mozdata.t.cls"
window_start = -7

[parameters.id]
distinct_by_branch = true
default = {control = "a"}
"""

OUTCOME = """\
friendly_name = "Outcome"
description = "What it measures"

[metrics.m]
select_expression = "1"
data_source = "d"

[metrics.m.statistics.binomial]

[data_sources.d]
from_expression = "t"
"""

DEFINITIONS = """\
[metrics.a]
select_expression = "1"
data_source = "d"

[data_sources.d]
from_expression = "t"
"""

DEFAULTS = """\
[metrics]
weekly = ["a"]

[metrics.a.statistics.deciles]
"""

FUNCTIONS = """\
[functions.agg_sum]
definition = "SUM({select_expr})"
"""

BASES = {"experiment": EXPERIMENT, "outcome": OUTCOME, "definitions": DEFINITIONS,
         "defaults": DEFAULTS, "functions": FUNCTIONS}

# (id, kind, {line number: replacement text}, expected {(severity, code, line)})
MUTATIONS = [
    ("syntax-missing-value", "experiment", {3: "enrollment_period = "}, {(E, "toml-syntax", 3)}),
    ("syntax-unclosed-header", "experiment", {15: "[metrics"}, {(E, "toml-syntax", 15)}),
    ("syntax-duplicate-key", "experiment", {4: "enrollment_period = 8"}, {(E, "toml-syntax", 4)}),
    ("syntax-unterminated-string", "experiment", {2: 'start_date = "2024-01-02'},
     {(E, "toml-syntax", 2)}),
    ("syntax-duplicate-table", "experiment", {36: "[segments.data_sources.cls]"},
     {(E, "toml-syntax", 40)}),
    ("period-as-string", "experiment", {3: 'enrollment_period = "7"'}, {(E, "wrong-type", 3)}),
    ("branch-as-int", "experiment", {4: "reference_branch = 1"}, {(E, "wrong-type", 4)}),
    ("segments-not-list", "experiment", {5: 'segments = "new_users"'}, {(E, "wrong-type", 5)}),
    ("segments-int-item", "experiment", {5: "segments = [1]"}, {(E, "wrong-type", 5)}),
    ("skip-as-string", "experiment", {4: 'skip = "yes"'}, {(E, "wrong-type", 4)}),
    ("sample-size-zero", "experiment", {4: "sample_size = 0"}, {(E, "bad-value", 4)}),
    ("sample-size-over-100", "experiment", {4: "sample_size = 150"}, {(E, "bad-value", 4)}),
    ("analysis-unit-unknown", "experiment", {4: 'analysis_unit = "client"'}, {(E, "bad-value", 4)}),
    ("enrollments-query-typo", "experiment", {4: 'enrollments_query = "SELECT 1"'},
     {(W, "unknown-key", 4)}),
    ("enrollment-end-date", "experiment", {4: 'enrollment_end_date = "2024-02-01"'},
     {(W, "unknown-key", 4)}),
    # a misspelling that silently drops a setting of the analysis is an error ...
    ("experiment-table-typo", "experiment", {1: "[experimentt]"}, {(E, "unknown-key", 1)}),
    ("experiment-table-transposed", "experiment", {1: "[experimnet]"}, {(E, "unknown-key", 1)}),
    ("metrics-table-singular", "experiment", {15: "[metric]"}, {(E, "unknown-key", 15)}),
    ("segments-key-typo", "experiment", {5: 'segmnets = ["new_users"]'}, {(E, "unknown-key", 5)}),
    ("reference-branch-typo", "experiment", {4: 'reference_brach = "control"'},
     {(E, "unknown-key", 4)}),
    # ... an unknown key that misspells nothing, or a known harmless misplacement, stays a warning
    ("experiment-unrelated-key", "experiment", {4: 'owner_team = "search"'}, {(W, "unknown-key", 4)}),
    ("enrollments-query-type-known", "experiment", {4: 'enrollments_query_type = "glean-event"'},
     set()),
    ("enrollments-query-type-bad", "experiment", {4: 'enrollments_query_type = "glean"'},
     {(E, "bad-value", 4)}),
    ("exposure-missing-name", "experiment", {8: ""}, {(E, "missing-key", 7)}),
    ("exposure-window-bad-word", "experiment", {13: 'window_end = "analysis_end"'},
     {(E, "bad-value", 13)}),
    ("exposure-window-float", "experiment", {13: "window_end = 1.5"}, {(E, "wrong-type", 13)}),
    ("exposure-key-typo", "experiment", {13: "windw_start = 0"}, {(W, "unknown-key", 13)}),
    ("period-list-as-string", "experiment", {16: 'weekly = "clicks"'}, {(E, "wrong-type", 16)}),
    ("period-name-typo", "experiment", {16: 'weeky = ["clicks"]'}, {(E, "wrong-type", 16)}),
    ("select-expression-int", "experiment", {20: "select_expression = 1"}, {(E, "wrong-type", 20)}),
    ("bigger-is-better-string", "experiment", {22: 'bigger_is_better = "yes"'},
     {(E, "wrong-type", 22)}),
    ("description-typo", "experiment", {22: 'descriptionn = "x"'}, {(W, "unknown-key", 22)}),
    ("metric-window", "experiment", {22: "window_start = 0"}, {(W, "unknown-key", 22)}),
    ("exposure-basis", "experiment", {22: 'exposure_basis = ["exposures"]'},
     {(W, "unknown-key", 22)}),
    ("analysis-basis-unknown", "experiment", {22: 'analysis_bases = ["exposure"]'},
     {(E, "bad-value", 22)}),
    ("analysis-units-unknown", "experiment", {22: 'analysis_units = ["client"]'},
     {(E, "bad-value", 22)}),
    ("level-unknown", "experiment", {22: 'level = "platinum"'}, {(E, "bad-value", 22)}),
    ("depends-on-string", "experiment", {22: 'depends_on = "a"'}, {(E, "wrong-type", 22)}),
    ("statistic-typo", "experiment", {24: "[metrics.clicks.statistics.bootstrap_means]"},
     {(E, "unknown-statistic", 24)}),
    ("owner-int", "experiment", {22: "owner = 5"}, {(E, "wrong-type", 22)}),
    ("drop-highest-too-big", "experiment", {25: "drop_highest = 2"}, {(E, "bad-value", 25)}),
    ("statistic-param-typo", "experiment", {25: "drop_higest = 0.1"},
     {(E, "unknown-parameter", 25)}),
    ("drop-highest-string", "experiment", {25: 'drop_highest = "0.01"'}, {(E, "wrong-type", 25)}),
    ("pre-treatment-typo", "experiment", {26: 'pre_treatments = ["remove_null"]'},
     {(E, "unknown-pre-treatment", 26)}),
    ("pre-treatment-table-typo", "experiment", {26: 'pre_treatments = [{name = "lg"}]'},
     {(E, "unknown-pre-treatment", 26)}),
    ("pre-treatment-not-list", "experiment", {26: 'pre_treatments = "remove_nulls"'},
     {(E, "wrong-type", 26)}),
    ("pre-treatment-param-typo", "experiment",
     {26: 'pre_treatments = [{name = "censor_highest_values", fractoin = 0.9}]'},
     {(E, "unknown-parameter", 26)}),
    ("pre-treatment-param-required", "experiment",
     {26: 'pre_treatments = [{name = "censor_values_above_threshold"}]'},
     {(E, "missing-key", 26)}),
    ("ratio-missing-numerator", "experiment", {29: ""}, {(E, "missing-key", 28)}),
    ("ratio-numerator-int", "experiment", {29: "numerator = 5"}, {(E, "wrong-type", 29)}),
    ("column-type-unknown", "experiment", {34: 'experiments_column_type = "nested"'},
     {(E, "bad-value", 34)}),
    ("from-expression-typo", "experiment", {34: 'from_expresion = "x"'}, {(W, "unknown-key", 34)}),
    ("segment-window-misplaced", "experiment", {38: "window_start = -7"},
     {(W, "unknown-key", 38), (E, "missing-key", 36)}),
    ("segment-window-string", "experiment", {42: 'window_start = "-7"'}, {(E, "wrong-type", 42)}),
    ("segment-source-no-from", "experiment", {41: ""}, {(E, "missing-key", 40)}),
    ("parameter-default-list", "experiment", {46: "default = [1, 2]"}, {(E, "wrong-type", 46)}),
    ("parameter-flag-string", "experiment", {45: 'distinct_by_branch = "true"'},
     {(E, "wrong-type", 45)}),
    ("outcome-no-description", "outcome", {2: ""}, {(E, "missing-key", 1)}),
    ("outcome-period-list", "outcome", {3: "[metrics]\nweekly = ['m']"}, {(E, "wrong-type", 4)}),
    ("definitions-no-from", "definitions", {6: 'friendly_name = "D"'}, {(E, "missing-key", 5)}),
    ("definitions-descriptions", "definitions", {3: 'descriptions = "x"'},
     {(W, "unknown-key", 3)}),
    ("defaults-confidence-too-high", "defaults",
     {4: "[metrics.a.statistics.deciles]\nconfidence_interval = 1.5"}, {(E, "bad-value", 5)}),
    ("functions-definition-int", "functions", {2: "definition = 5"}, {(E, "wrong-type", 2)}),
]


def mutate(text: str, edits: dict[int, str]) -> str:
    lines = text.split("\n")
    for number, replacement in edits.items():
        lines[number - 1] = replacement
    return "\n".join(lines)


def findings_for(raw: bytes, kind: str) -> set[tuple[str, str, int | None]]:
    doc = parse_document(f"{kind}.toml", raw)
    return {(f.severity.value, f.code, f.line) for f in (*doc.findings, *check_structure(doc, kind))}


def test_suite_is_large_and_distinct():
    assert len(MUTATIONS) >= 40
    assert len({m[0] for m in MUTATIONS}) == len(MUTATIONS)
    assert len({(m[1], tuple(sorted(m[2].items()))) for m in MUTATIONS}) == len(MUTATIONS)


@pytest.mark.parametrize("kind", sorted(BASES))
def test_bases_are_clean(kind):
    assert findings_for(BASES[kind].encode(), kind) == set()


@pytest.mark.parametrize("name, kind, edits, expected", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_mutation(name, kind, edits, expected):
    assert findings_for(mutate(BASES[kind], edits).encode(), kind) == expected


@pytest.mark.parametrize("raw, expected", [
    (EXPERIMENT.encode().replace(b"SUM(clicks)", b"SUM(\xe9)"), {(E, "not-utf8", 20)}),
    (EXPERIMENT.encode().replace(b"Saw it", b"Saw\x00it"), {(E, "binary-file", 9)}),
    (EXPERIMENT.encode() + b"#" * MAX_CONFIG_BYTES, {(E, "file-too-large", 1)}),
    (b"", {(W, "empty-file", 1)}),
], ids=["latin-1", "nul-byte", "oversized", "empty"])
def test_unusable_files(raw, expected):
    assert findings_for(raw, "experiment") == expected


# ---- through the whole validator: references, dates, templates, SQL -------------------------

VALID_EXPERIMENT = """\
[experiment]
start_date = "2024-01-02"
end_date = "2024-02-01"
enrollment_period = 7
segments = ["heavy"]
outcomes = ["search"]
enrollment_query = "SELECT client_id FROM t WHERE d >= '{{experiment.start_date_str}}'"

[metrics]
weekly = ["search_count", "clicks"]
overall = ["search_count"]

[metrics.search_count.statistics.deciles]

[metrics.clicks]
select_expression = "{{agg_sum('clicks')}}"
data_source = "events"

[metrics.clicks.statistics.bootstrap_mean]

[data_sources.events]
from_expression = "(SELECT * FROM mozdata.t.events)"
experiments_column_type = "none"
"""

VALIDATOR_MUTATIONS = [
    ("date-not-a-date", {2: 'start_date = "2024-13-02"'}, {(E, "invalid-date", 2)}),
    ("end-before-start", {3: 'end_date = "2023-12-01"'}, {(E, "end-before-start", 3)}),
    ("enrollment-past-end", {4: "enrollment_period = 60"}, {(E, "enrollment-after-end", 4)}),
    ("enrollment-period-zero", {4: "enrollment_period = 0"}, {(E, "invalid-enrollment-period", 4)}),
    ("segment-missing", {5: 'segments = ["light"]'}, {(E, "unknown-segment", 5)}),
    ("outcome-missing", {6: 'outcomes = ["nope"]'}, {(E, "unknown-outcome", 6)}),
    ("enrollment-sql", {7: 'enrollment_query = "SELECT FROM WHERE"'}, {(E, "sql-syntax", 7)}),
    ("enrollment-template", {7: 'enrollment_query = "{{experiment.nope}}"'},
     {(E, "template-error", 7)}),
    ("metric-missing", {10: 'weekly = ["search_count", "clickz"]'}, {(E, "unknown-metric", 10)}),
    ("select-sql", {16: 'select_expression = "SUM("'}, {(E, "sql-syntax", 16)}),
    ("select-unknown-function", {16: "select_expression = \"{{agg_summ('x')}}\""},
     {(E, "template-error", 16)}),
    ("data-source-missing", {17: 'data_source = "evnts"'}, {(E, "unknown-data-source", 17)}),
    ("statistic-typo-drops-metric", {19: "[metrics.clicks.statistics.bootstrap_maen]"},
     {(E, "unknown-statistic", 19), (E, "metric-without-statistics", 10)}),
    ("from-sql", {22: 'from_expression = "SELECT * FROM"'}, {(E, "sql-syntax", 22)}),
    ("from-missing", {22: ""}, {(E, "missing-from-expression", 21)}),
    ("segment-window-ignored", {23: 'experiments_column_type = "none"\n[segments.heavy]\n'
                                     'data_source = "clients_last_seen"\n'
                                     'select_expression = "TRUE"\nwindow_start = -3'},
     {(W, "unknown-key", 27)}),
]


def validator_findings(root, text: str) -> set[tuple[str, str, int | None]]:
    report = validate(mini_root(root, {"exp": text}), [root / "experiments" / "exp.toml"])
    return {(f.severity.value, f.code, f.line) for f in report.findings
            if f.severity.value != "notice"}


def test_valid_experiment_is_clean(tmp_path):
    assert validator_findings(tmp_path, VALID_EXPERIMENT) == set()


@pytest.mark.parametrize("name, edits, expected", VALIDATOR_MUTATIONS,
                         ids=[m[0] for m in VALIDATOR_MUTATIONS])
def test_validator_mutation(tmp_path, name, edits, expected):
    assert validator_findings(tmp_path, mutate(VALID_EXPERIMENT, edits)) == expected
