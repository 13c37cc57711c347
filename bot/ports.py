"""The bot's narrow doors into the engine: validate a config tree, re-analyse one experiment,
estimate bytes. Handlers receive a `Ports` value, so tests and later wiring swap one function.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from engine.config.layout import LayoutError, detect_layout
from engine.config.load import load_document
from engine.findings import Finding, Severity
from engine.registry import Registry, RegistryError, load_registry


@dataclass(frozen=True)
class ReanalysisOutcome:
    status: str  # succeeded | failed | unavailable
    detail: str = ""


def load_registry_or_none(source: str | None) -> Registry | None:
    if not source:
        return None
    try:
        return load_registry(source)
    except RegistryError:
        return None


def validate_tree(root: Path, paths: list[Path] | None = None, registry: Registry | None = None) -> list[Finding]:
    """Findings for `paths` (all configs when None) of the config tree at `root`."""
    if importlib.util.find_spec("engine.config.validate") is not None:
        from engine.config.validate import validate

        return list(validate(root, paths, registry=registry).findings)
    return _parse_only(root, paths)


def _parse_only(root: Path, paths: list[Path] | None) -> list[Finding]:
    """Fallback until the validator lands: TOML syntax and file-level checks only."""
    try:
        layout = detect_layout(root)
    except LayoutError as error:
        return [Finding(".", None, None, Severity.ERROR, "layout", str(error))]
    candidates = paths if paths is not None else sorted(p for p in root.rglob("*.toml") if layout.kind_of(p))
    findings: list[Finding] = []
    for path in candidates:
        findings.extend(load_document(path, layout.display(path)).findings)
    return findings


def reanalyse(slug: str, *, config_root: Path, date: dt.date, registry: str | None,
              engine_args: tuple[str, ...] = ()) -> ReanalysisOutcome:
    """`jetstream analyse` for one experiment in a child process (a crash cannot take the worker)."""
    if importlib.util.find_spec("engine.commands.analyse") is None:
        return ReanalysisOutcome("unavailable", "the analysis engine is not installed in this deployment")
    command = [sys.executable, "-m", "engine.cli", "analyse", "--date", date.isoformat(),
               "--experiment", slug, *(("--registry", registry) if registry else ()), *engine_args]
    completed = subprocess.run(command, cwd=config_root, capture_output=True, text=True, check=False)
    if completed.returncode == 0:
        return ReanalysisOutcome("succeeded")
    tail = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or ["no output"]
    return ReanalysisOutcome("failed", tail[0][:300])


def estimate_bytes(root: Path, slugs: list[str]) -> int | None:
    """BigQuery's dry-run byte estimate when that backend is configured; None otherwise.

    Only ever called for same-repository PRs: fork content never reaches SQL.
    """
    return None


@dataclass(frozen=True)
class Ports:
    validate: Callable[..., list[Finding]] = validate_tree
    reanalyse: Callable[..., ReanalysisOutcome] = reanalyse
    estimate_bytes: Callable[[Path, list[str]], int | None] = estimate_bytes
    load_registry: Callable[[str | None], Registry | None] = load_registry_or_none
