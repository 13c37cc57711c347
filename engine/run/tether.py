"""A process that dies with its parent (Linux): the kernel SIGKILLs it when the parent exits.

The bot kills a re-analysis by its process group, and a killed worker takes its runner and the
`jetstream analyse` child down with it; the statistics pool must not outlive that child either.
Its forkserver is kept alive by every worker it forked (each holds the forkserver's "alive" pipe),
and the workers by their running task, so both are tied to their parent: the forkserver to the
analysis (`forkserver_tether`, preloaded), each worker to the forkserver (pool initializer).
"""
from __future__ import annotations

import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1
try:  # resolved once, here: a preexec_fn must not dlopen in a forked child
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: children outlive a killed parent there
    _prctl = None


def die_with_parent(parent: int | None = None) -> None:
    """Have the kernel SIGKILL this process when its parent (thread) exits; exit at once if the
    parent (pid `parent`, else the current one) is already gone. Usable as a `preexec_fn` (the
    setting survives `exec`) and as a pool initializer."""
    parent = os.getppid() if parent is None else parent
    if _prctl is None or _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    if os.getppid() != parent:
        os._exit(1)
