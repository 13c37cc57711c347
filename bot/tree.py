"""Materialise the config files of a commit (via the contents API) into a directory laid out like
the repository, so the validator and engine read it as an ordinary config root.

Blobs are cached by their git SHA, so unchanged files are fetched once across PRs and pushes.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from bot.github import RepoClient

CONFIG_PREFIXES = ("experiments/", "outcomes/", "engine/defaults/", "engine/definitions/",
                   "jetstream/", "definitions/")
MAX_FILES = 5_000


def is_config_path(path: str) -> bool:
    return path.endswith(".toml") and path.startswith(CONFIG_PREFIXES)


def _safe(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return bool(parts) and not PurePosixPath(path).is_absolute() and ".." not in parts


def materialise(client: RepoClient, sha: str, dest: Path, cache_dir: Path) -> list[str]:
    """Write every config file at `sha` under `dest`; returns their repository paths."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    wanted = sorted((p, b) for p, b in client.tree(sha).items() if is_config_path(p) and _safe(p))
    for path, blob in wanted[:MAX_FILES]:
        cached = cache_dir / blob
        if cached.is_file():
            content = cached.read_bytes()
        else:
            content = client.content(path, sha) or b""
            _atomic_write(cached, content)
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return [p for p, _ in wanted[:MAX_FILES]]


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
