"""The whole bot through real HTTP: PR opened with a broken config, fixed, merged, re-analysed
(by a stand-in engine, and by the real `jetstream analyse` over a synthetic DuckDB file)."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from bot.engine_port import dry_run_backend, reanalyse
from bot.reports import MARKER, escape
from engine.synthetic.world import generate
from tests.bot import payloads
from tests.bot.fake_github import FakePull
from tests.bot.fixtures import fake_github, rsa_key, settings  # noqa: F401  (shared fixtures)
from tests.bot.harness import Bot, experiment_toml, registry_json, seed_repo

DEFINITIONS = Path(__file__).resolve().parents[2] / "engine" / "definitions"

REPO = "octo/experiments"
BROKEN = '[experiment]\nenrollment_period = 7\nend_date = = "2024-04-01"\n'


@pytest.fixture
def bot(fake_github, settings, tmp_path):
    registry = registry_json({
        "alpha": ("fenix", "2024-03-01", "2024-04-01"),        # its config changes
        "bravo": ("fenix", "2024-03-01", None),                # live on the platform whose defaults change
        "charlie": ("firefox_desktop", "2024-03-01", None),    # other platform: untouched
        "delta": ("fenix", "2023-01-01", "2023-02-01"),        # ended long ago: untouched
    })
    instance = Bot(settings, registry, tmp_path)
    yield instance
    instance.close()


def _comments(repo):
    return [c for c in repo.comments if MARKER in c["body"]]


def test_pr_broken_fixed_merged(fake_github, bot):
    repo, base = seed_repo(fake_github, REPO, ["alpha", "bravo", "charlie", "delta"])
    defaults = repo.commits[base]["engine/defaults/fenix.toml"] + b"\n# tuned\n"
    head1 = repo.commit({"experiments/alpha.toml": BROKEN, "engine/defaults/fenix.toml": defaults}, "wip", parent=base)
    repo.pulls[12] = FakePull(12, base, head1)

    answer = bot.deliver("pull_request", payloads.pull_request("opened", REPO, 12, head1, base))
    assert answer.status_code == 202
    assert repo.check_runs == []  # nothing inline: the worker does the GitHub work
    bot.work()

    [run] = repo.check_run("jetstream/validate", head1)
    assert run["conclusion"] == "failure"
    assert any(a["path"] == "experiments/alpha.toml" and a["start_line"] == 3
               and a["annotation_level"] == "failure" for a in run["annotations"])
    [comment] = _comments(repo)
    assert "experiments/alpha\\.toml:3" in comment["body"]
    assert "merging re-analyses 2 experiments" in comment["body"]
    assert "alpha: its config changed; fenix defaults changed" in comment["body"]
    assert "bravo: fenix defaults changed" in comment["body"]
    assert "charlie" not in comment["body"] and "delta" not in comment["body"]

    head2 = repo.commit({"experiments/alpha.toml": experiment_toml()}, "fix", parent=head1)
    repo.pulls[12].head_sha = head2
    bot.deliver("pull_request", payloads.pull_request("synchronize", REPO, 12, head2, base))
    bot.work()
    [run2] = repo.check_run("jetstream/validate", head2)
    assert run2["conclusion"] == "success", run2["annotations"]
    [comment2] = _comments(repo)
    assert comment2["id"] == comment["id"] and comment2["edits"] >= 1
    assert "✅" in comment2["body"]

    merge_sha = repo.commit({}, "Merge pull request #12", parent=head2)
    repo.pulls[12].merged, repo.pulls[12].merge_sha = True, merge_sha
    bot.deliver("pull_request", payloads.pull_request("closed", REPO, 12, head2, base, merge_sha=merge_sha))
    bot.deliver("push", payloads.push(REPO, base, merge_sha, ["experiments/alpha.toml"], "Merge pull request #12"))
    bot.work()

    assert sorted(bot.engine.calls) == [("alpha", "2024-03-19"), ("bravo", "2024-03-19")]
    assert bot.engine.recomputed == [True, True]  # a merge recomputes every ready window
    [final] = _comments(repo)
    assert final["id"] == comment["id"]
    for slug in ("alpha", "bravo"):
        assert f"| {slug} | succeeded | [results](http://results.test/experiments/{slug}) |" in final["body"]
    [reanalysis] = repo.check_run("jetstream/reanalysis", merge_sha)
    assert reanalysis["conclusion"] == "success" and reanalysis["status"] == "completed"


def test_rerun_skip_marker_skips_reanalysis(fake_github, bot):
    repo, base = seed_repo(fake_github, REPO, ["alpha"])
    head = repo.commit({"experiments/alpha.toml": experiment_toml() + "# x\n"}, "edit", parent=base)
    bot.merge(repo, 3, base, head, "Merge #3 [ci rerun-skip]")
    bot.work()
    assert bot.engine.calls == []
    [comment] = _comments(repo)
    assert "Skipped" in comment["body"]


# A deliberately small analysis (two weekly/overall metrics, no segments), so the real engine runs
# in seconds: the platform defaults and the outcome the registry names live in the test repository.
SMALL_DEFAULTS = """[metrics]
weekly = ["days_of_use"]
overall = ["days_of_use"]

[metrics.days_of_use.statistics.binomial]
"""
SMALL_OUTCOME = """friendly_name = "Mobile stability"
description = "Crashes."

