"""A worker process for the kill tests: `python kill_worker.py DB OUT KILL_AT`.

KILL_AT is where the first attempt dies (os._exit, no cleanup): `claimed` (job marked running,
nothing done), `mid` (half of the result written to a temp file), `unfinished` (result published,
ledger not yet updated), `done` (ledger updated), or `none`. The handler logs each execution to
OUT/effects.log and publishes OUT/<name>.json atomically.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.jobs.model import Job
from bot.jobs.queue import JobQueue, Ledger  # noqa: E402


def main(db: str, out: str, kill_at: str) -> None:
    out_dir = Path(out)
    first = not (out_dir / "restarted").exists()
    die = (lambda point: os._exit(9) if first and kill_at == point else None)

    def work(job: Job, queue: JobQueue) -> dict:
        with open(out_dir / "effects.log", "a") as log:
            log.write(job.key + "\n")
        die("claimed")
        temp = out_dir / f".{job.payload['name']}.tmp"
        temp.write_text('{"rows": [1, 2')
        die("mid")
        temp.write_text(json.dumps({"rows": [1, 2, 3]}))
        os.replace(temp, out_dir / f"{job.payload['name']}.json")
        die("unfinished")
        return {"rows": 3}

    original = Ledger.finish

    def finish(self, key, state, result=None, error=None):
        original(self, key, state, result, error)
        die("done")

    Ledger.finish = finish
    queue = JobQueue(Path(db), {"work": work})
    if first:
        queue.enqueue(Job("work", "work:one", "g", {"name": "one"}))
        (out_dir / "restarted").touch()
    else:
        queue.recover()
    queue.run_until_idle()


if __name__ == "__main__":
    main(*sys.argv[1:4])
