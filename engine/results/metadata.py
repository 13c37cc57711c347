"""The metadata and error documents of an experiment's export (see schemas/results/)."""
from __future__ import annotations

import datetime as dt
import subprocess
import traceback
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from engine.config.spec import AnalysisSpec
from engine.results.export import EXPORT_SCHEMA_VERSION


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def config_commit(config_root: str | Path | None) -> str | None:
    """The commit of the config repository, when it is a git work tree (read-only lookup)."""
    if config_root is None:
        return None
    try:
        done = subprocess.run(["git", "-C", str(config_root), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) == 40 else None


def _metrics(spec: AnalysisSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for period, metrics in spec.metrics.items():
        for metric in metrics:
            entry = out.setdefault(metric.name, {
                "friendly_name": metric.friendly_name or metric.name,
                "description": metric.description,
                "bigger_is_better": metric.bigger_is_better,
                "analysis_bases": list(metric.analysis_bases),
                "statistics": [],
                "periods": [],
            })
            entry["periods"].append(period)
            for statistic in metric.statistics:
                if statistic.name not in entry["statistics"]:
                    entry["statistics"].append(statistic.name)
    return out


def srm_dict(result: Any) -> dict[str, Any]:
    """The SRM test result as a plain dict (accepts a dataclass, `to_dict()` or a mapping)."""
    if hasattr(result, "to_dict"):
        return dict(result.to_dict())
    if is_dataclass(result):
        return asdict(result)
    return dict(result)


def build_metadata(spec: AnalysisSpec, analysis_date: dt.date, *,
                   commit: str | None = None,
                   enrollment: Mapping[str, Mapping[str, int]] | None = None,
                   sample_ratio: Mapping[str, Mapping[str, Any]] | None = None,
                   outcomes: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Metadata in a deterministic shape (no wall-clock times: reruns write identical files).

    `enrollment` maps analysis basis -> branch -> clients; `sample_ratio` maps basis -> SRM dict.
    """
    experiment = spec.experiment
    outcome_info = outcomes or {}
    return {
        "schema_version": EXPORT_SCHEMA_VERSION,
        "experiment": experiment.slug,
        "platform": spec.platform,
        "analysis_date": analysis_date.isoformat(),
        "start_date": _date(experiment.start_date),
        "end_date": _date(experiment.end_date),
        "enrollment_end_date": _date(experiment.last_enrollment_date),
        "reference_branch": experiment.reference_branch,
        "branches": [{"slug": b.slug, "ratio": b.ratio} for b in experiment.branches],
        "is_rollout": experiment.is_rollout,
        "segments": ["all", *[s.name for s in spec.segments]],
        "metrics": _metrics(spec),
        "outcomes": {slug: {"slug": slug, **dict(outcome_info.get(slug, {}))}
                     for slug in experiment.outcomes},
        "config_commit": commit,
        "config_path": spec.config_path,
        "enrollment": {basis: dict(sorted(c.items())) for basis, c in (enrollment or {}).items()},
        "sample_ratio": {basis: dict(r) for basis, r in (sample_ratio or {}).items()},
    }


@dataclass(frozen=True)
class ErrorRecord:
    """One failure of an analysis step; several per experiment, one per failing unit of work."""

    experiment: str
    analysis_date: str
    stage: str  # config | runnable | metrics | pretreatment | statistics | srm | tables | export
    message: str
    exception_type: str | None = None
    period: str | None = None
    window_index: int | None = None
    metric: str | None = None
    statistic: str | None = None
    segment: str | None = None
    analysis_basis: str | None = None
    log_level: str = "ERROR"
    detail: str | None = None

    @classmethod
    def from_exception(cls, error: BaseException, **where: Any) -> "ErrorRecord":
        tail = traceback.format_exception(type(error), error, error.__traceback__)[-3:]
        return cls(message=str(error) or type(error).__name__,
                   exception_type=type(error).__name__, detail="".join(tail), **where)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def errors_list(errors: Sequence[ErrorRecord]) -> list[dict[str, Any]]:
    return [e.to_dict() for e in errors]
