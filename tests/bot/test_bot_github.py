"""bot.github against the fake server over real HTTP: auth, pagination, renames, check runs, comment."""
from __future__ import annotations

from bot.github import ChangedFile, CheckOutput, GitHubApp

REPO = "octo/configs"


def _seed(fake_github, files: int = 3):
    repo = fake_github.repo(REPO)
    base = repo.commit({"experiments/old.toml": "a = 1\n", "outcomes/fenix/x.toml": "b = 2\n"}, "base")
    changed = {f"experiments/e{i:03}.toml": f"v = {i}\n" for i in range(files)}
    head = repo.commit({**changed, "experiments/new.toml": "a = 1\n"}, "head", parent=base,
                       remove=("experiments/old.toml",))
    return repo, base, head


def test_installation_token_pagination_and_renames(fake_github, settings):
    repo, base, head = _seed(fake_github, files=75)
    from tests.bot.fake_github import FakePull
    repo.pulls[7] = FakePull(7, base, head, renames={"experiments/new.toml": "experiments/old.toml"})
    client = GitHubApp(settings).repo(1, REPO)
    files = client.changed_files(7)
    assert len(files) == 76
    assert ChangedFile("experiments/new.toml", "renamed", "experiments/old.toml") in files
    assert sum(1 for m, p in fake_github.requests if "/files" in p) >= 1
    pull = client.pull(7)
    assert (pull.head_sha, pull.base_sha, pull.fork) == (head, base, False)
    assert client.content("outcomes/fenix/x.toml", head) == b"b = 2\n"
    assert client.content("nope.toml", head) is None
    assert "experiments/e074.toml" in client.tree(head)
    # one token exchange for many calls: the installation token is cached
    assert sum(1 for m, p in fake_github.requests if p.startswith("/api/v3/app/")) == 1


def test_check_run_annotations_batched_and_sticky_comment(fake_github, settings):
    repo, base, head = _seed(fake_github)
    client = GitHubApp(settings).repo(1, REPO)
    run = client.start_check("jetstream/validate", head, external_id="k")
    annotations = tuple({"path": "a.toml", "start_line": i, "end_line": i, "annotation_level": "failure",
                         "message": f"m{i}"} for i in range(1, 121))
    client.complete_check(run, CheckOutput("3 errors", "summary", "failure", annotations))
    again = client.start_check("jetstream/validate", head, external_id="k")
    assert again.id == run.id and len(repo.check_runs) == 1
    stored = repo.check_runs[0]
    assert len(stored["annotations"]) == 120 and stored["conclusion"] == "failure"
    first = client.upsert_comment(3, "<!-- m -->", "<!-- m -->\none")
    second = client.upsert_comment(3, "<!-- m -->", "<!-- m -->\ntwo")
    assert first == second and [c["body"] for c in repo.comments] == ["<!-- m -->\ntwo"]


def test_retries_on_server_errors(fake_github, settings):
    repo, base, head = _seed(fake_github)
    fake_github.fail_next("GET", r"/contents/", 502)
    fake_github.fail_next("GET", r"/contents/", 503)
    client = GitHubApp(settings).repo(1, REPO)
    assert client.content("outcomes/fenix/x.toml", head) == b"b = 2\n"
    repo.permissions["alice"] = "write"
    assert client.permission("alice") == "write" and client.permission("mallory") == "none"
