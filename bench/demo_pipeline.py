"""`jetstream demo` at its default size: wall time per step and per experiment.

Runs the demo in a child process (into a temporary directory) exactly as `make demo` does,
and prints the steps' and experiments' seconds it reports. Goal: <= 180 s on the 2-core machine.
Usage: python -m bench.demo_pipeline [extra `jetstream demo` options]
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 180.0
_STEP = re.compile(r"^\s{2}(\S.*?)\s+(\d+\.\d) s$")
_EXPERIMENT = re.compile(r"^\W*([a-z0-9-]+)\W+(ok|failed|skipped)\W+(\d+)\W+(\d+)\W+(\d+\.\d)")


def main(argv: list[str] | None = None) -> int:
    extra = list(argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "engine.cli", "demo", "--out",
                               str(Path(tmp) / "demo"), *extra],
                              capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
    lines = (done.stdout + done.stderr).splitlines()
    print(f"{'step / experiment':<28} {'status':>7} {'seconds':>8}")
    for line in lines:
        if match := _EXPERIMENT.match(line):
            print(f"  {match.group(1):<26} {match.group(2):>7} {float(match.group(5)):>8.1f}")
    for line in lines:
        if match := _STEP.match(line):
            print(f"{match.group(1):<28} {'':>7} {float(match.group(2)):>8.1f}")
    print(f"{'wall (with interpreter start)':<28} {'':>7} {wall:>8.1f}")
    ok = done.returncode == 0 and wall <= GOAL_S
    print(f"exit {done.returncode}; goal <= {GOAL_S:.0f} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
