"""`kill -9` of the worker process at 13 points of a validation and a merge with a real re-analysis
(real PostgreSQL store, real `jetstream worker` and `jetstream serve` processes, the real engine):
after each kill no process of the dead worker survives (runners and analysis children die with
it), a new worker recovers the job when its lease expires, and in the end every job completed once:
one check run per job, completed once, no annotation twice, one sticky comment, results published."""
from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

from bot.reports import MARKER
from engine.results.export import metadata_name
from tests.bot import payloads
from tests.bot.cluster import Cluster, alive, descendants
from tests.bot.fake_github import FakePull
from tests.bot.harness import base_files
from tests.bot.real_merge import SLUG, deliver_merge, telemetry

MANY = "octo/many"
BROKEN = 110  # broken configs: 110 annotations, sent in three batches (50, 50, 10)

# (method, path pattern, nth match) of the GitHub request during which the worker dies. The
# request itself goes through: a write GitHub applied for a client that is gone.
VALIDATION_POINTS = [
    ("GET", r"/pulls/1$", 1),
    ("POST", r"/check-runs$", 1),
    ("GET", r"/pulls/1/files$", 1),
    ("GET", r"/contents/", 40),
    ("POST", r"/issues/1/comments$", 1),
    ("PATCH", r"/check-runs/\d+$", 1),  # first batch of annotations
    ("PATCH", r"/check-runs/\d+$", 1),  # the second (the first resumed run's first PATCH)
    ("PATCH", r"/check-runs/\d+$", 1),  # the last, completing the run
]
MERGE_POINTS = [
    ("GET", r"/commits/[0-9a-f]{40}$", 1),  # planning the merge
    ("analysis", 0.5, 1),  # while `jetstream analyse` runs: soon after it started
    ("analysis", 1.0, 1),  # ... and later in it (a 2,000-client analysis now takes about 2 s)
    ("POST|PATCH", r"/issues/(\d+/)?comments(/\d+)?$", 1),  # the final report's comment write
    ("PATCH", r"/check-runs/\d+$", 1),  # ... and its completion of the re-analysis check run
]


