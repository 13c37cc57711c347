import pytest

from engine.config.repository import load_repository
from engine.config.resolve.experiment import resolve
from engine.experimenter import parse_entry
from tests.config.mini_root import DEFINITIONS, mini_root, write

CASES = {
    "unknown-metric-in-list": ('[metrics]\nweekly = [\n  "active_hours",\n  "nope_metric",\n]\n',
                               "unknown-metric", 4),
    "unknown-data-source": ('[metrics]\nweekly = ["m"]\n[metrics.m]\nselect_expression = "1"\n'
                            'data_source = "nowhere"\nstatistics = { binomial = {} }\n',
                            "unknown-data-source", 5),
    "no-statistics": ('[metrics]\noverall = ["search_count"]\n', "metric-without-statistics", 2),
    "unknown-outcome": ('[experiment]\noutcomes = ["nope"]\n', "unknown-outcome", 2),
    "unknown-segment": ('[experiment]\nsegments = [\n"heavy",\n"light"]\n', "unknown-segment", 4),
    "segment-data-source": ('[experiment]\nsegments = ["s"]\n[segments.s]\nselect_expression = "TRUE"\n'
                            'data_source = "gone"\n', "unknown-segment-data-source", 5),
    "depends-on": ('[metrics]\nweekly = ["r"]\n[metrics.r]\ndepends_on = ["uri_count", "ghost"]\n'
                   'statistics = { population_ratio = { numerator = "uri_count", denominator = "ghost2" } }\n',
                   "unknown-metric", 4),
    "ratio-target": ('[metrics]\nweekly = ["r"]\n[metrics.r]\ndepends_on = ["uri_count"]\n'
                     'statistics = { population_ratio = { numerator = "uri_count", denominator = "ghost2" } }\n',
                     "unknown-metric", 5),
    "sql-syntax": ('[metrics]\nweekly = ["m"]\n[metrics.m]\nselect_expression = """\nSUM(x +\n"""\n'
                   'data_source = "clients_daily"\nstatistics = { binomial = {} }\n', "sql-syntax", 5),
    "template-undefined": ('[metrics]\nweekly = ["m"]\n[metrics.m]\nselect_expression = "{{agg_nope(x)}}"\n'
                           'data_source = "clients_daily"\nstatistics = { binomial = {} }\n',
                           "template-error", 4),
    "enrollment-query": ('[experiment]\nenrollment_query = "SELECT FROM WHERE"\n', "sql-syntax", 2),
    "exposure-source": ('[experiment.exposure_signal]\nname = "x"\nselect_expression = "TRUE"\n'
                        'data_source = "nowhere"\n', "unknown-data-source", 4),
    "end-before-start": ('[experiment]\nstart_date = "2024-02-01"\nend_date = "2024-01-01"\n',
                         "end-before-start", 3),
    "enrollment-after-end": ('[experiment]\nstart_date = "2024-01-01"\nend_date = "2024-01-05"\n'
                             'enrollment_period = 9\n', "enrollment-after-end", 4),
    "bad-date": ('[experiment]\nstart_date = "2024-13-01"\n', "invalid-date", 2),
    "per-branch-missing": ('[parameters.p]\ndefault = { control = "a" }\ndistinct_by_branch = true\n',
                           "parameter-missing-branch", 1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_reference_is_an_error_at_its_line(tmp_path, name):
    text, code, line = CASES[name]
    repo = load_repository(mini_root(tmp_path, {"exp": text}))
    entry = parse_entry({"slug": "exp", "appName": "firefox_desktop",
                         "branches": [{"slug": "control"}, {"slug": "treatment"}]})
    result = resolve(repo.experiments["exp"], repo, entry, "firefox_desktop")
    assert not result.ok
    hits = [f for f in result.findings if f.code == code]
    assert hits, result.findings
    assert hits[0].line == line, hits
    assert hits[0].path == "experiments/exp.toml"


def test_reference_branch_must_be_a_registry_branch(tmp_path):
    repo = load_repository(mini_root(tmp_path, {"exp": '[experiment]\nreference_branch = "ctrl"\n'}))
    entry = parse_entry({"slug": "exp", "appName": "firefox_desktop", "branches": [{"slug": "control"}]})
    result = resolve(repo.experiments["exp"], repo, entry, None)
    assert [(f.code, f.line) for f in result.findings] == [("unknown-reference-branch", 2)]


def test_outcome_of_another_platform_names_where_it_exists(tmp_path):
    root = write(mini_root(tmp_path, {"exp": '[experiment]\noutcomes = ["search"]\n'}), {
        "outcomes/fenix/only_fenix.toml": "friendly_name = 'x'\ndescription = 'y'\n",
        "engine/definitions/fenix.toml": DEFINITIONS})
    repo = load_repository(root)
    result = resolve(repo.experiments["exp"], repo, None, "fenix")
    (finding,) = [f for f in result.findings if f.code == "outcome-platform"]
    assert "firefox_desktop" in finding.hint


def test_sql_error_column_points_into_the_line(tmp_path):
    text = '[metrics]\nweekly = ["m"]\n[metrics.m]\nselect_expression = "SUM(x"\ndata_source = "clients_daily"\nstatistics = { binomial = {} }\n'
    repo = load_repository(mini_root(tmp_path, {"exp": text}))
    result = resolve(repo.experiments["exp"], repo, None, "firefox_desktop")
    (finding,) = [f for f in result.findings if f.code == "sql-syntax"]
    assert finding.line == 4 and finding.column is not None and finding.column > len('select_expression = "')


def test_fail_fast_stops_at_the_first_error(tmp_path):
    text = '[metrics]\nweekly = ["nope_one", "nope_two"]\n'
    repo = load_repository(mini_root(tmp_path, {"exp": text}))
    full = resolve(repo.experiments["exp"], repo, None, "firefox_desktop")
    fast = resolve(repo.experiments["exp"], repo, None, "firefox_desktop", fail_fast=True)
    assert [f.message for f in full.findings if f.is_error] == [
        "metric 'nope_one' (listed for weekly) is not defined for platform firefox_desktop",
        "metric 'nope_two' (listed for weekly) is not defined for platform firefox_desktop"]
    assert not fast.ok and [f for f in fast.findings if f.is_error] == [full.findings[0]]


def test_offline_validation_reports_the_best_platform_in_full_with_hints(tmp_path):
    from engine.check.validate import validate
    root = write(mini_root(tmp_path, {
        "exp": '[metrics]\nweekly = ["active_hour", "uri_cont"]\n',
        "fine": '[metrics]\nweekly = ["active_hours"]\n'}), {
        "engine/definitions/fenix.toml": DEFINITIONS.replace("[metrics.active_hours]",
                                                             "[metrics.fenix_only]"),
        "engine/defaults/fenix.toml": ""})
    report = validate(root)
    assert report.experiments["fine"].resolved_on == ("firefox_desktop",)
    assert report.experiments["fine"].spec.platform == "firefox_desktop"
    broken = report.experiments["exp"]
    assert broken.resolved_on == () and broken.spec is None
    errors = [(f.line, f.message.split(" (")[0], f.hint) for f in broken.findings if f.is_error]
    assert errors == [(2, "metric 'active_hour'", "did you mean 'active_hours'?"),
                      (2, "metric 'uri_cont'", "did you mean 'uri_count'?")]
