"""The bot as it is deployed, on loopback: web instances (`jetstream serve`) and workers
(`jetstream worker`) as separate processes sharing one job store, against the fake GitHub of the
test process. Deliveries go to a random web instance; `settle()` waits until the store is idle."""
from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from bot.jobs.store import open_store
from tests.bot.fixtures import APP_ID, SECRET
from tests.bot.payloads import signed

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every live descendant of `pid`, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Cluster:
    def __init__(self, fake_github: Any, private_key: str, store: str, tmp: Path, registry: list[dict[str, Any]],
                 **env: str):
        (tmp / "registry.json").write_text(json.dumps(registry))
        self.store_spec = store
        self.store = open_store(store)
        self.tmp = tmp
        self.env = dict(
            os.environ, PYTHONPATH=str(ROOT), GITHUB_WEBHOOK_SECRET=SECRET, GITHUB_APP_ID=APP_ID,
            GITHUB_APP_PRIVATE_KEY=private_key, GITHUB_API_URL=fake_github.base, JETSTREAM_JOB_STORE=store,
            JETSTREAM_REGISTRY=str(tmp / "registry.json"), JETSTREAM_WORK_DIR=str(tmp / "work"),
            JETSTREAM_RESULTS_DIR=str(tmp / "results"), JETSTREAM_RESULTS_URL="http://results.test",
            JETSTREAM_GITHUB_SECONDS_BETWEEN_REQUESTS="0", JETSTREAM_GITHUB_SECONDS_BETWEEN_WRITES="0",
            JETSTREAM_GITHUB_RETRIES="1", JETSTREAM_LEASE_SECONDS="2", JETSTREAM_RETRY_BACKOFF="0.05",
            JETSTREAM_RETRY_MAX_DELAY="0.5")
        self.env.update(env)
        self.webs: list[tuple[subprocess.Popen, str]] = []
        self.workers: list[subprocess.Popen] = []
        self.http = requests.Session()
        self._logs: list[Any] = []

    def _spawn(self, *args: str) -> subprocess.Popen:
        log = open(self.tmp / f"{args[0]}-{uuid.uuid4().hex[:6]}.log", "wb")
        self._logs.append(log)
        return subprocess.Popen([sys.executable, "-m", "engine.cli", *args], env=self.env, cwd=self.tmp,
                                stdout=log, stderr=subprocess.STDOUT)

    def start_web(self, *extra: str) -> str:
        port = free_port()
        process = self._spawn("serve", "--port", str(port), *extra)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.http.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"web instance did not start: {self.logs()}")
            time.sleep(0.1)
        self.webs.append((process, url))
        return url

    def start_worker(self, slots: int = 2) -> subprocess.Popen:
        process = self._spawn("worker", "--workers", str(slots))
        self.workers.append(process)
        return process

    def deliver(self, event: str, payload: dict[str, Any], delivery: str | None = None) -> int:
        """To a random web instance; the answer's status."""
        body, signature = signed(payload, SECRET)
        _, url = random.choice(self.webs)
        answer = requests.post(f"{url}/webhook", data=body, timeout=30, headers={
            "X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": signature, "Content-Type": "application/json"})
        return answer.status_code

    def kill9(self, worker: subprocess.Popen) -> set[int]:
        """kill -9 the worker process alone; its descendants at that moment (to check on)."""
        family = descendants(worker.pid)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        self.workers.remove(worker)
        return family

    def settle(self, timeout: float = 90.0, quiet: float = 1.0) -> dict[str, int]:
        """Wait until no job is queued or running (for `quiet` seconds); the job counts."""
        deadline = time.monotonic() + timeout
        idle_since = None
        while time.monotonic() < deadline:
            counts = self.store.counts()
            if counts.get("queued", 0) + counts.get("running", 0) == 0:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since >= quiet:
                    return counts
            else:
                idle_since = None
            time.sleep(0.1)
        raise AssertionError(f"jobs still pending: {self.store.counts()}\n{self.logs()}")

    def logs(self) -> str:
        for log in self._logs:
            log.flush()
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.tmp.glob("*.log")))

    def close(self) -> None:
        for process in [p for p, _ in self.webs] + self.workers:
            process.send_signal(signal.SIGTERM)
        for process in [p for p, _ in self.webs] + self.workers:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self._logs:
            log.close()
        self.store.close()
