"""Webhook-to-completed-check-run time for a PR touching 10 configs (goal: <= 3 s).

Fake GitHub on loopback, the app over HTTP, a real huey consumer (2 threads) running the jobs.
Run: .venv/bin/python bench/bot_pr_check.py [prs]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bot_common import environment, percentile  # noqa: E402
from tests.bot import payloads  # noqa: E402
from tests.bot.fake_github import FakePull  # noqa: E402
from tests.bot.harness import Bot, experiment_toml, registry_json, seed_repo  # noqa: E402

REPO = "octo/bench"
CONFIGS = 10


def main(prs: int = 5) -> None:
    server, settings, work = environment()
    slugs = [f"exp{i:02}" for i in range(CONFIGS)]
    bot = Bot(settings, registry_json({s: ("fenix", "2024-03-01", None) for s in slugs}), work)
    repo, base = seed_repo(server, REPO, slugs)
    consumer = bot.queue.consumer(workers=2)
    consumer.start()
    timings = []
    try:
        for number in range(1, prs + 1):
            head = repo.commit({f"experiments/{s}.toml": experiment_toml() + f"# pr {number}\n" for s in slugs},
                               f"pr {number}", parent=base)
            repo.pulls[number] = FakePull(number, base, head)
            start = time.perf_counter()
            assert bot.deliver("pull_request", payloads.pull_request("opened", REPO, number, head, base)).status_code == 202
            while not any(r["status"] == "completed" for r in repo.check_run("jetstream/validate", head)):
                if time.perf_counter() - start > 30:
                    raise SystemExit("timed out waiting for the check run")
                time.sleep(0.005)
            timings.append(time.perf_counter() - start)
    finally:
        consumer.stop(graceful=True)
        bot.close()
    warm = timings[1:] or timings
    print(f"{'PRs':>5} {'configs/PR':>11} {'first (cold) s':>15} {'warm median s':>14} {'warm max s':>11}")
    print(f"{prs:>5} {CONFIGS:>11} {timings[0]:>15.2f} {percentile(warm, 50):>14.2f} {max(warm):>11.2f}")
    print(f"goal <= 3 s: {'met' if max(timings) <= 3 else 'NOT met'} (every PR, cold start included)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
