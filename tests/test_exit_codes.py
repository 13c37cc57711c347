"""`jetstream` exit codes, from real processes: 0 clean, 1 findings with errors, 2 usage error,
3 internal error (here: a --db that is not a DuckDB file), so CI can tell them apart."""
from __future__ import annotations

import subprocess
import sys

from tests.hostile.world import experiment, write_root

JETSTREAM = [sys.executable, "-m", "engine.cli"]


def _code(*args: str) -> tuple[int, str]:
    done = subprocess.run([*JETSTREAM, *args], capture_output=True, text=True, timeout=120)
    return done.returncode, done.stderr


def test_exit_codes_of_validate(tmp_path):
    root = write_root(tmp_path / "root", {"experiments/good.toml": experiment(),
                                          "experiments/bad.toml": experiment("SUM(")})
    good, bad = str(root / "experiments/good.toml"), str(root / "experiments/bad.toml")
    assert _code("validate", "--config-root", str(root), good)[0] == 0
    assert _code("validate", "--config-root", str(root), bad)[0] == 1
    assert _code("validate", "--no-such-option")[0] == 2
    assert _code("validate", "--config-root", str(root), str(tmp_path / "missing.toml"))[0] == 2
    (tmp_path / "corrupt.duckdb").write_text("not a database")
    code, stderr = _code("validate", "--config-root", str(root), good, "--db", str(tmp_path / "corrupt.duckdb"))
    assert code == 3 and "internal error" in stderr


def test_exit_codes_of_another_command(tmp_path):
    assert _code("sql", "--no-such-option")[0] == 2
    (tmp_path / "corrupt.duckdb").write_text("not a database")
    root = write_root(tmp_path / "root", {"experiments/good.toml": experiment()})
    code, _ = _code("analyse", "--date", "2024-02-01", "--config-root", str(root),
                    "--db", str(tmp_path / "corrupt.duckdb"), "--out", str(tmp_path / "out"))
    assert code == 3