class KillSwitch:
    """A fake-GitHub hook that kills the cluster's worker during the n-th matching request."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.lock = threading.Lock()
        self.armed: tuple[re.Pattern, re.Pattern, int] | None = None
        self.count = 0
        self.killed = threading.Event()
        self.family: set[int] = set()

    def arm(self, method: str, pattern: str, nth: int) -> None:
        with self.lock:
            self.armed, self.count = (re.compile(f"^({method})$"), re.compile(pattern), nth), 0
            self.killed.clear()

    def kill(self) -> None:
        self.family = self.cluster.kill9(self.cluster.workers[0])
        self.killed.set()

    def __call__(self, method: str, path: str) -> None:
        with self.lock:
            if self.armed is None or not self.armed[0].match(method) or not self.armed[1].search(path):
                return
            self.count += 1
            if self.count == self.armed[2]:
                self.armed = None
                self.kill()


def _analysis_running(worker_pid: int) -> bool:
    for pid in descendants(worker_pid):
        try:
            if b"analyse" in open(f"/proc/{pid}/cmdline", "rb").read():
                return True
        except OSError:
            pass
    return False


def _kill_during_analysis(switch: KillSwitch, delay: float) -> None:
    deadline = time.monotonic() + 90
    while not _analysis_running(switch.cluster.workers[0].pid):
        assert time.monotonic() < deadline, "no analysis started"
        time.sleep(0.05)
    time.sleep(delay)
    switch.kill()


def _pass_points(switch: KillSwitch, cluster: Cluster, points) -> None:
    for method, where, nth in points:
        if method == "analysis":
            _kill_during_analysis(switch, where)
        else:
            switch.arm(method, where, nth)
            assert switch.killed.wait(90), f"never reached {method} {where}: {cluster.logs()}"
        deadline = time.monotonic() + 15
        while any(alive(pid) for pid in switch.family):
            assert time.monotonic() < deadline, f"orphans after the kill at {method} {where}: " \
                f"{[open(f'/proc/{p}/cmdline', 'rb').read() for p in switch.family if alive(p)]}"
            time.sleep(0.05)
        cluster.start_worker(slots=1)


def test_kill_9_at_thirteen_points_then_every_job_completes_once(fake_github, rsa_key, tmp_path, postgres_server):
    db, registry = telemetry(tmp_path)
    cluster = Cluster(fake_github, rsa_key[0], postgres_server.new_database(), tmp_path, registry,
                      JETSTREAM_DB=str(db), JETSTREAM_LEASE_SECONDS="1")
    switch = KillSwitch(cluster)
    fake_github.hooks.append(switch)
    try:
        cluster.start_web()
        cluster.start_worker(slots=1)

        many = fake_github.repo(MANY)
        base = many.commit(dict(base_files()), "base")
        head = many.commit({f"experiments/broken{n:03}.toml": f"# {n}\n[experiment\n" for n in range(BROKEN)}, "wip", parent=base)
        many.pulls[1] = FakePull(1, base, head)
        assert cluster.deliver("pull_request", payloads.pull_request("opened", MANY, 1, head, base)) == 202
        _pass_points(switch, cluster, VALIDATION_POINTS)
        cluster.settle()

        repo, merge_sha = deliver_merge(fake_github, cluster)
        _pass_points(switch, cluster, MERGE_POINTS)
        counts = cluster.settle()

        records = cluster.store.select()
        # all done; only a report may have been superseded by a newer one (it renders the same state)
        assert counts["done"] and not [r for r in records if r.state != "done" and
                                       (r.job.kind, r.state) != ("report", "superseded")], records
        [run] = many.check_runs
        assert (run["status"], run["conclusion"], run["history"].count("completed")) == ("completed", "failure", 1)
        annotations = [json.dumps(a, sort_keys=True) for a in run["annotations"]]
        assert len(annotations) == len(set(annotations)) == BROKEN
        [comment] = [c for c in many.comments if MARKER in c["body"]]
        assert f"validation of {head[:7]}: {BROKEN} errors" in comment["body"]

        [reanalysis] = [r for r in records if r.job.kind == "reanalyse"]
        assert reanalysis.result["status"] == "succeeded" and reanalysis.attempts >= 3  # killed twice
        [comment] = [c for c in repo.comments if MARKER in c["body"]]
        assert f"| {SLUG.replace('-', chr(92) + '-')} | succeeded | [results](http://results.test/experiments/{SLUG}) |" \
            in comment["body"], comment["body"]
        [check] = repo.check_run("jetstream/reanalysis", merge_sha)
        assert (check["conclusion"], check["history"].count("completed")) == ("success", 1)
        metadata = json.loads((tmp_path / "results" / metadata_name(SLUG)).read_text())
        assert metadata  # published, whole (exports are atomic)
    finally:
        cluster.close()


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes() and alive(int(cmdline.parent.name)):
                found.append(int(cmdline.parent.name))
        except (OSError, ValueError):
            pass
    return found


def test_a_reanalysis_past_its_deadline_is_killed_with_its_children_and_fails_visibly(
        fake_github, rsa_key, tmp_path, postgres_server):
    db, registry = telemetry(tmp_path, clients=500, days=40, seed=2)
    cluster = Cluster(fake_github, rsa_key[0], postgres_server.new_database(), tmp_path, registry,
                      JETSTREAM_DB=str(db),
                      JETSTREAM_DEADLINES="reanalyse=1.5", JETSTREAM_MAX_ATTEMPTS="2")
    try:
        cluster.start_web()
        worker = cluster.start_worker(slots=1)
        repo, merge_sha = deliver_merge(fake_github, cluster)
        cluster.settle()
        assert worker.poll() is None  # the worker itself lives on
        [record] = cluster.store.select("reanalyse")
        assert (record.state, record.attempts) == ("failed", 2)
        assert record.error == "it did not finish within its 1.5 s deadline (gave up after 2 attempts)"
        [comment] = [c for c in repo.comments if MARKER in c["body"]]
        assert "failed: it did not finish within its 1\\.5 s deadline" in comment["body"], comment["body"]
        [check] = repo.check_run("jetstream/reanalysis", merge_sha)
        assert check["conclusion"] == "failure"
        assert _processes_mentioning(str(tmp_path / "results")) == []  # no analysis outlived its job
    finally:
        cluster.close()
