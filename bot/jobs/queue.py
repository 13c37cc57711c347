"""Durable jobs over the shared store: enqueue, run one attempt, settle it by the retry policy.

`execute` runs a claimed job's handler in this process and classifies how it ended; `settle`
records that in the store (done, retried after a backoff, or failed with a visible follow-up job).
Worker processes split the two: the handler runs in a runner child the supervisor can kill at the
job's deadline (bot/jobs/worker.py); `run_until_idle` does both in the calling thread (tests, the
benchmarks, `jetstream worker --once`).

Retries: an outage (`transient`: GitHub 5xx, rate limits, connection failures) is retried with
exponential backoff until `horizon` seconds after the job's first attempt; any other error, a
deadline kill or a lost runner, up to `max_attempts` attempts. A job that finally fails gets its
kind's failure job (e.g. a failed check run saying why), enqueued in the same transaction.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from bot.jobs.model import Claim, Done, Handler, Job, Outcome
from bot.jobs.store import JobStore, open_store

log = logging.getLogger(__name__)

FailureJob = Callable[[Job, str], "Job | None"]  # (failed job, public reason) -> job that says so


@dataclass(frozen=True)
class RetryPolicy:
    backoff: float = 2.0  # first delay; doubles per attempt
    max_delay: float = 300.0
    horizon: float = 3600.0  # an outage is retried this long after the first attempt
    max_attempts: int = 5  # for errors that are not outages
    lease: float = 30.0  # a runner's lease; heartbeats every lease / 3
    deadlines: Mapping[str, float] = field(default_factory=dict)  # kind -> seconds
    default_deadline: float = 900.0

    def delay(self, attempts: int) -> float:
        return min(self.max_delay, self.backoff * 2.0 ** max(0, attempts - 1))

    def deadline(self, kind: str) -> float:
        return self.deadlines.get(kind, self.default_deadline)


def _never_transient(error: BaseException) -> str | None:
    return None


class JobQueue:
    def __init__(self, store: JobStore | str, handlers: Mapping[str, Handler] | None = None, *,
                 policy: RetryPolicy | None = None,
                 transient: Callable[[BaseException], str | None] = _never_transient,
                 on_failure: Mapping[str, FailureJob] | None = None,
                 clock: Callable[[], float] = time.time):
        self.store = open_store(store) if isinstance(store, str) else store
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self.policy = policy or RetryPolicy()
        self.transient = transient  # the outage an error is (public text), or None
        self.on_failure = dict(on_failure or {})
        self.clock = clock

    def enqueue(self, job: Job) -> bool:
        """Record the job; False if an equal job (same key) already exists."""
        return self.store.insert(job)

    def intake(self, delivery_id: str, event: str, jobs: Sequence[Job]) -> int | None:
        """The webhook's one write: delivery and jobs recorded together. None for a duplicate
        delivery, else how many jobs were new."""
        new = self.store.intake(delivery_id, event, jobs)
        return None if new is None else len(new)

    def claim(self, owner: str, ignore_delays: bool = False) -> Claim | None:
        return self.store.claim(owner, self.policy.lease, ignore_delays)

    def execute(self, claim: Claim) -> Outcome:
        """Run the handler here; an exception becomes an outcome, never escapes."""
        job = claim.job
        handler = self.handlers.get(job.kind)
        if handler is None:
            return Outcome("error", reason=f"no handler for job kind {job.kind!r}")
        try:
            value = handler(job, self)
        except Exception as error:  # a job failure is recorded, never crashes the worker
            outage = self.transient(error)
            if outage:
                log.warning("job %s: %s (attempt %d)", job.key, outage, claim.attempts)
                return Outcome("transient", reason=outage)
            log.exception("job %s failed (attempt %d)", job.key, claim.attempts)
            return Outcome("error", reason=f"internal error ({type(error).__name__}); "
                                           "the details are in the worker's log")
        done = value if isinstance(value, Done) else Done(dict(value or {}))
        return Outcome("done", dict(done.result), tuple(done.then))

    def settle(self, claim: Claim, outcome: Outcome) -> str:
        """Record the attempt by the policy; the job's new state ('' when the lease was lost)."""
        job, policy = claim.job, self.policy
        if outcome.status == "done":
            return "done" if self.store.finish(claim, outcome.result, outcome.then) else ""
        if outcome.status == "transient":
            waited = self.clock() - claim.first_run
            delay = policy.delay(claim.attempts)
            if waited + delay <= policy.horizon:
                return "queued" if self.store.retry(claim, delay, outcome.reason) else ""
            reason = f"{outcome.reason}, for longer than the retry horizon ({policy.horizon:g} s)"
        elif claim.attempts < policy.max_attempts:
            return "queued" if self.store.retry(claim, policy.delay(claim.attempts), outcome.reason) else ""
        else:
            reason = f"{outcome.reason} (gave up after {claim.attempts} attempts)"
        follow = self.on_failure.get(job.kind)
        then = [j for j in ([follow(job, reason)] if follow else []) if j is not None]
        log.error("job %s failed for good: %s", job.key, reason)
        return "failed" if self.store.fail(claim, reason, then) else ""

    def run_until_idle(self, max_jobs: int = 10_000) -> int:
        """Claim and run jobs in this thread until none is left, delayed retries included."""
        owner = f"inline:{uuid.uuid4().hex[:12]}"
        executed = 0
        while executed < max_jobs:
            claim = self.claim(owner, ignore_delays=True)
            if claim is None:
                return executed
            self.settle(claim, self.execute(claim))
            executed += 1
        return executed
