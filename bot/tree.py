"""Materialise the config files of a commit (via the contents API) into a directory laid out like
the repository, so the validator and engine read it as an ordinary config root.

Blobs are cached by their git SHA, so unchanged files are fetched once across PRs and pushes.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from bot.github import RepoClient
from engine.findings import Finding, Severity

CONFIG_PREFIXES = ("experiments/", "outcomes/", "engine/defaults/", "engine/definitions/",
                   "jetstream/", "definitions/")
MAX_FILES = 5_000
MAX_PATH_CHARS = 1_024  # git allows longer names; no config path comes near
MAX_PART_CHARS = 255  # a file-name component (the file system's own limit)
UNSAFE_PATH = "unsafe-path"
_BLOB = re.compile(r"[0-9a-f]{4,64}")  # blob SHAs name cache files


def is_config_path(path: str) -> bool:
    return path.endswith(".toml") and path.startswith(CONFIG_PREFIXES)


def path_problem(name: str) -> str | None:
    """Why a repository path from GitHub must not be joined onto a work tree, or None."""
    if not name or len(name) > MAX_PATH_CHARS:
        return f"path is empty or longer than {MAX_PATH_CHARS} characters"
    if any(ord(c) < 32 for c in name):
        return "path contains NUL or control characters"
    pure = PurePosixPath(name)
    if pure.is_absolute() or name.startswith("\\"):
        return "path is absolute"
    if ".." in pure.parts or "." in name.split("/"):
        return "path leaves its directory ('..' or '.')"
    if any(len(part) > MAX_PART_CHARS for part in pure.parts):
        return f"a path component is longer than {MAX_PART_CHARS} characters"
    return None


def shown(name: str) -> str:
    """A path from GitHub as it may appear in PR text: bounded and printable."""
    text = "".join(c if c.isprintable() else "?" for c in name[:200])
    return text + ("…" if len(name) > 200 else "")


def guard(root: Path, path: Path | str) -> Path | Finding:
    """The one guard for file names that come from GitHub: the path under `root` it names (a
    repository-relative name, or `root / name`), or a finding that never shows a server path.
    Checked by name, then after resolving symlinks: the file must stay inside `root`."""
    base = root.resolve()
    text = str(path)
    if isinstance(path, Path) and text.startswith(str(root) + "/"):
        text = text[len(str(root)) + 1:]
    elif isinstance(path, Path) and text.startswith(str(base) + "/"):
        text = text[len(str(base)) + 1:]
    problem = path_problem(text)
    if problem is None:
        try:
            resolved = (base / text).resolve()
            if resolved != base and base not in resolved.parents:
                problem = "path leaves the repository (symbolic link)"
        except (OSError, RuntimeError, ValueError):
            problem = "path cannot be resolved"
    if problem is not None:
        return Finding(shown(text), None, None, Severity.ERROR, UNSAFE_PATH,
                       f"file name refused: {problem}", "rename the file inside the config directories")
    return base / text


def materialise(client: RepoClient, sha: str, dest: Path, cache_dir: Path) -> list[str]:
    """Write every config file at `sha` under `dest`; returns their repository paths."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    wanted = sorted((p, b) for p, b in client.tree(sha).items()
                    if is_config_path(p) and _BLOB.fullmatch(b))
    written = []
    for path, blob in wanted[:MAX_FILES]:
        target = guard(dest, path)
        if isinstance(target, Finding):
            continue
        cached = cache_dir / blob
        if cached.is_file():
            content = cached.read_bytes()
        else:
            content = client.content(path, sha) or b""
            _atomic_write(cached, content)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        except OSError:  # e.g. `a.toml` and `a.toml/b.toml` in one tree: the second is dropped
            continue
        written.append(path)
    return written


def materialise_once(client: RepoClient, sha: str, work_dir: Path) -> Path:
    """A persistent tree for `sha` (merge commits), published atomically by a directory rename."""
    work_dir = work_dir.resolve()
    final = work_dir / "trees" / sha
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{sha[:12]}-", dir=work_dir))
    materialise(client, sha, staging, work_dir / "blobs")
    try:
        os.rename(staging, final)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another worker published it first
    return final


def _atomic_write(path: Path, content: bytes) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(handle, "wb") as out:
        out.write(content)
    os.replace(temp, path)
