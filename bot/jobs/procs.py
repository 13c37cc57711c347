"""Killing a whole process group (a job runner, an analysis child and everything they started).
Children that die with their parent: `engine.run.tether`."""
from __future__ import annotations

import os
import signal


def kill_group(pgid: int) -> None:
    """SIGKILL every process of group `pgid` (a group that already emptied is fine)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
