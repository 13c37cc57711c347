"""Fuzz test of the webhook (bounded examples): octokit example payloads with one value swapped
for random JSON, well signed: 202 or a 400 with a reason, never a 500."""
from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.bot import payloads
from tests.bot.harness import Bot, registry_json

FUZZ = hypothesis_settings(max_examples=60, deadline=None, derandomize=True,
                           suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10)
EXAMPLES = sorted(payloads.EXAMPLES.rglob("*.payload.json"))


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node[:3]):
            yield from _paths(value, prefix + (index,))


@pytest.fixture
def app(settings, tmp_path):
    from bot.app import create_app
    bot = Bot(settings, registry_json({}), tmp_path)
    yield create_app(bot.settings, bot.queue).test_client(), bot
    bot.close()


@FUZZ
@given(example=st.sampled_from(EXAMPLES), data=st.data(), replacement=json_values)
def test_mutated_webhook_payloads_are_never_a_500(app, example, data, replacement):
    client, bot = app
    payload = json.loads(example.read_text())
    paths = [p for p in _paths(payload) if p]
    path = data.draw(st.sampled_from(paths))
    mutated = copy.deepcopy(payload)
    node = mutated
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = replacement
    body, signature = payloads.signed(mutated, bot.settings.webhook_secret.decode())
    answer = client.post("/webhook", data=body, headers={
        "X-Hub-Signature-256": signature, "X-GitHub-Event": example.parent.name,
        "X-GitHub-Delivery": f"fuzz-{abs(hash(body))}"})
    assert answer.status_code in (202, 400), answer.get_data(as_text=True)
