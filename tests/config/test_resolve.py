from engine.config.repository import load_repository
from engine.config.resolve.experiment import resolve
from engine.experimenter import parse_entry
from tests.config.mini_root import DEFINITIONS, mini_root, write


def _resolve(tmp_path, text, entry=None):
    repo = load_repository(mini_root(tmp_path, {"exp": text}))
    return resolve(repo.experiments["exp"], repo, entry, "firefox_desktop"), repo


def test_defaults_and_definitions_merge_into_a_spec(tmp_path):
    result, _ = _resolve(tmp_path, "")
    assert result.ok, result.findings
    overall = {m.name: m for m in result.spec.metrics["overall"]}
    assert overall["active_hours"].select_expression == "COALESCE(SUM(active_hours_sum), 0)"
    # defaults give statistics, so the definitions' suggested bootstrap_mean is replaced
    assert [s.name for s in overall["active_hours"].statistics] == ["deciles"]
    assert overall["uri_count"].data_source.from_expression == "mozdata.telemetry.clients_daily"


def test_experiment_overrides_per_field_and_explicit_false_wins(tmp_path):
    result, _ = _resolve(tmp_path, """
[metrics.uri_count]
bigger_is_better = false
[metrics.uri_count.statistics.deciles]
confidence_interval = 0
""")
    assert result.ok, result.findings
    metric = next(m for m in result.spec.metrics["overall"] if m.name == "uri_count")
    assert metric.bigger_is_better is False
    assert metric.select_expression == "SUM(uris)"
    assert dict(metric.statistics[0].params) == {"confidence_interval": 0}


def test_wildcard_override_applies_to_matching_metrics_below_exact_tables(tmp_path):
    result, _ = _resolve(tmp_path, """
[metrics]
weekly = ["search_count", "search_with_ads"]
[metrics."search_*"]
friendly_name = "Search (wildcard)"
statistics = { bootstrap_mean = {} }
[metrics.search_with_ads]
friendly_name = "Ads"
""")
    assert result.ok, result.findings
    weekly = {m.name: m for m in result.spec.metrics["weekly"]}
    assert weekly["search_count"].friendly_name == "Search (wildcard)"
    assert weekly["search_with_ads"].friendly_name == "Ads"
    assert [s.name for s in weekly["search_with_ads"].statistics] == ["bootstrap_mean"]


def test_partial_data_source_override_merges_field_by_field_without_mutating(tmp_path):
    result, repo = _resolve(tmp_path, """
[data_sources.clients_daily]
client_id_column = "legacy_client_id"
""")
    assert result.ok, result.findings
    source = result.spec.data_sources["clients_daily"]
    assert source.client_id_column == "legacy_client_id"
    assert source.from_expression == "mozdata.telemetry.clients_daily"
    shared = repo.definitions["firefox_desktop"].data_sources["clients_daily"]
    assert "client_id_column" not in shared.fields


def test_outcome_metrics_are_analysed_weekly_and_overall(tmp_path):
    result, _ = _resolve(tmp_path, '[experiment]\noutcomes = ["search"]\n')
    assert result.ok, result.findings
    for period in ("weekly", "overall"):
        assert "searches_per_hour" in [m.name for m in result.spec.metrics[period]]
    assert result.spec.experiment.outcomes == ("search",)


def test_parameters_distinct_by_branch_become_a_case_over_registry_branches(tmp_path):
    entry = parse_entry({"slug": "exp", "appName": "firefox_desktop", "startDate": "2024-01-01",
                         "branches": [{"slug": "control"}, {"slug": "treatment"}],
                         "referenceBranch": "control"})
    result, _ = _resolve(tmp_path, """
[parameters.message_id]
default = { control = "A", treatment = "B" }
distinct_by_branch = true
[metrics]
weekly = ["impressions"]
[metrics.impressions]
select_expression = "COUNTIF(message_id = '{{ parameters.message_id }}')"
data_source = "clients_daily"
statistics = { bootstrap_mean = {} }
""", entry)
    assert result.ok, result.findings
    metric = result.spec.metric_definitions["impressions"]
    assert metric.select_expression == (
        "COUNTIF(message_id = CASE WHEN e.branch = 'control' THEN 'A' "
        "WHEN e.branch = 'treatment' THEN 'B' END)")


