"""Result pages through Flask's test client over a real export directory."""
from __future__ import annotations

import html
import os
import re

import pytest

from bot.app import create_pages_app as pages_app
from tests.results.fixtures import write_export, write_failed


@pytest.fixture
def export(tmp_path):
    write_export(tmp_path, "demo-experiment")
    write_export(tmp_path, "other-exp", mismatch=True)
    write_failed(tmp_path, "broken-exp")
    return tmp_path


@pytest.fixture
def client(export):
    return pages_app(export).test_client()


def panel(page: str, metric: str) -> str:
    match = re.search(rf'<section class="panel" id="metric-{metric}".*?</section>', page, re.S)
    assert match, f"no panel for {metric}"
    return match.group(0)


def overview(page: str) -> list[dict[str, str]]:
    """Every overview row's data attributes and text."""
    rows = re.findall(r'<tr class="overview-row[^"]*"(.*?)>(.*?)</tr>', page, re.S)
    return [{**dict(re.findall(r'data-([a-z-]+)="([^"]*)"', attrs)),
             "text": re.sub(r"<[^>]+>|\s+", " ", body)} for attrs, body in rows]


def groups(page: str) -> list[str]:
    return re.findall(r'<tr class="group-title"><th colspan="\d+">([^<]+)</th>', page)


def test_index_lists_experiments_with_srm_errors_and_failures(client):
    page = client.get("/experiments/").get_data(as_text=True)
    assert 'href="/experiments/demo-experiment"' in page and 'href="/experiments/other-exp"' in page
    assert ">Demo experiment</a>" in page  # the display name, the slug below it
    row = re.search(r'<tr class="" data-slug="other-exp">.*?</tr>', page, re.S).group(0)
    assert "mismatch" in row and 'badge bad">1<' in row
    failed = re.search(r'<tr class="failed" data-slug="broken-exp">.*?</tr>', page, re.S).group(0)
    assert "no start date (neither configured nor in the registry)" in failed
    assert 'href="/experiments/broken-exp"' in failed


def test_failed_experiment_page_shows_its_reason(client):
    response = client.get("/experiments/broken-exp")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="failure"' in page and "no start date" in page
    assert 'id="errors"' in page and "runnable" in page


def test_overview_has_a_row_per_metric_and_branch_grouped(client):
    page = client.get("/experiments/demo-experiment").get_data(as_text=True)
    assert '<h1 id="title">Demo experiment</h1>' in page
    assert 'href="https://experimenter.services.mozilla.com/nimbus/demo-experiment/summary"' in page
    assert groups(page) == ["Primary outcome: Networking", "Guardrails"]
    rows = overview(page)
    assert [(r["metric"], r["branch"]) for r in rows] == [
        ("active_hours", "control"), ("active_hours", "treatment"),
        ("days_of_use", "control"), ("days_of_use", "treatment"),
        ("retained", "control"), ("retained", "treatment")]
    days = rows[3]
    # raw p = 0.03 < 0.05, but the Holm-adjusted p (0.06, as exported) is what counts
    assert float(days["p-holm"]) == pytest.approx(0.06) and days["significance"] == "neutral"
    assert "not significant" in days["text"] and "0.060" in days["text"]
    assert rows[4]["text"].count("empty_branch") == 1


def test_significance_follows_the_adjusted_p_value_per_segment(client):
    rows = overview(client.get("/experiments/demo-experiment?segment=new_users")
                    .get_data(as_text=True))
    days = next(r for r in rows if r["metric"] == "days_of_use" and r["branch"] == "treatment")
    assert float(days["p-holm"]) == pytest.approx(0.03) and days["significance"] == "good"


def test_statistic_selector_switches_numbers(client):
    base = client.get("/experiments/demo-experiment").get_data(as_text=True)
    assert re.search(r'id="switch-statistic".*data-value="linear_model_mean"', base, re.S)
    link = html.unescape(re.search(r'data-value="linear_model_mean" href="([^"]+)"', base).group(1))
    assert "statistic=linear_model_mean" in link
    switched = client.get(link).get_data(as_text=True)
    hours = [r for r in overview(switched) if r["metric"] == "active_hours"]
    assert {r["statistic"] for r in hours} == {"linear_model_mean"}
    assert hours[1]["significance"] == "good"  # the narrower interval is significant
    assert overview(base)[1]["significance"] == "neutral"
    assert [r["statistic"] for r in overview(switched) if r["metric"] == "days_of_use"] == \
        ["bootstrap_mean"] * 2  # metrics without it keep their own


