"""Reading a per-client table from BigQuery: Arrow (`BigQueryBackend.query`) against the row by
row frame it replaced, over REST, against bqemulator on loopback (needs `.venv-bqemulator`, which
`make venv` builds). CPU seconds of this process per 10k rows: the client's own cost of turning
a response into a frame (the emulator's time is another process's).
Usage: python -m bench.bigquery_read [ROWS ...]   (default: 20000 100000)
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from bigquery_emulator import Emulator, client_for  # noqa: E402

from engine.backends.base import select_all  # noqa: E402
from engine.backends.bigquery import BigQueryBackend  # noqa: E402

METRICS = 22  # a per-client table: 6 identity columns, 22 metrics and segments = 28 columns


def _table(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"client_id": [f"{i:032x}" for i in range(rows)],
                          "branch": rng.choice(["control", "treatment"], rows),
                          "enrollment_date": pd.Timestamp("2024-01-01").date(),
                          "num_enrollment_events": pd.array(rng.integers(1, 3, rows), "Int64"),
                          "exposure_date": None, "num_exposure_events": pd.array([0] * rows, "Int64")})
    for m in range(METRICS):
        frame[f"metric_{m}"] = rng.gamma(2.0, 1.5, rows) if m % 2 else rng.integers(0, 50, rows)
    return frame


def _rows(backend: BigQueryBackend, table: str) -> pd.DataFrame:
    """The previous reader: one dict per row over the REST row iterator."""
    rows = backend.client.query(select_all(table).sql(dialect="bigquery"),
                                job_config=backend._config("query")).result()
    return pd.DataFrame([dict(row.items()) for row in rows], columns=[f.name for f in rows.schema])


def _cpu(work) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    sizes = [int(a) for a in (argv or sys.argv[1:])] or [20_000, 100_000]
    with tempfile.TemporaryDirectory() as tmp:
        emulator = Emulator(Path(tmp) / "emulator")
        try:
            client = client_for(emulator, "bench")
            client.create_dataset("bench.jetstream")
            backend = BigQueryBackend("bench", "jetstream", client)
            print(f"{'rows':>8} {'columns':>7} {'arrow CPU s':>11} {'rows CPU s':>10} "
                  f"{'arrow s/10k':>11} {'rows s/10k':>10} {'speed-up':>8}")
            for rows in sizes:
                name = f"clients_{rows}"
                backend.write_table(name, _table(rows))
                arrow = _cpu(lambda: backend.query(select_all(name)))
                by_row = _cpu(lambda: _rows(backend, name))
                print(f"{rows:>8} {METRICS + 6:>7} {arrow:>11.2f} {by_row:>10.2f} "
                      f"{arrow / rows * 1e4:>11.3f} {by_row / rows * 1e4:>10.3f} "
                      f"{by_row / arrow:>7.1f}x")
        finally:
            emulator.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