def test_experiment_templates_and_dataset_placeholder(tmp_path):
    entry = parse_entry({"slug": "exp", "appName": "firefox_desktop", "startDate": "2024-03-01",
                         "proposedEnrollment": 7, "branches": [{"slug": "control"}]})
    result, _ = _resolve(tmp_path, """
[experiment]
enrollment_query = "SELECT client_id FROM t WHERE d BETWEEN '{{experiment.start_date_str}}' AND '{{experiment.last_enrollment_date_str}}'"
[metrics]
weekly = ["baseline_days"]
[metrics.baseline_days]
select_expression = "COUNT(*)"
data_source = "baseline"
statistics = { bootstrap_mean = {} }
""", entry)
    assert result.ok, result.findings
    assert "'2024-03-01' AND '2024-03-07'" in result.spec.experiment.enrollment_query
    source = result.spec.metric_definitions["baseline_days"].data_source
    assert source.from_expression == "`moz-fx-data-shared-prod.org_mozilla_firefox.baseline`"


def test_segments_resolve_with_their_data_source(tmp_path):
    result, _ = _resolve(tmp_path, '[experiment]\nsegments = ["heavy"]\n')
    assert result.ok, result.findings
    (segment,) = result.spec.segments
    assert segment.data_source.window_start == -7


def test_definitions_shared_across_experiments_still_see_each_experiments_context(tmp_path):
    """Metrics no experiment layer touches are resolved once per platform; a data source
    that needs the experiment's dataset_id or fields must still be rendered per experiment."""
    definitions = {"engine/definitions/firefox_desktop.toml": DEFINITIONS + '''
[metrics.events]
select_expression = "COUNT(*)"
data_source = "events"
statistics = { bootstrap_mean = {} }
[metrics.visits]
select_expression = "COUNT(*)"
data_source = "visits"
statistics = { bootstrap_mean = {} }
[data_sources.events]
from_expression = "`proj.{dataset}.events`"
[data_sources.visits]
from_expression = "(SELECT * FROM v WHERE slug = '{{experiment.experimenter_slug}}')"
'''}
    root = mini_root(tmp_path, {
        "plain": '[metrics]\nweekly = ["visits"]\n',
        "with_dataset": '[experiment]\ndataset_id = "ds"\n[metrics]\nweekly = ["events", "visits"]\n'})
    repo = load_repository(write(root, definitions))
    first = resolve(repo.experiments["plain"], repo, None, "firefox_desktop")
    second = resolve(repo.experiments["with_dataset"], repo, None, "firefox_desktop")
    assert first.ok and second.ok, (first.findings, second.findings)
    sources = second.spec.metric_definitions
    assert sources["events"].data_source.from_expression == "`proj.ds.events`"
    assert "slug = 'with_dataset'" in sources["visits"].data_source.from_expression
    assert "slug = 'plain'" in first.spec.metric_definitions["visits"].data_source.from_expression


def test_templates_render_per_experiment_when_they_read_it(tmp_path):
    """Renderings of templates that read neither experiment nor parameters are reused; the
    others are rendered for each experiment."""
    text = '''[metrics]
weekly = ["tagged", "summed"]
[metrics.tagged]
select_expression = "{{agg_sum('x')}} + LENGTH('{{experiment.experimenter_slug}}')"
data_source = "clients_daily"
statistics = { bootstrap_mean = {} }
[metrics.summed]
select_expression = "{{agg_sum('x')}}"
data_source = "clients_daily"
statistics = { bootstrap_mean = {} }
'''
    repo = load_repository(mini_root(tmp_path, {"one": text, "two": text}))
    specs = [resolve(repo.experiments[s], repo, None, "firefox_desktop").spec for s in ("one", "two")]
    assert [s.metric_definitions["tagged"].select_expression for s in specs] == [
        "COALESCE(SUM(x), 0) + LENGTH('one')", "COALESCE(SUM(x), 0) + LENGTH('two')"]
    assert {s.metric_definitions["summed"].select_expression for s in specs} == {"COALESCE(SUM(x), 0)"}
