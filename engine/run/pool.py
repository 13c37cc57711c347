"""Worker processes for the replicate draws of the statistics (pure, CPU-bound, independent).

Each draw is seeded by what it computes, so running them in parallel gives the same records
as running them one after another. Workers come from a forkserver (a
clean process started once, with the statistics modules preloaded), never forked from a parent
that holds a DuckDB connection.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from multiprocessing import forkserver
from multiprocessing.reduction import ForkingPickler
from types import MappingProxyType
from typing import Any

from engine.run.tether import die_with_parent

# the tether first: the forkserver dies with the analysis even while it imports the rest
_PRELOAD = ["engine.run.forkserver_tether", "engine.statistics.resample"]
# One BLAS thread per worker: the workers already use every core, and a multi-threaded BLAS
# in each of them oversubscribes the machine (measured slower than one worker).
_ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _mapping_proxy(data: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(data)


def _reduce_proxy(proxy: MappingProxyType) -> tuple:
    return _mapping_proxy, (dict(proxy),)


# Resolved configs hold read-only mappings; send them to workers as the same read-only mappings.
ForkingPickler.register(MappingProxyType, _reduce_proxy)


def default_workers() -> int:
    """One worker per available core (at most 4); 1 means run in this process."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


@contextmanager
def statistics_pool(workers: int | None = None) -> Iterator[cf.Executor | None]:
    """A process pool for `engine.analysis.analyse_experiment(executor=...)`, or None when one
    worker is asked for (statistics then run in the calling process)."""
    workers = default_workers() if workers is None else workers
    if workers <= 1:
        yield None
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    with _environment(_ONE_THREAD):  # read by numpy's BLAS when the forkserver imports it
        forkserver.ensure_running()
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                initializer=die_with_parent) as pool:
        yield pool


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
