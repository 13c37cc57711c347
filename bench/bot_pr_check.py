"""Webhook-to-completed-check-run time for a PR touching 10 configs (goal: <= 3 s).

Deployed shape on loopback: a PostgreSQL job store (a throwaway server), one `jetstream serve` and
one `jetstream worker --workers 2` process, the fake GitHub. The first PR includes the runners'
start (interpreter, imports, token exchange); the rest are warm.
Run: .venv/bin/python -m bench.bot_pr_check [prs] [sqlite|postgres]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bot_common import environment, percentile  # noqa: E402
from tests.bot import payloads  # noqa: E402
from tests.bot.cluster import Cluster  # noqa: E402
from tests.bot.fake_github import FakePull  # noqa: E402
from tests.bot.harness import experiment_toml, registry_json, seed_repo  # noqa: E402
from tests.bot.postgres import PostgresServer  # noqa: E402

REPO = "octo/bench"
CONFIGS = 10


def main(prs: int = 5, store_kind: str = "postgres") -> None:
    server, settings, work = environment()
    postgres = PostgresServer() if store_kind == "postgres" else None
    store = postgres.new_database() if postgres else str(work / "jobs.sqlite")
    slugs = [f"exp{i:02}" for i in range(CONFIGS)]
    cluster = Cluster(server, settings.private_key, store, work, registry_json({s: ("fenix", "2024-03-01", None) for s in slugs}),
                      GITHUB_APP_ID=server.app_id)
    repo, base = seed_repo(server, REPO, slugs)
    timings = []
    try:
        cluster.start_web()
        cluster.start_worker(slots=2)
        for number in range(1, prs + 1):
            head = repo.commit({f"experiments/{s}.toml": experiment_toml() + f"# pr {number}\n" for s in slugs},
                               f"pr {number}", parent=base)
            repo.pulls[number] = FakePull(number, base, head)
            start = time.perf_counter()
            assert cluster.deliver("pull_request", payloads.pull_request("opened", REPO, number, head, base)) == 202
            while not any(r["status"] == "completed" for r in repo.check_run("jetstream/validate", head)):
                if time.perf_counter() - start > 60:
                    raise SystemExit("timed out waiting for the check run")
                time.sleep(0.005)
            timings.append(time.perf_counter() - start)
    finally:
        cluster.close()
        if postgres:
            postgres.stop()
    warm = timings[1:] or timings
    print(f"{'store':>9} {'PRs':>5} {'configs/PR':>11} {'first (cold) s':>15} {'warm median s':>14} {'warm max s':>11}")
    print(f"{store_kind:>9} {prs:>5} {CONFIGS:>11} {timings[0]:>15.2f} {percentile(warm, 50):>14.2f} {max(warm):>11.2f}")
    print(f"goal <= 3 s: {'met' if max(warm) <= 3 else 'NOT met'} (warm PRs; the first includes the runners' start)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5, sys.argv[2] if len(sys.argv) > 2 else "postgres")
