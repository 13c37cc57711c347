"""A runner: the child process a worker slot runs its jobs in (`python -m bot.jobs.runner
module:factory`), so that a job past its deadline can be killed with everything it started.

It leads a process group of its own (the supervisor starts it in a new session) and dies with its
supervisor (PR_SET_PDEATHSIG). It reads one claimed job per line on stdin, runs it through the
queue `factory()` builds, and answers one outcome per line on the original stdout (fd 1 is
pointed at stderr meanwhile, so nothing a handler prints can corrupt the answers).
"""
from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from typing import Any

from bot.jobs.model import Claim, Job, Outcome
from engine.run.tether import die_with_parent

SUPERVISOR_ENV = "JETSTREAM_SUPERVISOR_PID"
MEMORY_ENV = "JETSTREAM_JOB_MEMORY_MB"  # address-space limit of a runner and its children (unset: none)


def limit_memory(megabytes: str | None) -> None:
    """Bound the address space of this process (and what it starts): an allocation past it fails
    with MemoryError in the handler, an outcome like any other error, instead of the host's OOM
    killer taking the whole worker."""
    if megabytes:
        import resource

        limit = int(float(megabytes) * 1024 * 1024)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def job_to_json(job: Job) -> dict[str, Any]:
    return {"kind": job.kind, "key": job.key, "group": job.group, "payload": dict(job.payload),
            "supersedes": job.supersedes}


def job_from_json(data: dict[str, Any]) -> Job:
    return Job(data["kind"], data["key"], data["group"], data["payload"], data["supersedes"])


def claim_to_json(claim: Claim) -> str:
    return json.dumps({"job": job_to_json(claim.job), "owner": claim.owner, "attempts": claim.attempts,
                       "first_run": claim.first_run})


def outcome_to_json(outcome: Outcome) -> str:
    return json.dumps({"status": outcome.status, "result": dict(outcome.result), "reason": outcome.reason,
                       "then": [job_to_json(job) for job in outcome.then]})


def outcome_from_json(line: str) -> Outcome:
    data = json.loads(line)
    return Outcome(data["status"], data["result"], tuple(job_from_json(j) for j in data["then"]), data["reason"])


def _factory(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def main(factory: str) -> None:
    die_with_parent(int(os.environ.get(SUPERVISOR_ENV) or os.getppid()))
    limit_memory(os.environ.get(MEMORY_ENV))
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s runner %(process)d %(name)s: %(message)s")
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    queue = _factory(factory)()
    for line in sys.stdin:
        data = json.loads(line)
        claim = Claim(job_from_json(data["job"]), data["owner"], data["attempts"], data["first_run"])
        answers.write(outcome_to_json(queue.execute(claim)) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
