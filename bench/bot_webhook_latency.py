"""Webhook answer latency under 50 concurrent signed deliveries (goal: p99 <= 50 ms).

The app runs as `jetstream serve` in its own process (as in production, minus gunicorn); 50
client threads each send signed `pull_request.opened` deliveries for distinct PRs.
Run: .venv/bin/python bench/bot_webhook_latency.py [rounds]
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bot_common import SECRET, percentile  # noqa: E402
from tests.bot import payloads  # noqa: E402

CONCURRENCY = 50


def start_server(work: Path) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, GITHUB_WEBHOOK_SECRET=SECRET, JETSTREAM_JOB_STORE=str(work / "jobs.sqlite"))
    process = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--port", "0"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    return process, line.rsplit(" ", 1)[-1].strip()


def main(rounds: int = 10) -> None:
    import tempfile
    work = Path(tempfile.mkdtemp(prefix="jetstream-bench-"))
    process, url = start_server(work)
    local = threading.local()
    template = payloads.pull_request("opened", "octo/bench", 1, "1" * 40, "0" * 40)

    def delivery(number: int) -> tuple[bytes, dict[str, str]]:
        payload = dict(template, number=number)
        payload["pull_request"] = dict(template["pull_request"], number=number,
                                       head=dict(template["pull_request"]["head"], sha=uuid.uuid4().hex))
        body, signature = payloads.signed(payload, SECRET)
        return body, {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": str(uuid.uuid4()),
                      "X-Hub-Signature-256": signature, "Content-Type": "application/json"}

    def send(prepared: tuple[bytes, dict[str, str]]) -> float:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        body, headers = prepared
        start = time.perf_counter()
        answer = session.post(f"{url}/webhook", data=body, headers=headers)
        elapsed = time.perf_counter() - start
        assert answer.status_code == 202, answer.text
        return elapsed

    try:
        latencies: list[float] = []
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(send, map(delivery, range(1, CONCURRENCY + 1))))  # warm-up
            for round_ in range(rounds):
                start = 1000 * (round_ + 1)
                latencies += pool.map(send, [delivery(n) for n in range(start, start + CONCURRENCY)])
    finally:
        process.terminate()
        process.wait(10)
    ms = [1000 * x for x in latencies]
    print(f"{'deliveries':>12} {'concurrency':>12} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    print(f"{len(ms):>12} {CONCURRENCY:>12} {percentile(ms, 50):>8.1f} {percentile(ms, 90):>8.1f} "
          f"{percentile(ms, 99):>8.1f} {max(ms):>8.1f}")
    print(f"goal p99 <= 50 ms: {'met' if percentile(ms, 99) <= 50 else 'NOT met'}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
