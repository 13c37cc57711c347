"""The statistics pool dies with the analysis process: a SIGKILLed `jetstream analyse` leaves no
forkserver and no worker behind (a killed re-analysis must not keep computing or publishing)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

CHILD = textwrap.dedent("""
    import json, sys, time
    from multiprocessing import forkserver
    from engine.run.pool import statistics_pool
    with statistics_pool(2) as pool:
        busy = [pool.submit(time.sleep, 300) for _ in range(2)]
        time.sleep(1.0)
        print(json.dumps([forkserver._forkserver._forkserver_pid, *pool._processes]), flush=True)
        time.sleep(300)
""")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_forkserver_and_workers_die_with_the_analysis():
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        pids = json.loads(child.stdout.readline())
        assert len(pids) == 3 and all(_alive(p) for p in pids)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        deadline = time.monotonic() + 30  # generous: the kernel delivers the signal at once
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p for p in pids if _alive(p)] == []
    finally:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
