"""Old code beside new: a temporary detached `git worktree` of a commit, and child processes
that run a snippet inside a code tree (the tree first on sys.path) and print JSON lines."""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv if venv.exists() else sys.executable)


@contextmanager
def old_tree(commit: str, parent: Path) -> Iterator[Path]:
    """The code at `commit` checked out under `parent`, removed again on exit."""
    tree = parent / "old"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit],
                   check=True, capture_output=True)
    try:
        yield tree
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                       check=False, capture_output=True)


def child(code: str, tree: Path, *args: str) -> list[dict]:
    """The JSON lines `code` prints, run with `tree` as working directory and sys.path."""
    out = subprocess.run([python(), "-c", code, *args], cwd=tree, check=True,
                         capture_output=True, text=True, env={"PYTHONPATH": str(tree),
                                                               "PATH": "/usr/bin:/bin"})
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
