"""Every hostile input of the catalogue, through `jetstream validate` (the click command) and
through the bot's validation path, in worker processes under a generous per-input timeout and a
memory limit: the expected finding, no traceback, no hang, nothing from outside the tree, no
server path and no warehouse value in the output."""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.hostile.catalogue import CATALOGUE, EXP, Case
from tests.hostile.world import CLIENT_IDS, SECRET, experiment, telemetry, write_root

TIMEOUT = 120  # seconds per input: generous; a hang or a 100M-element array never finishes in it
ROOT_DIR = Path(__file__).resolve().parents[2]


def _prepare(base: Path, case: Case) -> Path:
    root = write_root(base / case.id / "root", {} if case.symlink else case.files)
    if case.symlink:
        (root / EXP).parent.mkdir(parents=True, exist_ok=True)
        (root / EXP).symlink_to(root.parent / case.symlink)
    return root


class Worker:
    """`tests.hostile.worker` in a child process; an input that overruns TIMEOUT kills it (the
    answer is then None) and the next input gets a fresh one."""

    def __init__(self) -> None:
        self.child: subprocess.Popen | None = None

    def ask(self, door: str, args: list[str]) -> tuple[int | None, str, str]:
        if self.child is None:
            env = dict(os.environ, PYTHONPATH=str(ROOT_DIR))
            self.child = subprocess.Popen([sys.executable, "-m", "tests.hostile.worker"], cwd=ROOT_DIR,
                                          env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          text=True)
        self.child.stdin.write(json.dumps({"door": door, "args": args}) + "\n")
        self.child.stdin.flush()
        ready, _, _ = select.select([self.child.stdout], [], [], TIMEOUT)
        line = self.child.stdout.readline() if ready else ""
        if not line:  # overran the bound (or died): never reused
            self.close()
            return None, "", "no answer"
        answer = json.loads(line)
        return answer["exit"], answer["out"], answer["err"]

    def close(self) -> None:
        if self.child is not None:
            self.child.kill()
            self.child.wait()
            self.child = None


def _cli(worker: Worker, root: Path, db: Path, case: Case):
    target = [str(root / EXP)] if not case.symlink else []
    dry = ["--db", str(db)] if case.dry_run else []
    return worker.ask("cli", ["validate", "--config-root", str(root), "--format", "json", *target, *dry])


def _bot(worker: Worker, root: Path, db: Path, case: Case):
    names = case.paths or (EXP,)
    return worker.ask("bot", [str(root), str(db) if case.dry_run else "-",
                              *(n.encode("utf-8", "surrogateescape").hex() for n in names)])


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Every (case, door) run once, two at a time (the machine is shared)."""
    base = tmp_path_factory.mktemp("hostile")
    db = telemetry(base / "tele.duckdb")
    jobs = {}
    for case in CATALOGUE:
        root = _prepare(base, case)
        if case.cli:
            jobs[(case.id, "cli")] = (_cli, root, case)
        jobs[(case.id, "bot")] = (_bot, root, case)
    workers = [Worker(), Worker()]
    keys = list(jobs)

    def run_share(index: int) -> dict:
        share = {}
        for key in keys[index::2]:
            run, root, case = jobs[key]
            share[key] = run(workers[index], root, db, case)
        return share

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = {k: v for part in pool.map(run_share, range(2)) for k, v in part.items()}
    finally:
        for worker in workers:
            worker.close()
    return base, results


def test_catalogue_is_large_and_distinct():
    assert len(CATALOGUE) >= 25 and len({c.id for c in CATALOGUE}) == len(CATALOGUE)


def _no_escape(text: str, base: Path) -> None:
    assert SECRET not in text  # nothing read from outside the tree
    assert str(base) not in text and "/tmp/" not in text  # no server path
    assert not any(client in text for client in CLIENT_IDS)  # no warehouse value
    assert "Traceback" not in text


@pytest.mark.parametrize("case", [c for c in CATALOGUE if c.cli], ids=lambda c: c.id)
def test_through_jetstream_validate(outcomes, case):
    base, results = outcomes
    code, out, err = results[(case.id, "cli")]
    assert code is not None, f"no answer within {TIMEOUT} s"
    assert code == (1 if case.code else 0), err[-2000:]  # never 3 (internal error)
    codes = {f["code"] for f in json.loads(out) if f["severity"] == "error"}
    assert codes == ({case.code} if case.code else set())
    _no_escape(out + err, base)


@pytest.mark.parametrize("case", CATALOGUE, ids=lambda c: c.id)
def test_through_the_bot_validation_path(outcomes, case):
    base, results = outcomes
    code, out, err = results[(case.id, "bot")]
    assert code == 0, err[-2000:]
    answer = json.loads(out)
    assert answer["codes"] == ([case.code] if case.code else [])
    _no_escape(answer["comment"] + json.dumps(answer["annotations"]) + err, base)


def test_a_clean_experiment_is_clean_through_both_doors(tmp_path):
    root = write_root(tmp_path / "root", {EXP: experiment()})
    db = telemetry(tmp_path / "tele.duckdb")
    case = Case("clean", None, dry_run=True)
    worker = Worker()
    try:
        code, out, _ = _cli(worker, root, db, case)
        assert code == 0 and not [f for f in json.loads(out) if f["severity"] == "error"]
        code, out, _ = _bot(worker, root, db, case)
        assert code == 0 and json.loads(out)["codes"] == []
    finally:
        worker.close()
