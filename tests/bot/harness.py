"""A whole bot on loopback: the Flask app served over HTTP, the job queue run in the test thread,
talking to the fake GitHub. Used by the end-to-end tests and the benchmarks."""
from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import make_server

from bot.app import create_app
from bot.config import Settings
from bot.engine_port import Ports, ReanalysisOutcome
from bot.runtime import build_queue
from tests.bot.fake_github import FakePull
from tests.bot.payloads import pull_request, signed

ENGINE = Path(__file__).resolve().parents[2] / "engine"
TODAY = dt.date(2024, 3, 20)


def base_files() -> dict[str, bytes]:
    """Our own platform defaults and definitions, as a config repository holds them."""
    files = {}
    for kind in ("defaults", "definitions"):
        for path in sorted((ENGINE / kind).glob("*.toml")):
            files[f"engine/{kind}/{path.name}"] = path.read_bytes()
    return files


def experiment_toml() -> str:
    return "[experiment]\nenrollment_period = 7\n"


def registry_json(experiments: dict[str, tuple[str, str, str | None]]) -> list[dict[str, Any]]:
    """slug -> (platform, start, end)."""
    return [{"slug": slug, "appName": platform, "appId": "org.mozilla.app", "startDate": start,
             "endDate": end, "proposedEnrollment": 7, "referenceBranch": "control", "status": "Live",
             "branches": [{"slug": "control", "ratio": 1}, {"slug": "treatment", "ratio": 1}]}
            for slug, (platform, start, end) in experiments.items()]


@dataclass
class RecordingEngine:
    """Stands in for `jetstream analyse` and records what it was asked to do."""
    calls: list[tuple[str, str]] = field(default_factory=list)
    recomputed: list[bool] = field(default_factory=list)  # per call: every window, or only new ones
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, slug: str, *, config_root: Path, date: dt.date, settings: Settings,
                 recompute: bool = True) -> ReanalysisOutcome:
        assert (Path(config_root) / "experiments").is_dir()
        with self.lock:
            self.calls.append((slug, date.isoformat()))
            self.recomputed.append(recompute)
        return ReanalysisOutcome("succeeded")


class Bot:
    """`engine` stands in for `jetstream analyse` (a `RecordingEngine` unless given, e.g. the real
    `bot.engine_port.reanalyse`); with `serve_results` the result links point at this app itself."""

    def __init__(self, settings: Settings, registry: list[dict[str, Any]], tmp: Path, *,
                 engine: Any = None, serve_results: bool = False, **port_overrides: Any):
        registry_path = tmp / "registry.json"
        registry_path.write_text(json.dumps(registry))
        # bound first (the WSGI callable defers to self.app), so the settings can name its URL
        self.server = make_server("127.0.0.1", 0, lambda environ, start: self.app(environ, start), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.settings = replace(settings, registry=str(registry_path), work_dir=tmp / "work",
                                results_dir=tmp / "results",
                                results_url=self.url if serve_results else settings.results_url)
        self.engine = RecordingEngine()
        ports = Ports(reanalyse=engine or self.engine, **port_overrides)
        self.queue = build_queue(self.settings, ports, today=lambda: TODAY)
        self.app = create_app(self.settings, self.queue)
        self.http = requests.Session()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()

    def deliver(self, event: str, payload: dict[str, Any], delivery: str | None = None,
                secret: str | None = None) -> requests.Response:
        body, signature = signed(payload, secret or self.settings.webhook_secret.decode())
        return self.http.post(f"{self.url}/webhook", data=body, headers={
            "X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": signature, "Content-Type": "application/json"})

    def work(self) -> int:
        return self.queue.run_until_idle()

    def merge(self, repo: Any, number: int, base: str, head: str, message: str | None = None) -> str:
        """Merge pull request `number` (head onto base) and deliver its `closed` event; the merge SHA."""
        merge_sha = repo.commit({}, message or f"Merge pull request #{number}", parent=head)
        repo.pulls[number] = FakePull(number, base, head, merged=True, merge_sha=merge_sha)
        self.deliver("pull_request", pull_request("closed", repo.full_name, number, head, base,
                                                  merge_sha=merge_sha))
        return merge_sha


def seed_repo(fake_github, name: str, experiments: list[str]) -> tuple[Any, str]:
    repo = fake_github.repo(name)
    files: dict[str, bytes | str] = dict(base_files())
    files.update({f"experiments/{slug}.toml": experiment_toml() for slug in experiments})
    return repo, repo.commit(files, "base")
