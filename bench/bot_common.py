"""Shared set-up for the bot benchmarks: a fake GitHub, settings and a test key, all on loopback."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings  # noqa: E402
from tests.bot.fake_github import FakeGitHub  # noqa: E402

SECRET = "bench-secret"


def environment() -> tuple[FakeGitHub, Settings, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    work = Path(tempfile.mkdtemp(prefix="jetstream-bench-"))
    server = FakeGitHub("1", public).__enter__()
    settings = Settings.from_env({
        "GITHUB_WEBHOOK_SECRET": SECRET, "GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY": private,
        "GITHUB_API_URL": server.base, "JETSTREAM_JOB_STORE": str(work / "jobs.sqlite"),
        "JETSTREAM_RESULTS_URL": "http://results.test",
        "JETSTREAM_GITHUB_SECONDS_BETWEEN_REQUESTS": "0", "JETSTREAM_GITHUB_SECONDS_BETWEEN_WRITES": "0"})
    return server, settings, work


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]
