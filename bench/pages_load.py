"""Result pages over the demo's export: export size, first (cold) load and p50/p90 of 20 loads
of the largest pages, over real HTTP on loopback.

"Largest" is measured two ways: the page with the most HTML (every experiment x period at its
default selection) and the page of the largest statistics file. Without a directory it runs
`jetstream demo` (default size) into a temporary directory first.
Usage: python -m bench.pages_load [EXPORT_DIR]
"""
from __future__ import annotations

import logging
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from werkzeug.serving import make_server

from bot.app import create_pages_app
from engine.config.spec import PERIODS

LOADS = 20
GOAL_P50_S = 0.5  # a page view, once the index holds the files


def _export(argv: list[str], tmp: str) -> Path:
    if argv:
        return Path(argv[0])
    out = Path(tmp) / "demo"
    subprocess.run([sys.executable, "-m", "engine.cli", "demo", "--out", str(out)],
                   capture_output=True, check=False)
    return out / "json"


def _timed(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = requests.get(url, timeout=120)
    response.raise_for_status()
    return time.perf_counter() - started, len(response.content)


def main(argv: list[str] | None = None) -> int:
    argv = list(argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory() as tmp:
        directory = _export(argv, tmp)
        files = sorted(directory.glob("*.json"), key=lambda p: p.stat().st_size)
        if not files:
            print(f"no export in {directory}")
            return 1
        total = sum(p.stat().st_size for p in files)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        started = time.perf_counter()
        server = make_server("127.0.0.1", 0, create_pages_app(directory), threaded=True)
        start_s = time.perf_counter() - started
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}/experiments/"
        try:
            rows = _measure(base, directory, files[-1].name)
        finally:
            server.shutdown()
    print(f"export: {total / 1e6:.1f} MB in {len(files)} files; largest {files[-1].name} "
          f"{files[-1].stat().st_size / 1e6:.1f} MB; server start {start_s:.2f} s")
    print(f"{'page':<62} {'KB':>6} {'cold s':>7} {'p50 s':>7} {'p90 s':>7}")
    ok = True
    for url, size, cold, times in rows:
        p50 = statistics.median(times)
        p90 = statistics.quantiles(times, n=10)[-1]
        ok &= p50 <= GOAL_P50_S
        print(f"{url[len(base) - len('/experiments/'):]:<62} {size / 1e3:>6.0f} {cold:>7.3f} "
              f"{p50:>7.3f} {p90:>7.3f}")
    print(f"{LOADS} loads each; goal p50 <= {GOAL_P50_S} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


def _measure(base: str, directory: Path, largest_file: str) -> list[tuple[str, int, float, list]]:
    """(url, bytes, first load, LOADS loads) of the page with most HTML and of the page of the
    largest statistics file (the same page when they coincide)."""
    pages: dict[str, tuple[int, float]] = {}
    cold_of: dict[str, float] = {}
    for meta in sorted(directory.glob("metadata_*.json")):
        slug = meta.name[len("metadata_"):-len(".json")]
        for period in PERIODS:
            if (directory / f"statistics_{slug}_{period}.json").is_file():
                url = f"{base}{slug}?period={period}"
                cold, size = _timed(url)  # the first view reads the file into the index
                pages[url], cold_of[url] = (size, cold), cold
    biggest_html = max(pages, key=lambda u: pages[u][0])
    slug_period = largest_file[len("statistics_"):-len(".json")]
    of_file = next((u for u in pages if f"{u[len(base):].split('?')[0]}_"
                    f"{u.split('period=')[1]}" == slug_period), biggest_html)
    out = []
    for url in dict.fromkeys([biggest_html, of_file]):
        times = [_timed(url)[0] for _ in range(LOADS)]
        out.append((url, pages[url][0], cold_of[url], times))
    return out


if __name__ == "__main__":
    sys.exit(main())
