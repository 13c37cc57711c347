"""Webhook fixtures derived from octokit/webhooks examples, each checked against its schema."""
from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

# The shared, read-only test data sits next to the repository checkout.
ROOT = Path(__file__).resolve().parents[3] / "shared" / "github" / "octokit-webhooks"
EXAMPLES, SCHEMAS = ROOT / "payload-examples", ROOT / "payload-schemas"


@functools.lru_cache(maxsize=None)
def _registry() -> Registry:
    resources = []
    for path in SCHEMAS.rglob("*.schema.json"):
        schema = json.loads(path.read_text())
        resources.append((schema.get("$id", str(path.relative_to(SCHEMAS))), Resource.from_contents(schema, default_specification=DRAFT7)))
    return Registry().with_resources(resources)


def validated(event: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    schema = json.loads((SCHEMAS / event / f"{action}.schema.json").read_text())
    jsonschema.Draft7Validator(schema, registry=_registry()).validate(payload)
    return payload


def _example(event: str, name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EXAMPLES / event / name).read_text()))


def _repo(payload: dict[str, Any], full_name: str, installation: int) -> None:
    owner, name = full_name.split("/")
    payload["repository"].update(full_name=full_name, name=name, default_branch="main")
    payload["repository"]["owner"]["login"] = owner
    payload["installation"] = {"id": installation, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}


def pull_request(action: str, repo: str, number: int, head_sha: str, base_sha: str, *,
                 installation: int = 1, merge_sha: str | None = None) -> dict[str, Any]:
    source = "closed" if action == "closed" else action
    payload = _example("pull_request", f"{source}.payload.json")
    _repo(payload, repo, installation)
    payload["number"] = number
    pr = payload["pull_request"]
    pr.update(number=number, draft=False)
    pr["head"].update(sha=head_sha)
    pr["base"].update(sha=base_sha, ref="main")
    if action == "closed" and merge_sha:
        pr.update(merged=True, merge_commit_sha=merge_sha, merged_at=pr["closed_at"])
    return validated("pull_request", source, payload)


def issue_comment(repo: str, number: int, user: str, body: str, comment_id: int, installation: int = 1) -> dict[str, Any]:
    payload = _example("issue_comment", "created.with-installation.payload.json")
    _repo(payload, repo, installation)
    payload["issue"].update(number=number, pull_request={
        "url": "https://api.github.com/x", "html_url": "https://github.com/x",
        "diff_url": "https://github.com/x.diff", "patch_url": "https://github.com/x.patch"})
    payload["comment"].update(id=comment_id, body=body)
    payload["comment"]["user"].update(login=user, type="User")
    return validated("issue_comment", "created", payload)


def check_run_rerequested(repo: str, name: str, head_sha: str, pr_numbers: list[int], installation: int = 1) -> dict[str, Any]:
    payload = _example("check_run", "rerequested.payload.json")
    _repo(payload, repo, installation)
    run = payload["check_run"]
    run.update(name=name, head_sha=head_sha)
    ref = {"id": 1, "url": f"https://api.github.com/repos/{repo}", "name": repo.split("/")[1]}
    run["pull_requests"] = [{"url": f"https://api.github.com/repos/{repo}/pulls/{n}", "id": n, "number": n,
                             "head": {"ref": "feature", "sha": head_sha, "repo": ref},
                             "base": {"ref": "main", "sha": "0" * 40, "repo": ref}} for n in pr_numbers]
    return validated("check_run", "rerequested", payload)


def push(repo: str, before: str, after: str, changed: list[str], message: str, installation: int = 1) -> dict[str, Any]:
    payload = _example("push", "payload.json")
    _repo(payload, repo, installation)
    payload.update(ref="refs/heads/main", before=before, after=after, deleted=False)
    commit = dict(payload["head_commit"] or {}) if payload.get("head_commit") else None
    if commit:
        commit.update(id=after, message=message, added=[], removed=[], modified=changed)
        payload["head_commit"], payload["commits"] = commit, [commit]
    return validated("push", "event", payload)


def signed(payload: dict[str, Any], secret: str) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    return body, "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
