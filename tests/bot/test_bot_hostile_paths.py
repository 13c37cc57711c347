"""File names from GitHub, end to end over HTTP against the strict fake GitHub: a changed file
named to climb out of the work tree is an `unsafe-path` finding; the file it names is never
read, and no server path reaches the comment or the annotations."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from bot.reports import MARKER
from tests.bot import payloads
from tests.bot.fake_github import FakePull
from tests.bot.harness import Bot, experiment_toml, registry_json, seed_repo

REPO = "octo/experiments"
SECRET = "TOPSECRET-outside-the-work-tree"


def test_changed_files_that_climb_out_are_findings_never_reads(fake_github, settings, tmp_path):
    outside = Path(tempfile.gettempdir()) / "pwned.toml"  # where experiments/../../ lands
    outside.write_text(f'[experiment]\nsecret = "{SECRET}"\n')
    bot = Bot(settings, registry_json({"alpha": ("fenix", "2024-03-01", None)}), tmp_path)
    try:
        repo, base = seed_repo(fake_github, REPO, ["alpha"])
        head = repo.commit({"experiments/../../pwned.toml": experiment_toml(),
                            "experiments/alpha.toml": experiment_toml() + "# edit\n"}, "edit", parent=base)
        repo.pulls[8] = FakePull(8, base, head)
        assert bot.deliver("pull_request", payloads.pull_request("opened", REPO, 8, head, base)).status_code == 202
        bot.work()
        [run] = repo.check_run("jetstream/validate", head)
        [comment] = [c for c in repo.comments if MARKER in c["body"]]
    finally:
        bot.close()
        outside.unlink()
    assert run["conclusion"] == "failure"
    text = comment["body"] + json.dumps(run)
    assert "unsafe\\-path" in comment["body"] and "unsafe-path" in json.dumps(run)
    assert SECRET not in text and tempfile.gettempdir() + "/" not in text
