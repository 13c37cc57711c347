"""Result pages in real headless Chromium: load, plots drawn, segment switch, screenshots."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from bot.app import create_pages_app as pages_app
from tests.results.chromium import Browser
from tests.results.fixtures import write_export

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Per plot: its rendered size and how many marks (lines, bands, points) it drew.
PLOTS = """Array.from(document.querySelectorAll('#metric-active_hours svg.plot')).map(s => {
  const box = s.getBoundingClientRect();
  return {w: box.width, h: box.height,
          marks: s.querySelectorAll('path.line, path.band, circle.point, line.interval').length};
})"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    directory = tmp_path_factory.mktemp("export")
    write_export(directory, "demo-experiment")
    write_export(directory, "other-exp", mismatch=True)
    server = make_server("127.0.0.1", 0, pages_app(directory), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with Browser(tmp_path_factory.mktemp("chromium-profile")) as chromium:
        yield chromium


def test_index_loads_and_links_experiments(site, browser):
    browser.open(f"{site}/experiments/")
    links = browser.evaluate("Array.from(document.querySelectorAll('a.experiment-link'))"
                             ".map(a => a.textContent)")
    assert links == ["demo-experiment", "other-exp"]
    assert browser.evaluate("document.querySelectorAll('.badge.bad').length") == 2
    browser.screenshot(ARTIFACTS / "results-index.png")


def test_experiment_page_draws_every_plot(site, browser):
    browser.open(f"{site}/experiments/")
    browser.click("a.experiment-link")
    assert browser.evaluate("location.pathname") == "/experiments/demo-experiment"
    plots = browser.evaluate(PLOTS)
    assert len(plots) == 6
    assert all(p["w"] > 200 and p["h"] > 40 and p["marks"] > 0 for p in plots), plots
    assert browser.evaluate("getComputedStyle(document.querySelector('section.panel'))"
                            ".backgroundColor") == "rgb(255, 255, 255)"  # stylesheet applied
    browser.screenshot(ARTIFACTS / "results-experiment.png")


def test_switching_segment_changes_the_panel(site, browser):
    browser.open(f"{site}/experiments/demo-experiment")
    before = browser.evaluate("document.querySelector('#metric-active_hours table').innerText")
    browser.click("#switch-segment a[data-value='new_users']")
    assert "segment=new_users" in browser.evaluate("location.search")
    after = browser.evaluate("document.querySelector('#metric-active_hours table').innerText")
    assert after != before
    assert browser.evaluate("document.querySelector('#switch-segment a.active').dataset.value") \
        == "new_users"
    browser.screenshot(ARTIFACTS / "results-experiment-new-users.png")


def test_experiment_with_errors_and_mismatch(site, browser):
    browser.open(f"{site}/experiments/other-exp?period=weekly")
    assert "mismatch" in browser.evaluate("document.querySelector('#srm').innerText")
    assert "boom" in browser.evaluate("document.querySelector('#errors').innerText")
    assert browser.evaluate(PLOTS)  # the weekly panel still draws its plots
    browser.screenshot(ARTIFACTS / "results-experiment-errors.png")
