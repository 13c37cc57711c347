"""Resolve one experiment where it can run: on `--platform`, else the registry's platform, else on
every platform that has defaults (it passes if it resolves on at least one: `resolved_on`).

With several platforms, failing resolutions stop at their first error and skip "did you mean"
hints; a config that resolves nowhere is resolved again in full on the platform with the fewest
errors, so the findings reported are those of one complete resolution.
"""
from __future__ import annotations

from pathlib import Path

from engine.config.load import Document
from engine.config.repository import Repository, load_repository
from engine.config.resolve.experiment import Resolution, resolve
from engine.config.resolve.references import hints_enabled
from engine.config.schema.structure import check_structure
from engine.config.spec import AnalysisSpec
from engine.experimenter import Registry
from engine.findings import Finding, Severity, has_errors


def resolve_everywhere(doc: Document, repo: Repository, registry: Registry | None,
                       platform: str | None) -> tuple[tuple[str, ...], tuple[Finding, ...], Resolution | None]:
    """(platforms it resolves on, findings to report, the first successful resolution)."""
    slug = Path(doc.path).stem
    entry = registry.get(slug) if registry else None
    notes: list[Finding] = []
    if registry is not None and entry is None:
        notes.append(Finding(doc.path, 1, None, Severity.WARNING, "not-in-registry",
                             f"experiment {slug!r} is not in the experiment registry",
                             "it is validated offline against the platforms with defaults"))
    chosen = platform or (entry.app_name if entry else None)
    platforms = (chosen,) if chosen else repo.platforms()
    many = len(platforms) > 1
    # With several platforms, first only learn where the config resolves: failing resolutions
    # stop at their first error and skip "did you mean" hints (a clean one has neither).
    with hints_enabled(not many):
        results = [resolve(doc, repo, entry, p, fail_fast=many) for p in platforms]
        passed = [r for r in results if r.ok]
        if many and not passed:  # to pick the best platform, count every error on each
            results = [resolve(doc, repo, entry, p) for p in platforms]
    if passed:
        best = passed[0]
        notes.append(Finding(doc.path, 1, None, Severity.NOTICE, "resolved-on",
                             f"resolves on {', '.join(r.platform for r in passed)}"))
    else:
        best = min(results, key=lambda r: sum(f.is_error for f in r.findings))
        if many:  # only the reported resolution needs its hints
            best = resolve(doc, repo, entry, best.platform)
        if len(platforms) > 1:
            notes.append(Finding(doc.path, 1, None, Severity.NOTICE, "resolved-on",
                                 f"resolves on no platform; showing findings for {best.platform}"))
    return (tuple(r.platform for r in passed), tuple(notes) + best.findings,
            passed[0] if passed else None)


def resolve_experiment(config_root: Path, slug: str, *, registry: Registry | None = None,
                       platform: str | None = None, repository: Repository | None = None
                       ) -> tuple[AnalysisSpec | None, tuple[Finding, ...]]:
    """The AnalysisSpec of one experiment (None if it does not resolve) and the findings."""
    repo = repository or load_repository(config_root)
    doc = repo.experiments.get(slug)
    if doc is None:
        return None, (Finding(str(config_root), None, None, Severity.ERROR, "unknown-experiment",
                              f"no config for experiment {slug!r} under {config_root}"),)
    structure = tuple(check_structure(doc, "experiment")) if doc.ok else doc.findings
    if not doc.ok:
        return None, structure
    _, findings, resolution = resolve_everywhere(doc, repo, registry, platform)
    spec = resolution.spec if resolution and not has_errors(structure) else None
    return spec, structure + findings
