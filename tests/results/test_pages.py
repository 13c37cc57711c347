"""Result pages through Flask's test client over a real export directory."""
from __future__ import annotations

import html
import re

import pytest

from bot.app import create_pages_app as pages_app
from tests.results.fixtures import write_export


@pytest.fixture
def client(tmp_path):
    write_export(tmp_path, "demo-experiment")
    write_export(tmp_path, "other-exp", mismatch=True)
    return pages_app(tmp_path).test_client()


def panel(page: str, metric: str) -> str:
    match = re.search(rf'<section class="panel" id="metric-{metric}".*?</section>', page, re.S)
    assert match, f"no panel for {metric}"
    return match.group(0)


def test_index_lists_experiments_with_srm_and_errors(client):
    page = client.get("/experiments/").get_data(as_text=True)
    assert 'href="/experiments/demo-experiment"' in page and 'href="/experiments/other-exp"' in page
    row = re.search(r"<tr>\s*<td><a[^>]*other-exp.*?</tr>", page, re.S).group(0)
    assert "mismatch" in row and 'badge bad">1<' in row


def test_experiment_page_defaults_to_overall_all_enrollments(client):
    response = client.get("/experiments/demo-experiment")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'class="active" data-value="overall"' in page
    assert 'class="active" data-value="all"' in page
    assert "consistent with the configured ratios" in page
    hours = panel(page, "active_hours")
    for caption in ("Estimate per branch", "Relative difference to control",
                    "Weekly windows over time", "Deciles", "Density (KDE)", "Empirical CDF"):
        assert f"<figcaption>{caption}</figcaption>" in hours
    assert hours.count("<svg") == 6 and "Active hours" in hours
    retained = panel(page, "retained")
    assert "empty_branch (no client in this branch)" in retained


def test_segment_switch_changes_the_panel(client):
    base = client.get("/experiments/demo-experiment").get_data(as_text=True)
    link = html.unescape(re.search(r'<a class="" data-value="new_users" href="([^"]+)"', base).group(1))
    assert link == "/experiments/demo-experiment?segment=new_users&basis=enrollments&period=overall&window=1"
    switched = client.get(link).get_data(as_text=True)
    assert panel(switched, "active_hours") != panel(base, "active_hours")
    assert 'class="active" data-value="new_users"' in switched


def test_period_switch_shows_weekly_windows(client):
    page = client.get("/experiments/demo-experiment?period=weekly&window=2").get_data(as_text=True)
    assert 'id="switch-window"' in page and 'class="active" data-value="2"' in page
    assert "<figcaption>Deciles</figcaption>" not in panel(page, "active_hours")


def test_mismatch_and_errors_are_shown(client):
    page = client.get("/experiments/other-exp").get_data(as_text=True)
    assert 'id="srm"' in page and "<b>mismatch</b>" in page
    assert 'id="errors"' in page and "boom" in page


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
