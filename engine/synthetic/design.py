"""The experiments the synthetic generator simulates, and their Experimenter-style registry.

Each `ExperimentDesign` is one experiment with known truth: registry branch ratios, the
(possibly different) probabilities actually used to assign branches (a sample-ratio
mismatch), the share of the platform's clients that enrolls, the exposure rate and the planted
effects. Slugs are the stems of the example configs in `experiments/`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

PLATFORMS = ("firefox_desktop", "fenix", "firefox_ios")
APP_IDS = MappingProxyType({
    "firefox_desktop": "firefox-desktop",
    "fenix": "org.mozilla.firefox",
    "firefox_ios": "org.mozilla.ios.Firefox",
})

# Latent channels a design can shift, and the metrics (of our definitions) each one moves by
# exactly the same relative amount in expectation.
CHANNEL_METRICS = MappingProxyType({
    "active": ("active_hours",),
    "uri": ("uri_count",),
    "search": ("search_count", "tagged_search_count", "tagged_follow_on_search_count",
               "searches_with_ads", "ad_clicks"),
    "activity": ("days_of_use",),
})


@dataclass(frozen=True)
class ExperimentDesign:
    slug: str
    platform: str
    branches: tuple[tuple[str, float], ...]  # (slug, ratio) as published in the registry
    population_share: float  # share of the platform's clients that enrolls
    exposure_rate: float  # share of enrolled clients that is exposed at some point
    # channel -> branch -> relative effect (0.05 = +5%), applied from the enrollment day on
    effects: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # probabilities actually used to assign branches; None = the registry ratios
    assignment: tuple[float, ...] | None = None
    start_lag: int = 0  # days after the common start day
    live: bool = False  # still running: no end date in the registry
    segments: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    exposure_event: str = "nimbus"  # "nimbus" exposure events, or "onboarding" feature events

    @property
    def reference_branch(self) -> str:
        return self.branches[0][0]

    def assignment_probabilities(self) -> tuple[float, ...]:
        weights = self.assignment or tuple(r for _, r in self.branches)
        total = sum(weights)
        return tuple(w / total for w in weights)


DESIGNS: tuple[ExperimentDesign, ...] = (
    ExperimentDesign(
        slug="desktop-newtab-layout", platform="firefox_desktop",
        branches=(("control", 0.5), ("treatment-a", 0.25), ("treatment-b", 0.25)),
        population_share=0.45, exposure_rate=0.7,
        effects={"active": {"treatment-a": 0.05}, "uri": {"treatment-a": 0.0, "treatment-b": 0.0}},
        segments=("new_users", "us_users", "windows_users"), outcomes=("search_engagement",),
    ),
    ExperimentDesign(
        slug="desktop-search-shortcuts", platform="firefox_desktop",
        branches=(("control", 0.5), ("treatment", 0.5)),
        assignment=(0.56, 0.44),  # planted sample-ratio mismatch (registry says 50/50)
        population_share=0.35, exposure_rate=0.5, start_lag=1,
        effects={"search": {"treatment": 0.06}},
        segments=("de_users",),
    ),
    ExperimentDesign(
        slug="fenix-toolbar-redesign", platform="fenix",
        branches=(("control", 0.4), ("compact", 0.3), ("expanded", 0.3)),
        population_share=0.6, exposure_rate=0.6,
        effects={"uri": {"expanded": 0.04}, "active": {"compact": -0.03}},
        segments=("new_users", "de_users"), outcomes=("mobile_stability",),
    ),
    ExperimentDesign(
        slug="ios-onboarding-cards", platform="firefox_ios",
        branches=(("control", 0.5), ("cards", 0.5)),
        population_share=0.6, exposure_rate=0.55, start_lag=2, live=True,
        effects={"activity": {"cards": 0.08}},
        segments=("us_users",), outcomes=("onboarding",), exposure_event="onboarding",
    ),
)


@dataclass(frozen=True)
class Calendar:
    """Where one experiment sits in the simulated date range (day offsets from the first day)."""

    start: int
    enrollment_days: int
    end: int  # last day with data (inclusive)

    @property
    def last_enrollment(self) -> int:
        return self.start + self.enrollment_days - 1


def calendar(design: ExperimentDesign, days: int) -> Calendar:
    """Enrollment starts after up to 28 days of pre-enrollment data and lasts up to a week."""
    if days < 6:
        raise ValueError("the synthetic world needs at least 6 days")
    start = min(28, days // 2) + design.start_lag
    enrollment_days = max(1, min(7, (days - start) // 3))
    return Calendar(start=start, enrollment_days=enrollment_days, end=days - 1)


def planted_metric_effects(design: ExperimentDesign) -> dict[str, dict[str, float]]:
    """metric -> branch -> relative effect, for every non-reference branch (0.0 = no effect)."""
    treatments = [slug for slug, _ in design.branches[1:]]
    out: dict[str, dict[str, float]] = {}
    for channel, metrics in CHANNEL_METRICS.items():
        per_branch = design.effects.get(channel, {})
        for metric in metrics:
            out[metric] = {b: float(per_branch.get(b, 0.0)) for b in treatments}
    return out


def registry_entry(design: ExperimentDesign, first_day: dt.date, days: int) -> dict[str, Any]:
    """The experiment as Experimenter's v8 API would describe it."""
    cal = calendar(design, days)
    start = first_day + dt.timedelta(days=cal.start)
    end = None if design.live else first_day + dt.timedelta(days=cal.end)
    return {
        "schemaVersion": "1.12.0",
        "slug": design.slug,
        "id": design.slug,
        "appName": design.platform,
        "appId": APP_IDS[design.platform],
        "channel": "release",
        "userFacingName": design.slug.replace("-", " ").title(),
        "isRollout": False,
        "isEnrollmentPaused": True,
        "branches": [{"slug": slug, "ratio": ratio} for slug, ratio in design.branches],
        "referenceBranch": design.reference_branch,
        "startDate": start.isoformat(),
        "endDate": end.isoformat() if end else None,
        "proposedEnrollment": cal.enrollment_days,
        # the last day with new enrollments (engine/experimenter.py counts it inclusively)
        "enrollmentEndDate": (start + dt.timedelta(days=cal.enrollment_days - 1)).isoformat(),
        "proposedDuration": cal.end - cal.start + 1,
        "status": "Live" if design.live else "Complete",
        "outcomes": [{"slug": o} for o in design.outcomes],
        "segments": list(design.segments),
    }
