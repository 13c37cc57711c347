"""Simulated clients of one platform: latent traits, experiment state and daily activity.

Everything is drawn from one numpy Generator in a fixed order, so a seed fixes the world.
Day numbers are offsets from the first simulated day; -1 means "never" in the state arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.synthetic.design import ExperimentDesign, calendar

COUNTRIES = np.array(["US", "DE", "FR", "GB", "IN", "BR", "JP"])
COUNTRY_P = np.array([0.3, 0.15, 0.1, 0.1, 0.15, 0.1, 0.1])
DESKTOP_OS = np.array(["Windows_NT", "Darwin", "Linux"])
DESKTOP_OS_P = np.array([0.75, 0.15, 0.1])
ENGINES = np.array(["google", "bing", "ddg"])
ENGINE_P = np.array([0.7, 0.2, 0.1])
NEW_PROFILE_SHARE = 0.15
UNENROLL_SHARE = 0.04
REENROLL_SHARE = 0.1  # clients with a second (duplicate) enrollment event on a later day
MAX_P_ACTIVE = 0.85  # keeps p * (1 + activity effect) below 1


@dataclass(frozen=True)
class Population:
    platform: str
    designs: tuple[ExperimentDesign, ...]  # this platform's experiments; index = `experiment`
    client_id: np.ndarray  # str
    country: np.ndarray  # str
    os: np.ndarray  # str
    memory_mb: np.ndarray  # int
    engine: np.ndarray  # str, preferred search engine
    first_seen: np.ndarray  # day of profile creation (negative = before the first day)
    p_active: np.ndarray  # probability of activity on a day
    hours_level: np.ndarray  # mean active hours on an active day
    uri_level: np.ndarray  # mean URIs on an active day
    search_level: np.ndarray  # mean SAP searches on an active day
    crash_level: np.ndarray  # mean content crashes on an active day
    default_browser: np.ndarray  # bool
    experiment: np.ndarray  # index into designs, -1 = not enrolled
    branch: np.ndarray  # index into the design's branches, -1
    enroll_day: np.ndarray
    reenroll_day: np.ndarray
    expose_day: np.ndarray
    unenroll_day: np.ndarray

    @property
    def size(self) -> int:
        return len(self.client_id)


@dataclass(frozen=True)
class Panel:
    """Active client-days of one platform, as parallel arrays (one entry per active day)."""

    client: np.ndarray  # index into the population
    day: np.ndarray
    annotated: np.ndarray  # bool: the day's pings carry the client's experiment annotation
    multiplier: dict[str, np.ndarray]  # channel -> planted effect multiplier of the day


def _client_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    raw = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
    hexes = [f"{a:016x}{b:016x}" for a, b in raw]
    return np.array([f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}" for h in hexes])


def draw_population(rng: np.random.Generator, platform: str, n: int, days: int,
                    designs: tuple[ExperimentDesign, ...]) -> Population:
    client_id = _client_ids(rng, n)
    country = rng.choice(COUNTRIES, size=n, p=COUNTRY_P)
    if platform == "firefox_desktop":
        os_ = rng.choice(DESKTOP_OS, size=n, p=DESKTOP_OS_P)
    else:
        os_ = np.full(n, "Android" if platform == "fenix" else "iOS")
    memory_mb = rng.choice(np.array([4096, 8192, 16384, 32768]), size=n, p=[0.3, 0.4, 0.2, 0.1])
    engine = rng.choice(ENGINES, size=n, p=ENGINE_P)
    p_active = np.minimum(rng.beta(2.5, 1.5, size=n), MAX_P_ACTIVE)
    hours_level = rng.gamma(2.0, 0.75, size=n)
    uri_level = rng.gamma(1.5, 30.0, size=n)
    search_level = rng.gamma(1.0, 2.0, size=n)
    crash_level = rng.gamma(1.0, 0.03, size=n)
    default_browser = rng.random(n) < 0.6
    is_new = rng.random(n) < NEW_PROFILE_SHARE

    # Disjoint enrollment: each client joins at most one experiment of its platform.
    shares = np.cumsum([d.population_share for d in designs]) if designs else np.array([])
    u = rng.random(n)
    experiment = np.searchsorted(shares, u, side="right")
    experiment = np.where(experiment < len(designs), experiment, -1)
    branch = np.full(n, -1)
    enroll_day = np.full(n, -1)
    for index, design in enumerate(designs):
        members = np.flatnonzero(experiment == index)
        cal = calendar(design, days)
        probs = design.assignment_probabilities()
        branch[members] = rng.choice(len(probs), size=len(members), p=probs)
        enroll_day[members] = cal.start + rng.integers(0, cal.enrollment_days, size=len(members))
    enrolled = experiment >= 0
    last = days - 1

    def later_day(share: float, start: np.ndarray, max_gap: int) -> np.ndarray:
        chosen = enrolled & (rng.random(n) < share)
        day = start + 1 + rng.integers(0, max_gap, size=n)
        return np.where(chosen & (day <= last), day, -1)

    exposure_rate = np.array([d.exposure_rate for d in designs] + [0.0])[experiment]
    exposed = enrolled & (rng.random(n) < exposure_rate)
    expose_day = np.where(exposed, enroll_day + rng.geometric(0.35, size=n) - 1, -1)
    expose_day = np.where(expose_day <= last, expose_day, -1)
    reenroll_day = later_day(REENROLL_SHARE, enroll_day, 10)
    unenroll_day = later_day(UNENROLL_SHARE, enroll_day, 14)

    # New profiles are created on their enrollment day (or any day when not enrolled).
    first_seen = np.where(is_new, rng.integers(0, days, size=n), -rng.integers(30, 2000, size=n))
    first_seen = np.where(is_new & enrolled, enroll_day, first_seen)
    return Population(
        platform=platform, designs=designs, client_id=client_id, country=country, os=os_,
        memory_mb=memory_mb, engine=engine, first_seen=first_seen, p_active=p_active,
        hours_level=hours_level, uri_level=uri_level, search_level=search_level,
        crash_level=crash_level, default_browser=default_browser, experiment=experiment,
        branch=branch, enroll_day=enroll_day, reenroll_day=reenroll_day, expose_day=expose_day,
        unenroll_day=unenroll_day,
    )


def _effect_matrix(pop: Population, channel: str, days: int) -> np.ndarray:
    """Multiplier (1 + planted effect) per client and day; 1 before enrollment."""
    relative = np.zeros(pop.size)
    for index, design in enumerate(pop.designs):
        per_branch = design.effects.get(channel, {})
        for b, (slug, _) in enumerate(design.branches):
            relative[(pop.experiment == index) & (pop.branch == b)] = per_branch.get(slug, 0.0)
    after = (np.arange(days)[None, :] >= pop.enroll_day[:, None]) & (pop.enroll_day[:, None] >= 0)
    return 1.0 + np.where(after, relative[:, None], 0.0)


def draw_panel(rng: np.random.Generator, pop: Population, days: int) -> Panel:
    """Which client-days are active. Enrollment, exposure and unenrollment days always are."""
    grid = np.arange(days)[None, :]
    prob = pop.p_active[:, None] * _effect_matrix(pop, "activity", days)
    active = rng.random((pop.size, days)) < prob
    for forced in (pop.enroll_day, pop.reenroll_day, pop.expose_day, pop.unenroll_day):
        active |= (grid == forced[:, None]) & (forced[:, None] >= 0)
    active &= grid >= pop.first_seen[:, None]
    client, day = np.nonzero(active)
    enrolled_from = pop.enroll_day[client]
    unenrolled = pop.unenroll_day[client]
    annotated = (enrolled_from >= 0) & (day >= enrolled_from) & ((unenrolled < 0) | (day <= unenrolled))
    multiplier = {ch: _effect_matrix(pop, ch, days)[client, day] for ch in ("active", "uri", "search")}
    return Panel(client=client, day=day, annotated=annotated, multiplier=multiplier)
