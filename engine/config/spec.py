"""The resolved analysis configuration: frozen value objects the engine consumes.

`resolve()` (engine/config/resolve/experiment.py) produces one `AnalysisSpec` per experiment: definitions,
outcomes, platform defaults and the experiment config merged, Jinja templates rendered.
Everything here is immutable; SQL fragments are BigQuery-dialect text, already rendered.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping

from engine.experimenter import Branch  # the spec's branches are the registry's

PERIODS = (
    "daily",
    "weekly",
    "days28",
    "overall",
    "preenrollment_weekly",
    "preenrollment_days28",
)
# Config spellings accepted for a period (upstream accepts "28_day" for days28).
PERIOD_ALIASES = {"28_day": "days28"}
ANALYSIS_BASES = ("enrollments", "exposures")
ANALYSIS_UNITS = ("client", "profile_group")
EXPERIMENTS_COLUMN_TYPES = ("native", "simple", "glean", "none")


@dataclass(frozen=True)
class Source:
    """Where a resolved value came from, so engine-time errors can point back at config."""

    path: str
    line: int | None = None


@dataclass(frozen=True)
class DataSource:
    name: str
    from_expression: str
    client_id_column: str = "client_id"
    submission_date_column: str = "submission_date"
    experiments_column_type: str = "simple"
    default_dataset: str | None = None
    group_id_column: str = "profile_group_id"
    analysis_units: tuple[str, ...] = ANALYSIS_UNITS
    friendly_name: str = ""
    description: str = ""
    source: Source | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StatisticSpec:
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    pre_treatments: tuple["PreTreatmentSpec", ...] = ()


@dataclass(frozen=True)
class PreTreatmentSpec:
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    name: str
    select_expression: str | None  # None for metrics computed from others (depends_on)
    data_source: DataSource | None
    statistics: tuple[StatisticSpec, ...] = ()
    friendly_name: str = ""
    description: str = ""
    bigger_is_better: bool = True
    category: str | None = None
    type: str | None = None
    depends_on: tuple[str, ...] = ()
    analysis_bases: tuple[str, ...] = ("enrollments", "exposures")
    analysis_units: tuple[str, ...] = ANALYSIS_UNITS
    source: Source | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SegmentDataSource:
    name: str
    from_expression: str
    window_start: int = 0
    window_end: int = 0
    client_id_column: str = "client_id"
    submission_date_column: str = "submission_date"
    source: Source | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Segment:
    name: str
    select_expression: str
    data_source: SegmentDataSource
    friendly_name: str = ""
    description: str = ""
    source: Source | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ExposureSignal:
    name: str
    select_expression: str
    data_source: DataSource
    window_start: int | str | None = None  # int days, or "enrollment_start"/"enrollment_end"/"analysis_window_*"
    window_end: int | str | None = None
    friendly_name: str = ""
    description: str = ""
    source: Source | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ExperimentSpec:
    slug: str  # the config's slug (file stem) = experimenter slug
    normandy_slug: str
    app_name: str  # platform, e.g. firefox_desktop
    app_id: str | None
    start_date: dt.date | None
    end_date: dt.date | None
    enrollment_period: int | None  # days
    reference_branch: str | None
    branches: tuple[Branch, ...]
    segments: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    enrollment_query: str | None = None
    exposure_signal: ExposureSignal | None = None
    sample_size: int | None = None  # percent of clients sampled
    analysis_unit: str = "client"
    is_rollout: bool = False
    skip: bool = False
    channel: str | None = None
    status: str | None = None
    dataset_id: str | None = None
    # upstream's enrollments_query_type: normandy | glean-event | cirrus | fenix-fallback;
    # None reads the platform's own (normandy on desktop, glean-event elsewhere)
    enrollments_query_type: str | None = None

    @property
    def last_enrollment_date(self) -> dt.date | None:
        if self.start_date is None or self.enrollment_period is None:
            return None
        return self.start_date + dt.timedelta(days=self.enrollment_period - 1)


@dataclass(frozen=True)
class AnalysisSpec:
    """Everything needed to analyse one experiment, fully merged and rendered."""

    experiment: ExperimentSpec
    platform: str
    # period name (see PERIODS) -> metrics analysed in that period, in config order
    metrics: Mapping[str, tuple[Metric, ...]]
    segments: tuple[Segment, ...] = ()
    data_sources: Mapping[str, DataSource] = field(default_factory=dict)
    config_path: str | None = None
    # every resolved metric by name, including those only needed by others (depends_on,
    # population_ratio numerator/denominator) and not listed for any period
    metric_definitions: Mapping[str, Metric] = field(default_factory=dict)

    def metric_names(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for metrics in self.metrics.values():
            for metric in metrics:
                seen.setdefault(metric.name, None)
        return tuple(seen)
