"""Result pages in real headless Chromium: the overview, every switch, failures, screenshots
(saved under test-artifacts/)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from bot.app import create_pages_app as pages_app
from tests.results.chromium import Browser
from tests.results.fixtures import write_export, write_failed

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Per plot: its rendered size and how many marks (lines, bands, points) it drew.
PLOTS = """Array.from(document.querySelectorAll('#metric-active_hours svg.plot')).map(s => {
  const box = s.getBoundingClientRect();
  return {w: box.width, h: box.height,
          marks: s.querySelectorAll('path.line, path.band, circle.point, line.interval').length};
})"""
# The overview as the reader sees it: one entry per row, with its adjusted significance.
OVERVIEW = """Array.from(document.querySelectorAll('#overview tr.overview-row')).map(r => ({
  metric: r.dataset.metric, branch: r.dataset.branch, statistic: r.dataset.statistic,
  p: r.dataset.pHolm, significance: r.dataset.significance,
  colour: getComputedStyle(r.querySelector('td.verdict')).color, text: r.innerText}))"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    directory = tmp_path_factory.mktemp("export")
    write_export(directory, "demo-experiment")
    write_export(directory, "other-exp", mismatch=True)
    write_failed(directory, "broken-exp")
    server = make_server("127.0.0.1", 0, pages_app(directory), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with Browser(tmp_path_factory.mktemp("chromium-profile")) as chromium:
        yield chromium


def overview_numbers(browser) -> list[str]:
    return [row["text"] for row in browser.evaluate(OVERVIEW)]


def test_index_lists_experiments_and_failures(site, browser):
    browser.open(f"{site}/experiments/")
    links = browser.evaluate("Array.from(document.querySelectorAll('a.experiment-link'))"
                             ".map(a => a.textContent)")
    assert links == ["broken-exp", "Demo experiment", "Demo experiment"]  # by the name shown
    failed = browser.evaluate("document.querySelector('tr.failed').innerText")
    assert "failed" in failed and "no start date" in failed
    browser.screenshot(ARTIFACTS / "results-index.png")


def test_overview_has_a_row_per_metric_and_branch_with_adjusted_significance(site, browser):
    browser.open(f"{site}/experiments/")
    browser.click("tr[data-slug='demo-experiment'] a.experiment-link")
    assert browser.evaluate("location.pathname") == "/experiments/demo-experiment"
    assert browser.evaluate("document.querySelector('#title').innerText") == "Demo experiment"
    assert browser.evaluate("document.querySelector('#experimenter-link').href").startswith(
        "https://experimenter.services.mozilla.com/nimbus/demo-experiment/")
    rows = browser.evaluate(OVERVIEW)
    assert [(r["metric"], r["branch"]) for r in rows] == [
        (m, b) for m in ("active_hours", "days_of_use", "retained") for b in ("control", "treatment")]
    days = rows[3]  # interval and raw p (0.03) say significant; the Holm-adjusted p does not
    assert float(days["p"]) == pytest.approx(0.06) and days["significance"] == "neutral"
    assert "not significant" in days["text"]
    groups = browser.evaluate("Array.from(document.querySelectorAll('#overview tr.group-title'))"
                              ".map(r => r.innerText)")
    assert groups == ["Primary outcome: Networking", "Guardrails"]
    plots = browser.evaluate(PLOTS)
    assert len(plots) == 6
    assert all(p["w"] > 200 and p["h"] > 40 and p["marks"] > 0 for p in plots), plots
    assert browser.evaluate("getComputedStyle(document.querySelector('section.panel'))"
                            ".backgroundColor") == "rgb(255, 255, 255)"  # stylesheet applied
    browser.screenshot(ARTIFACTS / "results-experiment.png")


@pytest.mark.parametrize("start, switch, value", [
    ("", "segment", "new_users"),
    ("", "basis", "exposures"),
    ("", "statistic", "linear_model_mean"),
    ("?period=weekly", "window", "1"),
])
def test_switching_changes_the_numbers(site, browser, start, switch, value):
    browser.open(f"{site}/experiments/demo-experiment{start}")
    before = overview_numbers(browser)
    browser.click(f"#switch-{switch} a[data-value='{value}']")
    assert f"{switch}={value}" in browser.evaluate("location.search")
    assert browser.evaluate(f"document.querySelector('#switch-{switch} a.active')"
                            ".dataset.value") == value
    after = overview_numbers(browser)
    assert len(after) == len(before) and after != before
    browser.screenshot(ARTIFACTS / f"results-experiment-{switch}-{value}.png")


def test_linear_model_is_significant_where_the_bootstrap_is_not(site, browser):
    browser.open(f"{site}/experiments/demo-experiment?statistic=linear_model_mean")
    hours = [r for r in browser.evaluate(OVERVIEW) if r["metric"] == "active_hours"]
    assert {r["statistic"] for r in hours} == {"linear_model_mean"}
    assert hours[1]["significance"] == "good"
    assert hours[1]["colour"] == "rgb(26, 127, 55)"  # the significance palette's green


def test_failed_experiment_shows_its_reason(site, browser):
    browser.open(f"{site}/experiments/")
    browser.click("tr[data-slug='broken-exp'] a.experiment-link")
    assert browser.evaluate("location.pathname") == "/experiments/broken-exp"
    assert "no start date" in browser.evaluate("document.querySelector('#failure').innerText")
    browser.screenshot(ARTIFACTS / "results-experiment-failed.png")


def test_experiment_with_errors_and_mismatch(site, browser):
    browser.open(f"{site}/experiments/other-exp?period=weekly")
    assert "mismatch" in browser.evaluate("document.querySelector('#srm').innerText")
    assert "boom" in browser.evaluate("document.querySelector('#errors').innerText")
    assert browser.evaluate(PLOTS)  # the weekly panel still draws its plots
    browser.screenshot(ARTIFACTS / "results-experiment-errors.png")