[metrics.crashed]
friendly_name = "Crashed"
description = "Whether the client crashed."
select_expression = "COUNT(document_id) > 0"
data_source = "crash"
[metrics.crashed.statistics.binomial]
"""
SLUG = "fenix-toolbar-redesign"
BEFORE = '[experiment]\nreference_branch = "control"\n'
AFTER = BEFORE + '\n[metrics]\noverall = ["active_hours"]\n\n[metrics.active_hours.statistics.count]\n'


@pytest.fixture(scope="module")
def telemetry(tmp_path_factory):
    path = tmp_path_factory.mktemp("telemetry") / "telemetry.duckdb"
    return path, generate(path, clients=2000, days=60, seed=1)


def _small_repo(fake_github):
    repo = fake_github.repo(REPO)
    files = {f"engine/definitions/{p.name}": p.read_bytes() for p in DEFINITIONS.glob("*.toml")}
    files.update({"engine/defaults/fenix.toml": SMALL_DEFAULTS, "experiments/" + SLUG + ".toml": BEFORE,
                  "outcomes/fenix/mobile_stability.toml": SMALL_OUTCOME})
    return repo, repo.commit(files, "base")


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)).split())


def test_merge_reanalyses_with_the_real_engine_and_links_its_page(fake_github, settings, tmp_path, telemetry):
    db, world = telemetry
    bot = Bot(replace(settings, telemetry_db=db), json.loads(world.registry_json()), tmp_path,
              engine=reanalyse, serve_results=True)
    try:
        repo, base = _small_repo(fake_github)
        head = repo.commit({f"experiments/{SLUG}.toml": AFTER}, "count active hours", parent=base)
        merge_sha = bot.merge(repo, 21, base, head)
        bot.work()

        [comment] = _comments(repo)
        [link] = re.findall(r"\| succeeded \| \[results\]\(([^)]+)\) \|", comment["body"])
        assert link == f"{bot.url}/experiments/{SLUG}", comment["body"]
        [run] = repo.check_run("jetstream/reanalysis", merge_sha)
        assert run["conclusion"] == "success"

        page = bot.http.get(link)
        assert page.status_code == 200
        text = _text(page.text)
        assert f"{SLUG} · fenix · 2024-01-29 → 2024-02-29 · analysed for 2024-02-29" in text
        counts = world.enrollments[SLUG].groupby("branch").size()
        enrollment = text[text.index("Enrollment"):text.index("Sample ratio")]
        for branch, clients in counts.items():
            assert f"{branch} {clients} " in enrollment
        assert "days_of_use" in text and "crashed" in text  # defaults and the registry's outcome
        overall = _text(bot.http.get(link, params={"period": "overall"}).text)
        assert "active_hours · count" in overall  # the metric the merged PR added
        assert (tmp_path / "results" / "tables" / f"{SLUG}.duckdb").is_file()
    finally:
        bot.close()


# A metric whose SQL parses but names a column the crash table does not have: only a dry run
# against the warehouse can tell.
UNKNOWN_COLUMN = BEFORE + """
[metrics]
overall = ["crash_depth"]

[metrics.crash_depth]
select_expression = "SUM(no_such_column)"
data_source = "crash"

[metrics.crash_depth.statistics.bootstrap_mean]
"""
SELECT_LINE = 8


def test_same_repo_pr_sql_is_dry_run_and_a_fork_pr_gets_structural_checks_only(
        fake_github, settings, tmp_path, telemetry):
    db, world = telemetry
    opened = []

    def recording_backend(bot_settings):
        backend = dry_run_backend(bot_settings)
        opened.append(backend)
        return backend

    bot = Bot(replace(settings, telemetry_db=db), json.loads(world.registry_json()), tmp_path,
              dry_run_backend=recording_backend)
    try:
        repo, base = _small_repo(fake_github)
        path = f"experiments/{SLUG}.toml"
        fork_head = repo.commit({path: UNKNOWN_COLUMN}, "crash depth (from a fork)", parent=base)
        repo.pulls[41] = FakePull(41, base, fork_head, fork=True)
        bot.deliver("pull_request", payloads.pull_request("opened", REPO, 41, fork_head, base))
        bot.work()
        assert opened == []  # the warehouse is never even opened for a fork
        [run] = repo.check_run("jetstream/validate", fork_head)
        assert run["conclusion"] == "success", run["annotations"]
        assert not any(a["title"].startswith(("sql-", "dry-run")) for a in run["annotations"])
        [fork_comment] = [c["body"] for c in _comments(repo) if c["issue"] == 41]
        assert "structural checks only" in fork_comment and "such" not in fork_comment

        head = repo.commit({path: UNKNOWN_COLUMN}, "crash depth", parent=base)
        repo.pulls[42] = FakePull(42, base, head)
        bot.deliver("pull_request", payloads.pull_request("opened", REPO, 42, head, base))
        bot.work()
        [backend] = opened
        assert backend.name == "duckdb"
        with pytest.raises(duckdb.ConnectionException):  # closed once the validation was done
            backend.dry_run("SELECT 1")
        [run] = repo.check_run("jetstream/validate", head)
        assert run["conclusion"] == "failure"
        [binder] = [a for a in run["annotations"] if a["title"].startswith("sql-")]
        assert (binder["path"], binder["start_line"], binder["annotation_level"]) == (path, SELECT_LINE, "failure")
        assert binder["title"] == "sql-binder" and "no_such_column" in binder["message"]
        [comment] = [c["body"] for c in _comments(repo) if c["issue"] == 42]
        assert f"| ❌ | {escape(path)}:{SELECT_LINE} | sql\\-binder | metric crash\\_depth: " in comment
        assert "no\\_such\\_column" in comment and "dry-run on duckdb" in comment
        assert "structural checks only" not in comment
    finally:
        bot.close()
