"""The bot deployed as in production, on loopback: a real PostgreSQL server, two web instances and
two workers as separate processes, the strict fake GitHub; and the laptop form, one
`jetstream serve --with-worker` process on the SQLite store. The same race scenario on both."""
from __future__ import annotations

import random

import pytest

from tests.bot import scenario
from tests.bot.cluster import Cluster


@pytest.fixture
def cluster(fake_github, rsa_key, tmp_path):
    clusters = []

    def make(store: str) -> Cluster:
        instance = Cluster(fake_github, rsa_key[0], store, tmp_path, scenario.REGISTRY)
        clusters.append(instance)
        return instance

    yield make
    for instance in clusters:
        instance.close()


def _run(cluster: Cluster, fake_github, seed: int) -> None:
    rng = random.Random(seed)
    plan = scenario.prepare(fake_github, rng)
    scenario.deliver_all(cluster, plan, rng)
    cluster.settle()
    scenario.rerequest(cluster, plan)
    scenario.check(plan, cluster.settle(), cluster.store)
    assert fake_github.failures_after == []  # every injected ambiguous failure happened


def test_two_web_instances_and_two_workers_on_postgres(fake_github, cluster, postgres_server):
    deployment = cluster(postgres_server.new_database())
    for _ in range(2):
        deployment.start_web()
        deployment.start_worker(slots=2)
    _run(deployment, fake_github, seed=11)


def test_one_process_on_the_sqlite_store(fake_github, cluster, tmp_path):
    deployment = cluster(str(tmp_path / "jobs.sqlite"))
    deployment.start_web("--with-worker", "--workers", "2")
    _run(deployment, fake_github, seed=12)