def test_panels_plots_and_units(client):
    page = client.get("/experiments/demo-experiment").get_data(as_text=True)
    hours = panel(page, "active_hours")
    for caption in ("Estimate per branch", "Relative difference to control",
                    "Relative difference to control by week",
                    "Deciles of values after log(base=10)", "Density (KDE)", "Empirical CDF"):
        assert f"<figcaption>{caption}</figcaption>" in hours
    assert hours.count("<svg") == 6 and "Active hours" in hours
    over_time = re.search(r"by week</figcaption>(<svg.*?</svg>)", hours).group(1)
    assert re.search(r'>-?\d+(\.\d+)?%</text>', over_time)  # percent, as in the tables
    assert "empty_branch (no client in this branch)" in panel(page, "retained")
    assert "empty_branch" not in hours


def test_branch_colours_are_the_same_everywhere(client):
    page = client.get("/experiments/demo-experiment").get_data(as_text=True)
    swatches = set(re.findall(r'class="swatch" style="background: (#[0-9a-f]{6})"', page))
    svg_colours = set(re.findall(r'class="line" stroke="(#[0-9a-f]{6})"', page))
    assert len(swatches) == 2 and svg_colours == swatches
    assert "#1a7f37" not in swatches and "#cf222e" not in swatches  # significance colours


def test_daily_tab_plots_days(tmp_path):
    from engine.results.export import DirectorySink, export_experiment
    from tests.results.fixtures import records

    export_experiment(DirectorySink(tmp_path), "daily-exp", {"daily": records("daily", range(1, 5))},
                      {"experiment": "daily-exp", "reference_branch": "control"}, [])
    page = pages_app(tmp_path).test_client().get("/experiments/daily-exp").get_data(as_text=True)
    assert "<figcaption>Relative difference to control by day</figcaption>" in page
    assert "by week" not in page


def test_segment_switch_changes_the_overview(client):
    base = client.get("/experiments/demo-experiment").get_data(as_text=True)
    link = html.unescape(re.search(r'<a class="" data-value="new_users" href="([^"]+)"', base).group(1))
    assert link == "/experiments/demo-experiment?segment=new_users&basis=enrollments&period=overall&window=1"
    switched = client.get(link).get_data(as_text=True)
    assert overview(switched)[1]["text"] != overview(base)[1]["text"]
    assert 'class="active" data-value="new_users"' in switched


def test_period_switch_shows_weekly_windows(client):
    page = client.get("/experiments/demo-experiment?period=weekly&window=2").get_data(as_text=True)
    assert 'id="switch-window"' in page and 'class="active" data-value="2"' in page
    assert '<span class="switch-label">Week</span>' in page
    assert "<figcaption>Deciles" not in panel(page, "active_hours")


def test_mismatch_and_errors_are_shown(client):
    page = client.get("/experiments/other-exp").get_data(as_text=True)
    assert 'id="srm"' in page and "<b>mismatch</b>" in page
    assert page.index('id="srm-warning"') < page.index('id="overview"')  # warned up front
    assert 'id="srm-warning"' not in client.get("/experiments/demo-experiment").get_data(as_text=True)
    assert 'id="errors"' in page and "boom" in page


def test_pages_read_each_file_once_and_notice_a_new_export(export, client):
    before = client.get("/experiments/demo-experiment").get_data(as_text=True)
    path = export / "statistics_demo-experiment_overall.json"
    stat = path.stat()
    path.write_bytes(b"x" * stat.st_size)  # unreadable as JSON, same size and mtime
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert client.get("/experiments/demo-experiment").get_data(as_text=True) == before
    path.write_text("[]\n")  # a re-export: new size and mtime
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert 'id="no-results"' in client.get("/experiments/demo-experiment").get_data(as_text=True)


def test_unknown_or_hostile_slug_is_404(client):
    assert client.get("/experiments/nope").status_code == 404
    assert client.get("/experiments/..%2Fetc").status_code == 404


def test_static_css_served(client):
    assert client.get("/results-static/results.css").status_code == 200


def test_pages_only_app_serves_pages_without_webhook(tmp_path):
    write_export(tmp_path, "demo-experiment")
    client = pages_app(tmp_path).test_client()
    assert client.get("/healthz").get_json() == {"ok": True}
    assert client.get("/experiments/demo-experiment").status_code == 200
    assert client.post("/webhook", data=b"{}").status_code == 404
