"""Run a command and measure its whole process tree from /proc: wall, CPU and peak RSS.

Every `interval` seconds the tree (the child and all its descendants, including those that
outlive their parent and get reparented) is read from /proc/<pid>/stat; the peak of the SUM of
their resident set sizes is reported. CPU is the larger of two lower bounds: the sum over every
process seen of its last sampled user+system time (misses at most the last interval of each
process), and the child's own rusage from wait4 (which includes only the descendants it reaped).
Linux only.
"""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class TreeUsage:
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_bytes: int  # peak over samples of the sum of RSS of the tree's live processes
    processes: int  # distinct processes seen in the tree


@dataclass(frozen=True)
class _Stat:
    ppid: int
    start: int  # start time in ticks after boot: (pid, start) names a process uniquely
    cpu_ticks: int  # utime + stime of the process itself (not its children)
    rss_pages: int


def _read_stat(pid: int) -> _Stat | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone between listing and reading
        return None
    fields = text[text.rindex(")") + 2:].split()  # fields[0] is field 3 of proc(5): state
    return _Stat(ppid=int(fields[1]), start=int(fields[19]),
                 cpu_ticks=int(fields[11]) + int(fields[12]), rss_pages=int(fields[21]))


def _all_processes() -> dict[int, _Stat]:
    found = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (stat := _read_stat(int(entry.name))) is not None:
            found[int(entry.name)] = stat
    return found


class TreeSampler:
    """Samples the tree rooted at `root`; call `sample()` repeatedly while it runs."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak_rss_bytes = 0
        self._cpu: dict[tuple[int, int], int] = {}  # (pid, start) -> last cpu ticks seen

    def sample(self) -> int:
        """Read the tree once; returns its current RSS sum in bytes."""
        processes = _all_processes()
        root = processes.get(self.root)
        if root is None:
            return 0
        members = {self.root}
        known = set(self._cpu)
        grew = True
        while grew:  # descendants by parent links; already-known processes stay (reparented)
            grew = False
            for pid, stat in processes.items():
                if pid not in members and (stat.ppid in members or (pid, stat.start) in known):
                    members.add(pid)
                    grew = True
        rss = 0
        for pid in members:
            stat = processes[pid]
            self._cpu[(pid, stat.start)] = stat.cpu_ticks
            rss += stat.rss_pages * _PAGE
        self.peak_rss_bytes = max(self.peak_rss_bytes, rss)
        return rss

    @property
    def cpu_s(self) -> float:
        return sum(self._cpu.values()) / _TICKS

    @property
    def processes(self) -> int:
        return len(self._cpu)


def run_measured(argv: list[str], interval: float = 0.05, **popen: object) -> TreeUsage:
    """Run `argv` to completion (Popen keyword arguments pass through) and measure its tree."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, **popen)  # type: ignore[call-overload]
    sampler = TreeSampler(child.pid)
    while True:
        sampler.sample()
        pid, status, rusage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(interval)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    own = rusage.ru_utime + rusage.ru_stime
    return TreeUsage(returncode=child.returncode, wall_s=wall, cpu_s=max(sampler.cpu_s, own),
                     peak_rss_bytes=sampler.peak_rss_bytes, processes=sampler.processes)
