"""Well-signed deliveries of every wrong shape get a 4xx with a reason over real HTTP, never a
500, and queue nothing; the shapes `route` reads accept every octokit example payload."""
from __future__ import annotations

import copy
import json

import pytest

from bot.webhooks import shape_problem
from tests.bot import payloads
from tests.bot.harness import Bot, registry_json

REPO = "octo/experiments"
PR = payloads.pull_request("opened", REPO, 5, "a" * 40, "b" * 40)


def _without(payload, *path):
    broken = copy.deepcopy(payload)
    target = broken
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return broken


def _with(payload, value, *path):
    broken = copy.deepcopy(payload)
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return broken


MALFORMED = [
    ("pr-without-pull-request", "pull_request", _without(PR, "pull_request")),
    ("pr-number-string", "pull_request", _with(PR, "5", "pull_request", "number")),
    ("pr-head-missing", "pull_request", _without(PR, "pull_request", "head")),
    ("pr-head-sha-int", "pull_request", _with(PR, 7, "pull_request", "head", "sha")),
    ("pr-as-list", "pull_request", _with(PR, [], "pull_request")),
    ("installation-as-list", "pull_request", _with(PR, [1], "installation")),
    ("installation-id-string", "pull_request", _with(PR, {"id": "1"}, "installation")),
    ("repository-as-string", "pull_request", _with(PR, "octo/experiments", "repository")),
    ("comment-without-issue", "issue_comment", {"action": "created", "comment": {"id": 1, "user": {"login": "u"}},
                                               "installation": {"id": 1}, "repository": {"full_name": REPO}}),
    ("comment-user-missing", "issue_comment", {"action": "created", "issue": {"number": 1, "pull_request": {}},
                                              "comment": {"id": 1, "body": "/jetstream validate"},
                                              "installation": {"id": 1}, "repository": {"full_name": REPO}}),
    ("check-run-prs-not-list", "check_run", {"action": "rerequested", "installation": {"id": 1},
                                            "repository": {"full_name": REPO},
                                            "check_run": {"name": "jetstream/validate", "head_sha": "a" * 40,
                                                          "pull_requests": {"number": 1}}}),
    ("check-suite-missing", "check_suite", {"action": "rerequested", "installation": {"id": 1},
                                           "repository": {"full_name": REPO}}),
    ("push-commits-paths-ints", "push", {"ref": "refs/heads/main", "after": "a" * 40, "installation": {"id": 1},
                                        "repository": {"full_name": REPO, "default_branch": "main"},
                                        "commits": [{"added": [1, 2]}]}),
    ("push-without-after", "push", {"ref": "refs/heads/main", "installation": {"id": 1},
                                   "repository": {"full_name": REPO, "default_branch": "main"}}),
]


@pytest.fixture
def bot(settings, tmp_path):
    instance = Bot(settings, registry_json({"alpha": ("fenix", "2024-03-01", None)}), tmp_path)
    yield instance
    instance.close()


def test_every_malformed_shape_is_a_4xx_with_a_reason_and_queues_nothing(bot):
    for name, event, payload in MALFORMED:
        answer = bot.deliver(event, payload, delivery=f"bad-{name}")
        assert answer.status_code == 400, (name, answer.status_code, answer.text)
        assert answer.json()["message"].startswith(f"malformed {event} payload"), name
    assert bot.queue.store.select() == []
    assert bot.deliver("pull_request", PR, delivery="good").status_code == 202  # still serving


def test_a_json_array_body_is_a_4xx(bot):
    assert bot.deliver("push", [1, 2, 3]).status_code == 400


def test_the_octokit_examples_have_the_shapes_route_reads():
    for path in sorted(payloads.EXAMPLES.rglob("*.payload.json")):
        event = path.parent.name
        assert shape_problem(event, json.loads(path.read_text())) is None, path.name
    assert len(MALFORMED) >= 12
