"""The scale bench's process-tree sampler counts memory held by a grandchild, not only the child."""
from __future__ import annotations

import sys

from bench._proctree import run_measured

MB = 1024 * 1024
# The child holds 300 MB, then starts a grandchild that holds 200 MB for a while; while the
# grandchild runs, the tree holds >= 500 MB (pages touched: b"\x01" * n writes every byte).
GRANDCHILD = "import time; block = b'\\x01' * (200 * 2**20); time.sleep(1.0)"
CHILD = ("import subprocess, sys; block = b'\\x01' * (300 * 2**20); "
         f"subprocess.run([sys.executable, '-c', {GRANDCHILD!r}], check=True)")


def test_peak_rss_is_the_sum_over_the_tree():
    usage = run_measured([sys.executable, "-c", CHILD])
    assert usage.returncode == 0
    assert usage.processes == 2
    assert usage.peak_rss_bytes >= 500 * MB
    assert usage.peak_rss_bytes < 1000 * MB  # two Python processes and their blocks, no more
    assert usage.cpu_s > 0


def test_exit_code_is_reported():
    assert run_measured([sys.executable, "-c", "raise SystemExit(7)"]).returncode == 7
