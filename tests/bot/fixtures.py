"""Shared fixtures (imported by conftest and the e2e tests): a test RSA key (generated per session), the fake GitHub server, settings."""
from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.config import Settings
from tests.bot.fake_github import FakeGitHub

APP_ID = "4242"
SECRET = "it's-a-secret-to-everybody"


@pytest.fixture(scope="session")
def rsa_key() -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


@pytest.fixture
def fake_github(rsa_key):
    with FakeGitHub(APP_ID, rsa_key[1]) as server:
        yield server
        assert server.errors == [], server.errors


@pytest.fixture
def settings(fake_github, rsa_key, tmp_path: Path) -> Settings:
    return Settings.from_env({
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_APP_ID": APP_ID,
        "GITHUB_APP_PRIVATE_KEY": rsa_key[0],
        "GITHUB_API_URL": fake_github.base,
        "JETSTREAM_RESULTS_URL": "http://results.test",
        "JETSTREAM_JOB_STORE": str(tmp_path / "jobs.sqlite"),
        "JETSTREAM_GITHUB_SECONDS_BETWEEN_REQUESTS": "0",
        "JETSTREAM_GITHUB_SECONDS_BETWEEN_WRITES": "0",
    })
