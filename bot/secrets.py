"""Secrets from Google Secret Manager, for hosts without secret files (Cloud Run, App Engine).

Two forms, both resolved once at start-up into the environment mapping `Settings` reads:
- a variable whose value is a reference, `sm://projects/P/secrets/NAME` (optionally
  `/versions/V`, default `latest`): the value becomes that secret's payload;
- `JETSTREAM_SECRETS=gcp-secret-manager://projects/P/secrets/NAME`: that secret holds a JSON
  object of variables (e.g. {"GITHUB_WEBHOOK_SECRET": "...", "GITHUB_APP_PRIVATE_KEY": "..."}),
  filling those not set in the environment.
Without either, nothing is contacted. Secret values are never logged.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Mapping

REFERENCE = "sm://"
BUNDLE = "gcp-secret-manager://"
BUNDLE_VARIABLE = "JETSTREAM_SECRETS"
ENDPOINT_VARIABLE = "JETSTREAM_SECRET_MANAGER_ENDPOINT"  # e.g. a private endpoint; http:// for a local one


class SecretError(RuntimeError):
    """A secret reference cannot be resolved (the message names the reference, not a value)."""


def _version(reference: str) -> str:
    name = reference.split("://", 1)[1].strip("/")
    return name if "/versions/" in name else f"{name}/versions/latest"


def _client(env: Mapping[str, str]) -> Any:
    from google.cloud import secretmanager

    endpoint = env.get(ENDPOINT_VARIABLE, "")
    if not endpoint.startswith("http://"):
        options = {"api_endpoint": endpoint} if endpoint else None
        return secretmanager.SecretManagerServiceClient(client_options=options)
    from google.auth.credentials import (
        AnonymousCredentials,  # a local stand-in: no credentials
    )

    transport = secretmanager.SecretManagerServiceClient.get_transport_class("rest")(
        credentials=AnonymousCredentials(), host=endpoint[len("http://"):], url_scheme="http")
    return secretmanager.SecretManagerServiceClient(transport=transport)


def resolve(env: Mapping[str, str], client_factory: Callable[[Mapping[str, str]], Any] = _client) -> dict[str, str]:
    """`env` with every secret reference replaced by the secret's value."""
    resolved = dict(env)
    wanted = {name: value for name, value in env.items() if value.startswith(REFERENCE)}
    bundle = env.get(BUNDLE_VARIABLE, "")
    if bundle and not bundle.startswith(BUNDLE):
        raise SecretError(f"{BUNDLE_VARIABLE} must be {BUNDLE}projects/P/secrets/NAME")
    if not wanted and not bundle:
        return resolved
    client = client_factory(env)

    def access(reference: str) -> str:
        try:
            return client.access_secret_version(name=_version(reference)).payload.data.decode("utf-8")
        except Exception as error:  # noqa: BLE001 - any failure is a start-up error naming the reference
            raise SecretError(f"cannot read secret {_version(reference)}: {type(error).__name__}") from None

    for name, reference in wanted.items():
        resolved[name] = access(reference)
    if bundle:
        try:
            values = json.loads(access(bundle))
        except ValueError:
            raise SecretError(f"secret {_version(bundle)} is not a JSON object of variables") from None
        if not isinstance(values, dict):
            raise SecretError(f"secret {_version(bundle)} is not a JSON object of variables")
        for name, value in values.items():
            resolved.setdefault(str(name), str(value))
    return resolved
