"""What a job is: its kind, its key (meaning), its exclusion group and payload; its record; a claim
(a job leased to one runner); what running it came to."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class Job:
    kind: str
    key: str
    group: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    supersedes: bool = False


@dataclass(frozen=True)
class JobRecord:
    job: Job
    state: str  # queued | running | done | failed | superseded
    attempts: int
    result: Mapping[str, Any] | None
    error: str | None


@dataclass(frozen=True)
class Claim:
    """A job leased to `owner` until the lease runs out (heartbeats extend it)."""
    job: Job
    owner: str
    attempts: int  # including this one
    first_run: float  # epoch seconds of the first attempt: the retry horizon counts from here


@dataclass(frozen=True)
class Done:
    """A handler's result, with jobs to enqueue in the same transaction that records it done."""
    result: Mapping[str, Any] = field(default_factory=dict)
    then: tuple[Job, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: `done`, `transient` (an outage: retry up to the horizon),
    `error` (a bug or hostile input: a few retries), `deadline` (killed) or `lost` (runner died)."""
    status: str
    result: Mapping[str, Any] = field(default_factory=dict)
    then: tuple[Job, ...] = ()
    reason: str = ""  # public text (no paths, interpreter names or PIDs): it may reach a PR


Handler = Callable[[Job, Any], "Done | Mapping[str, Any] | None"]  # (job, the queue) -> result
