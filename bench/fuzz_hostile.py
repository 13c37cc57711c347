"""Fuzz run behind tests/hostile/test_fuzz.py, bigger: every real experiment config of the shared
corpus under every structural mutation at seeded positions and sizes, through the validator; and
octokit webhook payloads with values swapped for random JSON, through the shape check and routing.
Counts inputs, tracebacks and hangs (an input over HANG_SECONDS, by SIGALRM), and peak memory.

    python -m bench.fuzz_hostile [ROUNDS]     (default 1 round: 387 configs x 8 mutations, and
                                               4,000 payloads; about 20 min on a shared 2-core box)
"""
from __future__ import annotations

import copy
import json
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bot.webhooks import route, shape_problem
from engine.check.validate import validate
from engine.config.repository import load_repository
from tests.hostile.mutations import CORPUS, MUTATIONS, corpus_configs

HANG_SECONDS = 30
EXAMPLES = sorted((CORPUS.parents[1] / "github" / "octokit-webhooks" / "payload-examples")
                  .rglob("*.payload.json"))


class Hang(Exception):
    pass


def _alarm(signum, frame):  # noqa: ARG001
    raise Hang


def _bounded(work) -> str:
    """'ok', 'traceback' or 'hang' for one input."""
    signal.alarm(HANG_SECONDS)
    try:
        work()
        return "ok"
    except Hang:
        return "hang"
    except Exception:  # noqa: BLE001 - counting them is the point
        traceback.print_exc(limit=3)
        return "traceback"
    finally:
        signal.alarm(0)


def _random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(7 if depth < 3 else 5)
    if kind == 5:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(3))]
    if kind == 6:
        return {str(rng.randrange(9)): _random_json(rng, depth + 1) for _ in range(rng.randrange(3))}
    return (None, rng.random() < 0.5, rng.randint(-2**40, 2**40), "x" * rng.randrange(5),
            rng.random())[kind]


def _mutated_payload(rng: random.Random, example: dict) -> dict:
    payload = copy.deepcopy(example)
    node = payload
    for _ in range(rng.randrange(1, 5)):
        if not isinstance(node, dict) or not node:
            break
        key = rng.choice(list(node))
        if rng.random() < 0.4 or not isinstance(node[key], dict):
            node[key] = _random_json(rng) if rng.random() < 0.8 else None
            break
        node = node[key]
    return payload


def main(rounds: int = 1) -> int:
    signal.signal(signal.SIGALRM, _alarm)
    rng = random.Random(12)
    repo = load_repository(CORPUS)
    counts = {"configs": {"ok": 0, "traceback": 0, "hang": 0},
              "payloads": {"ok": 0, "traceback": 0, "hang": 0}}
    slowest = 0.0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as temp:
        for _ in range(rounds):
            for config in corpus_configs():
                text = config.read_text()
                for name, mutate in sorted(MUTATIONS.items()):
                    target = Path(temp) / config.name
                    target.write_bytes(mutate(text, rng.random(), rng.random()))
                    begun = time.perf_counter()
                    counts["configs"][_bounded(lambda: validate(CORPUS, [target], repository=repo))] += 1
                    slowest = max(slowest, time.perf_counter() - begun)
    print(f"configs: {counts['configs']} (slowest {slowest:.2f} s)", flush=True)
    examples = [(p.parent.name, json.loads(p.read_text())) for p in EXAMPLES]
    for _ in range(rounds * 4000):
        event, example = rng.choice(examples)
        payload = _mutated_payload(rng, example)

        def intake(event=event, payload=payload):
            if shape_problem(event, payload) is None:
                route(event, payload, "fuzz")
        counts["payloads"][_bounded(intake)] += 1
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'inputs':<10} {'tried':>7} {'tracebacks':>10} {'hangs':>6}")
    for kind, c in counts.items():
        print(f"{kind:<10} {sum(c.values()):>7} {c['traceback']:>10} {c['hang']:>6}")
    print(f"slowest config input {slowest:.2f} s (hang bound {HANG_SECONDS} s); "
          f"peak memory {peak:.0f} MB; {elapsed:.0f} s in all")
    return int(any(c["traceback"] or c["hang"] for c in counts.values()))


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1))
