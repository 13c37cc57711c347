"""A huge pull request (hundreds of findings, hundreds of affected experiments): one sticky comment
within GitHub's limit that says where the rest is, and nothing lost (every finding an annotation,
the whole plan in the check run). The fake GitHub records an error for any over-long text."""
from __future__ import annotations

import re

from bot import reports
from bot.reports import MARKER
from engine.findings import Finding, Severity
from engine.plan.affected import Affected
from tests.bot import payloads
from tests.bot.fake_github import TEXT_LIMIT, FakePull
from tests.bot.harness import Bot, experiment_toml, registry_json, seed_repo

REPO = "octo/experiments"
UNKNOWN_KEYS = 600
EXPERIMENTS = 250
SHA = "f" * 40


def _huge_config() -> str:
    keys = [f"an_unknown_key_number_{i} = {i}" for i in range(UNKNOWN_KEYS)]
    return "\n".join([experiment_toml().rstrip("\n"), *keys]) + "\n"


def test_huge_pull_request_loses_nothing(fake_github, settings, tmp_path):
    slugs = [f"exp-{i:03}" for i in range(EXPERIMENTS)]
    bot = Bot(settings, registry_json({s: ("fenix", "2024-03-01", None) for s in slugs}), tmp_path)
    try:
        repo, base = seed_repo(fake_github, REPO, slugs)
        defaults = repo.commits[base]["engine/defaults/fenix.toml"] + b"\n# tuned\n"
        head = repo.commit({"experiments/exp-000.toml": _huge_config(), "engine/defaults/fenix.toml": defaults},
                           "huge", parent=base)
        repo.pulls[30] = FakePull(30, base, head)
        bot.deliver("pull_request", payloads.pull_request("opened", REPO, 30, head, base))
        bot.work()

        [run] = repo.check_run("jetstream/validate", head)
        unknown = [a for a in run["annotations"] if a["title"] == "unknown-key"]
        assert sorted(a["start_line"] for a in unknown) == list(range(3, 3 + UNKNOWN_KEYS))
        total = len(run["annotations"])
        assert run["output"]["annotations_count"] == total >= UNKNOWN_KEYS
        assert len(run["output"]["text"]) <= TEXT_LIMIT
        assert f"all {total} findings are annotations on this check run" in run["output"]["text"]
        assert all(f"- {reports.escape(s)}: " in run["output"]["summary"] for s in slugs)

        [comment] = [c for c in repo.comments if MARKER in c["body"]]
        body = comment["body"]
        assert len(body) <= TEXT_LIMIT and body.count("<details>") == 2
        shown = body.count("| ⚠️ |") + body.count("| ❌ |") + body.count("| ℹ️ |")
        [more] = re.findall(r"… (\d+) more finding\(s\) not shown here\. Nothing is lost: all (\d+) are "
                            r"annotations on the `jetstream/validate` check run", body)
        assert 0 < shown < total and shown + int(more[0]) == total and int(more[1]) == total
        assert f"merging re-analyses {EXPERIMENTS} experiments" in body
        assert f"- {reports.escape(slugs[0])}: its config changed; fenix defaults changed" in body
        assert all(f"- {reports.escape(s)}: fenix defaults changed" in body for s in slugs[1:])
    finally:
        bot.close()
    assert fake_github.errors == []


def test_plans_too_long_for_the_comment_continue_in_the_check_run():
    plan = [Affected(f"experiment-with-a-long-slug-{i:05}", ("fenix defaults changed",)) for i in range(1_500)]
    findings = [Finding("experiments/x.toml", i + 1, None, Severity.ERROR, "x", "m" * 100) for i in range(300)]
    body = reports.validation_comment(SHA, findings, plan, None, False)
    assert len(body) <= TEXT_LIMIT
    assert "the whole plan is the `jetstream/validate` check run's summary" in body
    text = reports.check_text(findings, plan)
    assert len(text.summary) <= TEXT_LIMIT and len(text.text) <= TEXT_LIMIT
    both = text.summary + text.text
    assert all(f"{reports.escape(a.slug)}: fenix defaults changed" in both for a in plan)
    assert "the plan continues in the details below" in text.summary
    assert "all 300 findings are annotations on this check run" in text.text


def test_reanalysis_of_thousands_of_experiments_fits():
    rows = [reports.ReanalysisRow(f"experiment-{i:05}", "succeeded", f"http://r.test/experiments/experiment-{i:05}")
            for i in range(2_000)]
    body = reports.reanalysis_comment(SHA, rows)
    assert len(body) <= TEXT_LIMIT and "<details>" in body
    assert "every status is in the `jetstream/reanalysis` check run's summary" in body
    title, summary, finished = reports.reanalysis_summary(rows)
    assert finished and title == "2000/2000 experiments re-analysed" and len(summary) <= TEXT_LIMIT
