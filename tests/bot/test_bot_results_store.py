"""Workers and web instances share results through the results store only: with
JETSTREAM_RESULTS_DIR=gs://bucket/prefix (a Cloud Storage JSON API on loopback), a worker's real
re-analysis publishes objects there and a web instance, sharing no disk with it, serves the page
the PR comment links."""
from __future__ import annotations

import re

import pytest

from bot.reports import MARKER
from bot.results import open_results
from engine.results.export import metadata_name
from tests.bot.cluster import Cluster
from tests.bot.fake_gcs import FakeGcs
from tests.bot.real_merge import SLUG, deliver_merge, telemetry


@pytest.fixture
def gcs(monkeypatch):
    server = FakeGcs()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.host)
    yield server
    server.close()
    assert server.errors == []


def test_a_worker_publishes_to_gcs_and_another_instance_serves_it(fake_github, rsa_key, tmp_path, gcs,
                                                                   postgres_server):
    db, registry = telemetry(tmp_path)
    cluster = Cluster(fake_github, rsa_key[0], postgres_server.new_database(), tmp_path, registry,
                      JETSTREAM_DB=str(db),
                      JETSTREAM_RESULTS_DIR="gs://results-bucket/jetstream/v1")
    try:
        web = cluster.start_web()
        cluster.env["JETSTREAM_WORK_DIR"] = str(tmp_path / "worker-disk")  # no disk shared with web
        cluster.start_worker(slots=1)
        repo, _ = deliver_merge(fake_github, cluster)
        cluster.settle()

        assert ("results-bucket", f"jetstream/v1/{metadata_name(SLUG)}") in gcs.objects
        assert not (tmp_path / "results").exists()  # nothing went to a local directory
        [comment] = [c for c in repo.comments if MARKER in c["body"]]
        assert re.search(r"\| succeeded \| \[results\]\(http://results\.test/experiments/", comment["body"])
        page = cluster.http.get(f"{web}/experiments/{SLUG}")
        assert page.status_code == 200 and SLUG in page.text and "days_of_use" in page.text
        assert SLUG in cluster.http.get(f"{web}/experiments/").text
        assert open_results("gs://results-bucket/jetstream/v1").slugs() == [SLUG]
    finally:
        cluster.close()
