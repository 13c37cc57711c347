"""The worker: slots that claim jobs with leases, run each in a runner child under the job kind's
deadline, keep the lease alive by heartbeats, and settle the outcome in the store.

A slot owns one runner process (restarted when it dies or is killed). While a job runs, the slot
heartbeats every lease/3; if the store says the lease was lost (it expired and another worker
recovered the job), the runner is killed at once and nothing is recorded. At the deadline the
runner's process group is killed (its analysis child dies with it: PR_SET_PDEATHSIG) and the job
is settled as a `deadline` outcome. If this whole process is killed, the runners die with it and
the leases expire: any worker recovers the jobs. Nothing depends on PIDs or host names.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from typing import Callable

from bot.jobs.model import Claim, Job, Outcome
from bot.jobs.procs import kill_group
from bot.jobs.queue import JobQueue
from bot.jobs.runner import SUPERVISOR_ENV, claim_to_json, outcome_from_json

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2


class _Runner:
    def __init__(self, factory: str):
        env = dict(os.environ, **{SUPERVISOR_ENV: str(os.getpid())})
        self.process = subprocess.Popen([sys.executable, "-m", "bot.jobs.runner", factory], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        bufsize=1, start_new_session=True)

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, claim: Claim) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(claim_to_json(claim) + "\n")
        self.process.stdin.flush()

    def answer(self, timeout: float) -> str | None:
        """The next answer line, '' when the runner died, None when `timeout` passed first."""
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, timeout))
        return self.process.stdout.readline() if ready else None

    def kill(self) -> None:
        kill_group(self.process.pid)
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


class Worker:
    def __init__(self, queue: JobQueue, factory: str, slots: int = 2,
                 daily: Callable[[], Job | None] | None = None):
        self.queue = queue
        self.factory = factory  # module:function building the runners' queue
        self.slots = slots
        self.daily = daily  # the job the periodic check enqueues (keyed by day: collapses)
        self.stopping = threading.Event()
        self.identity = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self._runners: list[_Runner] = []
        self._lock = threading.Lock()

    def run(self) -> None:
        """Until SIGTERM / SIGINT (main thread) or `stop()`."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stopping.set())
        threads = [threading.Thread(target=self._slot, args=(n,), name=f"jetstream-slot-{n}", daemon=True)
                   for n in range(self.slots)]
        threads.append(threading.Thread(target=self._maintain, name="jetstream-maintenance", daemon=True))
        for thread in threads:
            thread.start()
        log.info("worker %s: %d slot(s) on %s", self.identity, self.slots, type(self.queue.store.db).__name__)
        while not self.stopping.wait(0.5):
            pass
        for thread in threads:
            thread.join(timeout=10)
        with self._lock:
            for runner in self._runners:
                runner.kill()

    def stop(self) -> None:
        self.stopping.set()

    def _maintain(self) -> None:
        """Recover expired leases (any worker's) and enqueue the daily job when it is due."""
        while not self.stopping.is_set():
            try:
                recovered = self.queue.store.recover()
                if recovered:
                    log.warning("recovered %d job(s) whose runner stopped answering: %s", len(recovered), recovered)
                job = self.daily() if self.daily else None
                if job is not None:
                    self.queue.enqueue(job)
            except Exception:  # noqa: BLE001 - a store hiccup must not end maintenance
                log.exception("maintenance failed; retrying")
            self.stopping.wait(max(0.5, self.queue.policy.lease / 3))

    def _slot(self, number: int) -> None:
        runner: _Runner | None = self._spawn()  # started now: the first job does not wait for it
        while not self.stopping.is_set():
            try:
                claim = self.queue.claim(f"{self.identity}:{number}:{uuid.uuid4().hex[:8]}")
            except Exception:  # noqa: BLE001 - the store is unreachable for a moment
                log.exception("claim failed; retrying")
                self.stopping.wait(1.0)
                continue
            if claim is None:
                self.stopping.wait(POLL_SECONDS)
                continue
            if runner is None or not runner.alive():
                runner = self._spawn()
            outcome = self._run(runner, claim)
            if outcome is None:  # lease lost: another worker owns the job now
                runner = None
                continue
            if outcome.status in ("deadline", "lost"):
                runner = None
            try:
                state = self.queue.settle(claim, outcome)
            except Exception:  # noqa: BLE001 - the lease expires and the job is recovered
                log.exception("could not record the outcome of %s", claim.job.key)
                continue
            log.info("job %s: %s -> %s", claim.job.key, outcome.status, state or "lease lost")

    def _spawn(self) -> _Runner:
        runner = _Runner(self.factory)
        with self._lock:
            self._runners = [r for r in self._runners if r.alive()] + [runner]
        return runner

    def _run(self, runner: _Runner, claim: Claim) -> Outcome | None:
        policy = self.queue.policy
        deadline_seconds = policy.deadline(claim.job.kind)
        deadline = time.monotonic() + deadline_seconds
        beat = policy.lease / 3
        confirmed = time.monotonic()  # the last time the store confirmed our lease
        try:
            runner.send(claim)
        except OSError:
            runner.kill()
            return Outcome("lost", reason="its runner process died")
        while True:
            line = runner.answer(min(beat, deadline - time.monotonic()))
            if line:
                return outcome_from_json(line)
            if line == "":
                runner.kill()
                return Outcome("lost", reason="its runner process died")
            if time.monotonic() >= deadline:
                runner.kill()
                return Outcome("deadline", reason=f"it did not finish within its {deadline_seconds:g} s deadline")
            held = self._heartbeat(claim)
            if held:
                confirmed = time.monotonic()
            if held is False or time.monotonic() - confirmed > policy.lease:
                # lost, or unconfirmed for a whole lease: another worker may own the job by now
                runner.kill()
                log.warning("lease of %s lost; its runner was stopped", claim.job.key)
                return None

    def _heartbeat(self, claim: Claim) -> bool | None:
        """True: lease extended; False: lost; None: the store did not answer."""
        try:
            return self.queue.store.heartbeat(claim.job.key, claim.owner, self.queue.policy.lease)
        except Exception:  # noqa: BLE001 - keep running; the next beat may get through
            log.warning("heartbeat failed for %s", claim.job.key, exc_info=True)
            return None


def daily_due(make_job: Callable[[dt.date], Job], at: dt.time, clock: Callable[[], dt.datetime]):
    """A `daily` callable for `Worker`: today's job once the UTC time `at` has passed."""
    def due() -> Job | None:
        now = clock()
        return make_job(now.date()) if now.time() >= at else None
    return due
