"""Shared timing helper for the benches: best of a few repeats, so one noisy run does not count."""
from __future__ import annotations

import time
from typing import Callable


def best_of(work: Callable[[], object], repeats: int = 3,
            clock: Callable[[], float] = time.perf_counter) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        work()
        best = min(best, clock() - start)
    return best
