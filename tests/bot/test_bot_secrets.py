"""Secrets from Secret Manager (its REST API on loopback): per-variable `sm://` references and a
JSON bundle named by JETSTREAM_SECRETS; failures name the reference, never a value."""
from __future__ import annotations

import json

import pytest

from bot.config import ConfigurationError, Settings
from tests.bot.fake_secret_manager import FakeSecretManager


@pytest.fixture
def manager():
    server = FakeSecretManager({
        "projects/p/secrets/hook": "hook-secret-value",
        "projects/p/secrets/bundle": json.dumps({"GITHUB_APP_ID": "77", "GITHUB_APP_PRIVATE_KEY": "PEM",
                                                 "JETSTREAM_CRON_TOKEN": "from-bundle"}),
        "projects/p/secrets/not-json": "plain"})
    yield server
    server.close()


def test_references_and_a_bundle_resolve_into_the_settings(manager):
    settings = Settings.from_env({
        "JETSTREAM_SECRET_MANAGER_ENDPOINT": manager.endpoint,
        "GITHUB_WEBHOOK_SECRET": "sm://projects/p/secrets/hook",
        "JETSTREAM_SECRETS": "gcp-secret-manager://projects/p/secrets/bundle",
        "JETSTREAM_CRON_TOKEN": "explicit",  # the environment wins over the bundle
    })
    assert settings.webhook_secret == b"hook-secret-value"
    assert (settings.app_id, settings.private_key, settings.cron_token) == ("77", "PEM", "explicit")
    assert manager.requests == ["/v1/projects/p/secrets/hook/versions/latest:access",
                                "/v1/projects/p/secrets/bundle/versions/latest:access"]
    assert "hook-secret-value" not in repr(settings)


def test_no_reference_contacts_nothing(manager):
    Settings.from_env({"GITHUB_WEBHOOK_SECRET": "s", "JETSTREAM_SECRET_MANAGER_ENDPOINT": manager.endpoint})
    assert manager.requests == []


@pytest.mark.parametrize("env, message", [
    ({"GITHUB_WEBHOOK_SECRET": "sm://projects/p/secrets/missing"},
     "cannot read secret projects/p/secrets/missing/versions/latest: NotFound"),
    ({"GITHUB_WEBHOOK_SECRET": "s", "JETSTREAM_SECRETS": "gcp-secret-manager://projects/p/secrets/not-json"},
     "secret projects/p/secrets/not-json/versions/latest is not a JSON object of variables"),
    ({"GITHUB_WEBHOOK_SECRET": "s", "JETSTREAM_SECRETS": "vault://x"},
     "JETSTREAM_SECRETS must be gcp-secret-manager://projects/P/secrets/NAME"),
])
def test_unresolvable_secrets_stop_the_start_with_a_reason(manager, env, message):
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({**env, "JETSTREAM_SECRET_MANAGER_ENDPOINT": manager.endpoint})
    assert str(raised.value) == message and "plain" not in str(raised.value)
