"""The metadata and error documents of an experiment's export (see schemas/results/)."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from engine.config.repository import Repository
from engine.config.spec import AnalysisSpec
from engine.results.export import EXPORT_SCHEMA_VERSION

EXPERIMENTER_URL = "https://experimenter.services.mozilla.com/nimbus/{slug}/summary"


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
                "pre_treatments": {},
            })
            entry["periods"].append(period)
            for statistic in metric.statistics:
                if statistic.name not in entry["statistics"]:
                    entry["statistics"].append(statistic.name)
                    entry["pre_treatments"][statistic.name] = [
                        _call(t.name, t.params) for t in statistic.pre_treatments]
    return out


def _call(name: str, params: Mapping[str, Any]) -> str:
    """A pre-treatment as its reader would write it: `log(base=10)`."""
    args = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{name}({args})" if args else name


def srm_dict(result: Any) -> dict[str, Any]:
    """The SRM test result as a plain dict (accepts a dataclass, `to_dict()` or a mapping)."""
    if hasattr(result, "to_dict"):
        return dict(result.to_dict())
    if is_dataclass(result):
        return asdict(result)
    return dict(result)


@dataclass(frozen=True)
class MetadataContext:
    """What the metadata says beyond the spec: the Experimenter display name and link, each
    outcome's display information (upstream `Outcome`) and the platform's default metrics."""

    name: str | None = None
    experimenter_url: str | None = None
    outcomes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    default_metrics: tuple[str, ...] = ()


def _names(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


def metadata_context(repo: Repository, platform: str, slug: str,
                     name: str | None = None) -> MetadataContext:
    """The context of one experiment from the config repository (and its registry name)."""
    outcomes = {}
    for outcome, doc in repo.outcomes.get(platform, {}).items():
        data = doc.data
        outcomes[outcome] = {
            "slug": outcome,
            "friendly_name": str(data.get("friendly_name") or outcome),
            "description": str(data.get("description") or ""),
            "metrics": sorted(k for k, v in (data.get("metrics") or {}).items()
                              if isinstance(v, Mapping)),
            "default_metrics": _names(data.get("default_metrics")),
        }
    defaults = repo.defaults.get(platform)
    periods = (defaults.data.get("metrics") or {}) if defaults is not None else {}
    default_metrics = sorted({m for v in periods.values() for m in _names(v)})
    return MetadataContext(name, EXPERIMENTER_URL.format(slug=slug), outcomes,
                           tuple(default_metrics))


def _outcome(slug: str, known: Mapping[str, Any] | None) -> dict[str, Any]:
    """Upstream's `Outcome` shape, also for an outcome the repository does not hold."""
    return {"slug": slug, "friendly_name": slug, "description": "", "metrics": [],
            "default_metrics": [], **dict(known or {})}


def build_metadata(spec: AnalysisSpec, analysis_date: dt.date, *,
                   commit: str | None = None,
                   enrollment: Mapping[str, Mapping[str, int]] | None = None,
                   sample_ratio: Mapping[str, Mapping[str, Any]] | None = None,
                   context: MetadataContext | None = None) -> dict[str, Any]:
    """Metadata in a deterministic shape (no wall-clock times: reruns write identical files);
    valid as mozilla-nimbus-schemas' jetstream `Metadata`, with additive fields.

    `enrollment` maps analysis basis -> branch -> clients; `sample_ratio` maps basis -> SRM dict.
    """
    experiment = spec.experiment
    context = context or MetadataContext()
    return {
        "schema_version": EXPORT_SCHEMA_VERSION,
        "experiment": experiment.slug,
        "name": context.name,
        "experimenter_url": context.experimenter_url,
        "default_metrics": list(context.default_metrics),
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
        "outcomes": {slug: _outcome(slug, context.outcomes.get(slug))
                     for slug in experiment.outcomes},
        "config_commit": commit,
        "config_path": spec.config_path,
        "enrollment": {basis: dict(sorted(c.items())) for basis, c in (enrollment or {}).items()},
        "sample_ratio": {basis: dict(r) for basis, r in (sample_ratio or {}).items()},
    }


@dataclass(frozen=True)
class ErrorRecord:
    """One failure of an analysis step; several per experiment, one per failing unit of work.

    Valid as mozilla-nimbus-schemas' jetstream `AnalysisError`: `filename` and `func_name` name
    where it was raised (or, without an exception, where the record was made); `timestamp` is
    the analysis date at midnight UTC, not the wall clock, so a rerun writes identical files."""

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
    exception: str | None = None  # the last frames of the traceback
    filename: str = ""
    func_name: str = ""

    def __post_init__(self) -> None:
        if not self.filename:  # made directly: its maker is where it happened
            caller = sys._getframe(2)
            object.__setattr__(self, "filename", os.path.basename(caller.f_code.co_filename))
            object.__setattr__(self, "func_name", caller.f_code.co_name)

    @classmethod
    def from_exception(cls, error: BaseException, **where: Any) -> ErrorRecord:
        frames = traceback.extract_tb(_last(error.__traceback__))  # not every frame: thousands
        tail = (traceback.format_list(frames) +  # of records share one deep traceback
                traceback.format_exception_only(type(error), error))[-3:]
        origin = (os.path.basename(frames[-1].filename), frames[-1].name) if frames else (
            os.path.basename(sys._getframe(1).f_code.co_filename), sys._getframe(1).f_code.co_name)
        return cls(message=str(error) or type(error).__name__,
                   exception_type=type(error).__name__, exception="".join(tail),
                   filename=origin[0], func_name=origin[1], **where)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "source": "jetstream",
                "timestamp": f"{self.analysis_date}T00:00:00+00:00"}


def errors_list(errors: Sequence[ErrorRecord]) -> list[dict[str, Any]]:
    return [e.to_dict() for e in errors]


def _last(tb: TracebackType | None) -> TracebackType | None:
    """The innermost entry of a traceback: where the error was raised."""
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb
