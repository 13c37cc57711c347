"""Bot settings, read once from the environment into a frozen value object.

Secrets (private key, webhook secret, cron token) are held here and nowhere else; `repr` hides them
so a settings object can be logged safely.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from bot.secrets import SecretError
from bot.secrets import resolve as resolve_secrets

DEFAULT_API_URL = "https://api.github.com"


class ConfigurationError(RuntimeError):
    """The app cannot start with this environment."""


def _csv(value: str | None) -> frozenset[str]:
    return frozenset(part.strip() for part in (value or "").split(",") if part.strip())


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError as error:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from error


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {value:g}")
    return value


# Per job kind, seconds; JETSTREAM_DEADLINES="validate=300,reanalyse=7200" overrides some.
DEFAULT_DEADLINES = {"validate": 600.0, "merge": 600.0, "report": 300.0, "command": 300.0,
                     "daily": 300.0, "failure": 300.0}
REANALYSE_MARGIN = 300.0  # the re-analysis deadline: JETSTREAM_ANALYSIS_TIMEOUT plus this


def _results(spec: str) -> Path | str:
    return spec if spec.startswith("gs://") else Path(spec)


def _time_of_day(env: Mapping[str, str], name: str) -> dt.time | None:
    raw = env.get(name)
    if not raw:
        return None
    try:
        return dt.time.fromisoformat(raw)
    except ValueError as error:
        raise ConfigurationError(f"{name} must be a UTC time of day such as 02:30, got {raw!r}") from error


def _deadlines(raw: str | None) -> Mapping[str, float]:
    deadlines = dict(DEFAULT_DEADLINES)
    for part in _csv(raw):
        kind, _, seconds = part.partition("=")
        try:
            value = float(seconds)
        except ValueError:
            value = 0.0
        if not kind.strip() or value <= 0:
            raise ConfigurationError(f"JETSTREAM_DEADLINES wants kind=seconds pairs, got {part!r}")
        deadlines[kind.strip()] = value
    return deadlines


@dataclass(frozen=True)
class Settings:
    webhook_secret: bytes = field(repr=False)
    app_id: str | None = None
    private_key: str | None = field(default=None, repr=False)
    api_url: str = DEFAULT_API_URL
    results_url: str = ""
    # a SQLite file path (one machine) or a postgresql:// URL (shared by every instance)
    job_store: str = "jetstream-jobs.sqlite"
    # Empty allow-list = every installation / repository the app is installed on.
    allowed_installations: frozenset[str] = frozenset()
    allowed_repositories: frozenset[str] = frozenset()
    recent_days: int = 14  # ended experiments re-analysed for shared-file changes / daily runs
    max_body_bytes: int = 5 * 1024 * 1024  # GitHub caps deliveries at 25 MB; ours are small
    cron_token: str | None = field(default=None, repr=False)
    seconds_between_requests: float = 0.25  # PyGithub throttling (GitHub's secondary limits)
    seconds_between_writes: float = 1.0
    retries: int = 5  # PyGithub's own retries of one read; outages are retried per job below
    # job retries: backoff doubling from `retry_backoff` up to `retry_max_delay`, through an
    # outage lasting up to `retry_horizon` seconds after the job's first attempt
    retry_backoff: float = 2.0
    retry_max_delay: float = 300.0
    retry_horizon: float = 3600.0
    max_attempts: int = 5  # for failures that are not outages
    lease_seconds: float = 30.0  # heartbeats every third of it; a silent runner loses its job after it
    deadlines: Mapping[str, float] = field(default_factory=dict)  # job kind -> seconds (JETSTREAM_DEADLINES)
    engine_args: tuple[str, ...] = ()  # extra `jetstream analyse` options
    # a `jetstream analyse` child still running after this is killed and its experiment failed
    analysis_timeout: float = 1800.0
    # DuckDB telemetry file `jetstream analyse --db` reads; same-repository PRs' queries are
    # dry-run against it (else against BigQuery when a project is configured)
    telemetry_db: Path | None = None
    # BigQuery: PR dry runs and re-analyses when JETSTREAM_DB is not set (production)
    bigquery_project: str | None = None
    bigquery_dataset: str = "jetstream"
    bigquery_location: str | None = None
    maximum_bytes_billed: int | None = None  # every BigQuery job of a re-analysis fails beyond it
    # the PR plan warns on an experiment whose re-analysis would bill more (dry-run bytes)
    bill_warning_bytes: int = 10**12
    registry: str | None = None  # Experimenter JSON file or URL
    config_root: Path = Path(".")  # the default branch's configs, for daily runs
    work_dir: Path = Path("jetstream-work")  # materialised trees at merge commits
    # what workers publish to and the result pages serve: a directory, or "gs://bucket/prefix"
    results_dir: Path | str = Path("results")
    # UTC time of day workers enqueue the daily run themselves (a laptop without a scheduler);
    # None: only the scheduler endpoint (/cron/daily) starts it, as in production
    daily_at: dt.time | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        try:
            env = resolve_secrets(env)  # sm:// references and JETSTREAM_SECRETS (Secret Manager)
        except SecretError as error:
            raise ConfigurationError(str(error)) from None
        secret = env.get("GITHUB_WEBHOOK_SECRET", "")
        if not secret:
            raise ConfigurationError("GITHUB_WEBHOOK_SECRET is not set; refusing to start")
        key = env.get("GITHUB_APP_PRIVATE_KEY") or None
        key_file = env.get("GITHUB_APP_PRIVATE_KEY_FILE")
        if key is None and key_file:
            try:
                key = Path(key_file).read_text()
            except OSError as error:
                raise ConfigurationError(f"cannot read GITHUB_APP_PRIVATE_KEY_FILE: {error.strerror}") from error
        return cls(
            webhook_secret=secret.encode(),
            app_id=env.get("GITHUB_APP_ID") or None,
            private_key=key,
            api_url=(env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
            results_url=(env.get("JETSTREAM_RESULTS_URL") or "").rstrip("/"),
            job_store=env.get("JETSTREAM_JOB_STORE") or "jetstream-jobs.sqlite",
            allowed_installations=_csv(env.get("JETSTREAM_ALLOWED_INSTALLATIONS")),
            allowed_repositories=frozenset(r.lower() for r in _csv(env.get("JETSTREAM_ALLOWED_REPOSITORIES"))),
            recent_days=int(_float(env, "JETSTREAM_RECENT_DAYS", 14)),
            cron_token=env.get("JETSTREAM_CRON_TOKEN") or None,
            seconds_between_requests=_float(env, "JETSTREAM_GITHUB_SECONDS_BETWEEN_REQUESTS", 0.25),
            seconds_between_writes=_float(env, "JETSTREAM_GITHUB_SECONDS_BETWEEN_WRITES", 1.0),
            retries=int(_float(env, "JETSTREAM_GITHUB_RETRIES", 5)),
            retry_backoff=_positive(env, "JETSTREAM_RETRY_BACKOFF", 2.0),
            retry_max_delay=_positive(env, "JETSTREAM_RETRY_MAX_DELAY", 300.0),
            retry_horizon=_positive(env, "JETSTREAM_RETRY_HORIZON", 3600.0),
            max_attempts=int(_positive(env, "JETSTREAM_MAX_ATTEMPTS", 5)),
            lease_seconds=_positive(env, "JETSTREAM_LEASE_SECONDS", 30.0),
            deadlines=_deadlines(env.get("JETSTREAM_DEADLINES")),
            engine_args=tuple((env.get("JETSTREAM_ENGINE_ARGS") or "").split()),
            analysis_timeout=_positive(env, "JETSTREAM_ANALYSIS_TIMEOUT", 1800.0),
            telemetry_db=Path(env["JETSTREAM_DB"]) if env.get("JETSTREAM_DB") else None,
            bigquery_project=env.get("JETSTREAM_BIGQUERY_PROJECT") or None,
            bigquery_dataset=env.get("JETSTREAM_BIGQUERY_DATASET") or "jetstream",
            bigquery_location=env.get("JETSTREAM_BIGQUERY_LOCATION") or None,
            maximum_bytes_billed=(int(_positive(env, "JETSTREAM_MAXIMUM_BYTES_BILLED", 1))
                                  if env.get("JETSTREAM_MAXIMUM_BYTES_BILLED") else None),
            bill_warning_bytes=int(_positive(env, "JETSTREAM_BILL_WARNING_BYTES", 10**12)),
            registry=env.get("JETSTREAM_REGISTRY") or None,
            config_root=Path(env.get("JETSTREAM_CONFIG_ROOT") or "."),
            work_dir=Path(env.get("JETSTREAM_WORK_DIR") or "jetstream-work"),
            results_dir=_results(env.get("JETSTREAM_RESULTS_DIR") or "results"),
            daily_at=_time_of_day(env, "JETSTREAM_DAILY_AT"),
        )

    def deadline(self, kind: str) -> float:
        if kind == "reanalyse" and kind not in self.deadlines:
            return self.analysis_timeout + REANALYSE_MARGIN
        return self.deadlines.get(kind, DEFAULT_DEADLINES["validate"])

    def allows(self, installation_id: int | str | None, repository: str | None) -> bool:
        if self.allowed_installations and str(installation_id) not in self.allowed_installations:
            return False
        if self.allowed_repositories and (repository or "").lower() not in self.allowed_repositories:
            return False
        return True

    def result_link(self, slug: str) -> str:
        return f"{self.results_url}/experiments/{slug}" if self.results_url else ""
