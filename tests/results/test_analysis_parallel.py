"""Replicate draws in worker processes give the results of draws in-process (to the rerun
tolerance: the warehouse's float sums are order-dependent), and a broken statistics step
publishes nothing."""
from __future__ import annotations

import concurrent.futures as cf

from engine.backends.duckdb import DuckDBBackend
from engine.results.export import DirectorySink
from engine.run.experiment import analyse_experiment
from engine.run.pool import statistics_pool
from tests.engine import minitelemetry as mt
from tests.results.test_analysis import make_spec, snapshot, telemetry  # noqa: F401 (fixture)
from tests.snapshots import assert_same_snapshot


def analyse(telemetry, directory, executor=None):
    directory.mkdir(exist_ok=True)
    backend = DuckDBBackend(telemetry, directory / "results.duckdb")
    outcome = analyse_experiment(make_spec(), backend, mt.END, DirectorySink(directory / "out"),
                                 executor=executor)
    return backend, outcome


def test_worker_processes_reproduce_the_serial_results(telemetry, tmp_path):  # noqa: F811
    serial_backend, serial = analyse(telemetry, tmp_path / "serial")
    with statistics_pool(2) as pool:
        assert isinstance(pool, cf.ProcessPoolExecutor)
        parallel_backend, parallel = analyse(telemetry, tmp_path / "parallel", pool)
    assert serial.status == parallel.status == "ok"
    assert serial.windows == parallel.windows == 5
    first = snapshot(serial_backend, tmp_path / "serial" / "out")
    second = snapshot(parallel_backend, tmp_path / "parallel" / "out")
    assert first["tables"]
    assert_same_snapshot(first, second)
    serial_backend.close()
    parallel_backend.close()


def test_one_worker_means_in_process():
    with statistics_pool(1) as pool:
        assert pool is None


class _Broken(cf.Executor):
    def submit(self, fn, /, *args, **kwargs):
        future: cf.Future = cf.Future()
        future.set_exception(cf.process.BrokenProcessPool("a worker died"))
        return future


def test_broken_statistics_step_publishes_nothing(telemetry, tmp_path):  # noqa: F811
    backend, outcome = analyse(telemetry, tmp_path, _Broken())
    assert outcome.status == "failed" and outcome.reason == "statistics failed"
    assert [e.stage for e in outcome.errors] == ["statistics"]
    assert not [t for t in backend.list_tables() if t.startswith("statistics_")]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["errors_mini-exp.json"]
    backend.close()
