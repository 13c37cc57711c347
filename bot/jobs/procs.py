"""Process hygiene for job runners and analysis children (Linux): a child that dies with the
process that started it, and killing a whole process group."""
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
    parent (pid `parent`, else the current one) is already gone. Usable as a `preexec_fn`: the
    setting survives `exec`."""
    parent = os.getppid() if parent is None else parent
    if _prctl is None or _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    if os.getppid() != parent:
        os._exit(1)


def kill_group(pgid: int) -> None:
    """SIGKILL every process of group `pgid` (a group that already emptied is fine)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
