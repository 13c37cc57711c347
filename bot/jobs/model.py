"""What a job is: its kind, its key (meaning), its exclusion group and payload; its record."""
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
    state: str
    attempts: int
    result: Mapping[str, Any] | None
    error: str | None


Handler = Callable[[Job, Any], Mapping[str, Any] | None]  # (job, the queue running it) -> result
