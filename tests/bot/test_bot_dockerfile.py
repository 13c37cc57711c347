"""No Docker engine runs on this machine, so the image is checked the way it would be built and
run: every path it copies exists, every program it runs exists (in this venv, like /opt/venv),
and both of its commands start from a venv with the environment docs/deploy.md lists: the web
command answers /healthz on $PORT, the worker claims and runs a job, both stop on SIGTERM."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from bot.jobs.model import Job
from bot.jobs.store import open_store
from tests.bot.cluster import ROOT, free_port
from tests.bot.fixtures import APP_ID, SECRET

DOCKERFILE = ROOT / "Dockerfile"
VENV_BIN = Path(sys.executable).parent


def _instructions() -> list[tuple[str, str]]:
    lines, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        current += raw.rstrip("\\").strip() + " "
        if not raw.endswith("\\"):
            word, _, rest = current.strip().partition(" ")
            lines.append((word.upper(), rest))
            current = ""
    return lines


def _entrypoint_and_commands() -> tuple[list[str], list[str]]:
    found = dict(_instructions())
    return json.loads(found["ENTRYPOINT"]), json.loads(found["CMD"])


def test_every_copied_path_and_every_program_exists():
    steps = _instructions()
    assert steps[0][0] == "FROM" and steps[0][1].startswith("python:3.11")
    for word, rest in steps:
        if word == "COPY":
            *sources, _ = rest.split()
            assert all((ROOT / source).exists() for source in sources), rest
        if word == "RUN":
            for command in rest.split("&&"):
                program = shlex.split(command)[0]
                if program.startswith("/opt/venv/bin/"):
                    program = str(VENV_BIN / Path(program).name)
                assert shutil.which(program) or program == "useradd" and Path("/usr/sbin/useradd").exists(), program
    entrypoint, command = _entrypoint_and_commands()
    assert (VENV_BIN / entrypoint[0]).is_file() and command[0] == "serve"


def _env(tmp_path: Path, store: str, port: int, rsa_key) -> dict[str, str]:
    return dict(os.environ, PATH=f"{VENV_BIN}:{os.environ['PATH']}", PORT=str(port),
                GITHUB_WEBHOOK_SECRET=SECRET, GITHUB_APP_ID=APP_ID, GITHUB_APP_PRIVATE_KEY=rsa_key[0],
                JETSTREAM_JOB_STORE=store, JETSTREAM_RESULTS_DIR=str(tmp_path / "results"),
                JETSTREAM_WORK_DIR=str(tmp_path / "work"), JETSTREAM_CONFIG_ROOT=str(ROOT),
                JETSTREAM_LEASE_SECONDS="2")


def test_the_images_two_commands_start_from_a_venv(tmp_path, rsa_key, postgres_server):
    store = postgres_server.new_database()
    port = free_port()
    env = _env(tmp_path, store, port, rsa_key)
    entrypoint, command = _entrypoint_and_commands()
    logs = tmp_path / "web.log", tmp_path / "worker.log"
    web = subprocess.Popen([*entrypoint, *command], env=env, cwd=tmp_path,
                           stdout=logs[0].open("wb"), stderr=subprocess.STDOUT)
    worker = subprocess.Popen([*entrypoint, "worker", "--workers", "2"], env=env, cwd=tmp_path,
                              stdout=logs[1].open("wb"), stderr=subprocess.STDOUT)
    told = lambda: "\n".join(log.read_text()[-3000:] for log in logs)  # noqa: E731
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json() == {"ok": True}
                break
            except requests.ConnectionError:
                assert web.poll() is None and time.monotonic() < deadline, told()
                time.sleep(0.2)
        jobs = open_store(store)
        assert jobs.insert(Job("daily", "daily:2024-03-19", "daily", {"date": "2024-03-19"}))
        while jobs.get("daily:2024-03-19").state in ("queued", "running"):
            assert worker.poll() is None and time.monotonic() < deadline, told()
            time.sleep(0.2)
        assert jobs.get("daily:2024-03-19").state == "done", told()  # the baked-in configs were planned
    finally:
        for process in (web, worker):
            process.send_signal(signal.SIGTERM)
        assert web.wait(20) in (0, -signal.SIGTERM) and worker.wait(20) == 0, told()
