"""The bot's narrow doors into the engine: validate a config tree (findings, specs and byte
estimates in one pass), re-analyse one experiment. Handlers receive a `Ports` value, so tests and later wiring swap one function.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from bot.config import Settings
from bot.jobs.procs import kill_group
from bot.results import open_results
from bot.tree import guard
from engine.backends.open import BackendConfig, open_backend
from engine.check.validate import validate
from engine.commands.analyse import analyse_argv
from engine.config.spec import AnalysisSpec
from engine.experimenter import Registry, RegistryError, load_registry
from engine.findings import Finding
from engine.isodate import yesterday
from engine.results.export import errors_name, metadata_name
from engine.run.tether import die_with_parent

if TYPE_CHECKING:
    from engine.backends.base import Backend

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReanalysisOutcome:
    status: str  # succeeded | skipped | failed | unavailable
    detail: str = ""


def load_registry_or_none(source: str | None) -> Registry | None:
    if not source:
        return None
    try:
        return load_registry(source)
    except RegistryError as error:  # plans fall back to the configs' own dates
        log.warning("experiment registry unavailable: %s", error)
        return None


@dataclass(frozen=True)
class TreeCheck:
    """One pass of the engine over a PR's tree: findings, the resolved specs, and (when the
    queries were dry-run on BigQuery) the bytes each experiment's re-analysis would bill."""
    findings: tuple[Finding, ...]
    specs: Mapping[str, AnalysisSpec]
    estimates: Mapping[str, int | None] | None


def validate_tree(root: Path, paths: list[Path] | None = None, registry: Registry | None = None,
                  backend: "Backend | None" = None, bill_warning: int | None = None) -> TreeCheck:
    """`paths` (all configs when None) of the config tree at `root` validated; with a `backend`,
    each experiment's enrollment and metric queries are dry-run there in the same pass, and on
    BigQuery every query of its re-analysis for yesterday (the bill; a warning finding above
    `bill_warning` bytes). Every path passes the tree's guard first: a name from GitHub never
    reads outside `root`."""
    refused: tuple[Finding, ...] = ()
    if paths is not None:
        guarded = [guard(root, p) for p in paths]
        refused = tuple(g for g in guarded if isinstance(g, Finding))
        paths = [g for g in guarded if not isinstance(g, Finding)]
        if not paths:
            return TreeCheck(refused, {}, None)
    report = validate(root, paths, registry=registry, backend=backend, date=yesterday(),
                      bill_warning=bill_warning)
    experiments = report.experiments.values()
    estimates = ({r.slug: r.bytes_estimate for r in experiments}
                 if backend is not None and backend.name == "bigquery" else None)
    return TreeCheck(refused + report.findings,
                     {r.slug: r.spec for r in experiments if r.spec is not None}, estimates)


def dry_run_backend(settings: Settings) -> "Backend | None":
    """The warehouse that same-repository PRs' queries are dry-run on (the caller closes it):
    the DuckDB telemetry of `JETSTREAM_DB` when set, since that is what re-analyses read, else
    BigQuery when a project is set, else None. Raises (ValueError, credential errors) when the
    configured one cannot be opened."""
    if settings.telemetry_db is not None:
        return open_backend("duckdb", settings.telemetry_db, None, settings.bigquery_dataset)
    if settings.bigquery_project:
        return open_backend("bigquery", None, settings.bigquery_project, settings.bigquery_dataset)
    return None


def _tables_dir(settings: Settings) -> Path:
    """Where the per-experiment DuckDB result tables go: beside a local export, else (the export
    is in gs://) in the worker's work directory."""
    results = settings.results_dir
    return (results if isinstance(results, Path) else settings.work_dir).resolve() / "tables"


def analysis_backend(slug: str, settings: Settings) -> BackendConfig | None:
    """Where re-analyses run: the DuckDB telemetry of `JETSTREAM_DB` when set (a laptop, tests),
    else BigQuery when a project is configured (production), else nowhere. On DuckDB each
    experiment has its own result-table file, so two workers analysing two experiments never
    contend for DuckDB's one-writer-per-file lock; the JSON export is shared."""
    if settings.telemetry_db is not None:
        return BackendConfig("duckdb", db=Path(settings.telemetry_db).resolve(),
                             results_db=_tables_dir(settings) / f"{slug}.duckdb")
    if settings.bigquery_project:
        return BackendConfig("bigquery", project=settings.bigquery_project,
                             dataset=settings.bigquery_dataset, location=settings.bigquery_location,
                             maximum_bytes_billed=settings.maximum_bytes_billed)
    return None


def analyse_command(slug: str, config_root: Path, date: dt.date, settings: Settings,
                    backend: BackendConfig, recompute: bool = True) -> list[str]:
    """The `jetstream analyse` call that re-analyses one experiment on `backend`: with
    `--recompute` (every ready window) for a merge or a command, without it for a daily run
    (only the windows completed that day)."""
    extra = (("--recompute",) if recompute else ()) + tuple(settings.engine_args)
    return analyse_argv(slug, date, Path(config_root), open_results(settings.results_dir).location,
                        backend, settings.registry, extra)


def run_bounded(command: list[str], env: Mapping[str, str],
                timeout: float) -> subprocess.CompletedProcess[str] | None:
    """`command`'s completed process, or None when it was still running after `timeout` seconds.
    The child leads a process group of its own and the whole group is killed: its pool workers
    hold the output pipes too, so killing the child alone would leave us waiting on them. The
    child also dies with the process that started it (a job runner killed at its deadline, or a
    worker killed outright), so no analysis outlives the job it belongs to."""
    with subprocess.Popen(command, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True, preexec_fn=die_with_parent) as child:
        try:
            out, err = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(child.pid)
            child.communicate()
            return None
    return subprocess.CompletedProcess(command, child.returncode, out, err)


def reanalyse(slug: str, *, config_root: Path, date: dt.date, settings: Settings,
              recompute: bool = True) -> ReanalysisOutcome:
    """`jetstream analyse` for one experiment, in a child process rather than in-process: the
    DuckDB backend attaches the telemetry and locks its configuration per process, an analysis'
    frames go back to the OS when the child exits, and a crash (or a hung query being killed)
    cannot take the worker's other jobs down with it. The ~1 s interpreter start is small next to
    an analysis. Published = the experiment's metadata file was rewritten (exports are atomic)."""
    backend = analysis_backend(slug, settings)
    if backend is None:
        return ReanalysisOutcome("unavailable", "no warehouse configured (JETSTREAM_DB or "
                                                "JETSTREAM_BIGQUERY_PROJECT)")
    store = open_results(settings.results_dir)
    _tables_dir(settings).mkdir(parents=True, exist_ok=True)
    before = store.stamp(metadata_name(slug)), store.stamp(errors_name(slug))
    env = dict(os.environ, COLUMNS="160")  # rich's summary table, should anyone read the log
    completed = run_bounded(analyse_command(slug, config_root, date, settings, backend,
                                            recompute), env,
                            settings.analysis_timeout)
    if completed is None:  # exports are atomic per file: a killed run leaves none half-written
        return ReanalysisOutcome("failed", f"timed out after {settings.analysis_timeout:g} s "
                                           "(JETSTREAM_ANALYSIS_TIMEOUT)")
    published = store.stamp(metadata_name(slug)) != before[0]
    if completed.returncode == 0:
        if published:
            return ReanalysisOutcome("succeeded")
        return ReanalysisOutcome("skipped", f"nothing to publish for {date} (not started, enrollment "
                                            "still open or skip = true)")
    if store.stamp(errors_name(slug)) != before[1]:
        errors = store.errors(slug)
        if errors:
            log.error("re-analysis of %s failed: %s", slug, errors[0].get("message"))
            return ReanalysisOutcome("failed", error_kind(errors[0]))
    tail = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or ["no output"]
    log.error("re-analysis of %s exited with %s: %s", slug, completed.returncode, tail[0])
    return ReanalysisOutcome("failed", f"jetstream analyse exited with code {completed.returncode} "
                                       "(the output is in the worker's log)")


_CONFIG_STAGES = frozenset({"config", "runnable"})  # ErrorRecord stages read no telemetry
_WHERE = ("period", "window_index", "metric", "statistic", "segment", "analysis_basis")


def error_kind(record: Mapping[str, object]) -> str:
    """What of an engine error may reach a pull request: its kind and where in the config, never
    the message of a stage that read the warehouse (its errors quote values: a failed CAST shows
    the string it read). The full record stays in the errors export and the worker's log."""
    stage = str(record.get("stage") or "analysis")
    if stage in _CONFIG_STAGES:  # findings about the config itself: no warehouse value in them
        return str(record.get("message") or stage)[:300]
    kind = str(record.get("exception_type") or "error")
    where = ", ".join(f"{key.replace('_', ' ')} {record[key]}" for key in _WHERE
                      if record.get(key) not in (None, ""))
    return (f"{stage} failed ({kind}{': ' + where if where else ''}); "
            f"the message is in {errors_name(str(record.get('experiment') or 'the experiment'))}")


@dataclass(frozen=True)
class Ports:
    validate: Callable[..., TreeCheck] = validate_tree
    reanalyse: Callable[..., ReanalysisOutcome] = reanalyse
    dry_run_backend: Callable[[Settings], "Backend | None"] = dry_run_backend
    load_registry: Callable[[str | None], Registry | None] = load_registry_or_none
