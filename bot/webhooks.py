"""Webhook intake: verify the signature on the raw body, record the delivery, route the event to
durable jobs keyed by meaning, answer 202. Nothing here talks to GitHub or runs SQL.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any, Mapping

from flask import Blueprint, Response, current_app, request
from jsonschema import Draft7Validator

from bot.config import Settings
from bot.jobs.model import Job
from bot.jobs.queue import JobQueue

log = logging.getLogger(__name__)

SKIP_MARKER = "[ci rerun-skip]"
COMMAND_PREFIX = "/jetstream"
VALIDATE_CHECK = "jetstream/validate"
REANALYSIS_CHECK = "jetstream/reanalysis"
PR_ACTIONS = {"opened", "synchronize", "reopened", "ready_for_review"}


# The parts of each event's payload that `route` reads, as JSON Schemas (draft-07, the octokit
# schemas' draft; tests check that every octokit example payload matches them). A well-signed
# delivery whose shape differs is answered 400 with the first mismatch, never a 500.
_INT, _STR = {"type": "integer"}, {"type": "string"}
_SHA = {"type": "string", "minLength": 1, "maxLength": 64}
_OBJECT = {"type": "object"}
_NUMBERED = {"type": "object", "required": ["number"], "properties": {"number": _INT}}
_COMMON = {"type": "object", "properties": {
    "action": _STR,
    "installation": {"type": ["object", "null"], "properties": {"id": _INT}},
    "repository": {"type": ["object", "null"], "properties": {"full_name": _STR,
                                                               "default_branch": _STR}}}}
_PATHS = {"type": ["array", "null"], "items": _STR}
_SHAPES: dict[str, dict[str, Any]] = {
    "pull_request": {"required": ["action", "pull_request"], "properties": {"pull_request": {
        "type": "object", "required": ["number", "head"], "properties": {
            "number": _INT, "draft": {"type": ["boolean", "null"]},
            "merged": {"type": ["boolean", "null"]}, "merge_commit_sha": {"type": ["string", "null"]},
            "head": {"type": "object", "required": ["sha"], "properties": {"sha": _SHA}}}}}},
    "issue_comment": {"required": ["action", "issue", "comment"], "properties": {
        "issue": {"type": "object", "required": ["number"], "properties": {
            "number": _INT, "pull_request": {"type": ["object", "null"]}}},
        "comment": {"type": "object", "required": ["id", "user"], "properties": {
            "id": _INT, "body": {"type": ["string", "null"]},
            "user": {"type": "object", "required": ["login"], "properties": {
                "login": _STR, "type": _STR}}}}}},
    "check_run": {"required": ["action", "check_run"], "properties": {"check_run": {
        "type": "object", "required": ["head_sha"], "properties": {
            "name": _STR, "head_sha": _SHA, "pull_requests": {"type": ["array", "null"], "items": _NUMBERED}}}}},
    "check_suite": {"required": ["action", "check_suite"], "properties": {"check_suite": {
        "type": "object", "required": ["head_sha"], "properties": {
            "head_sha": _SHA, "pull_requests": {"type": ["array", "null"], "items": _NUMBERED}}}}},
    "push": {"required": ["ref", "after"], "properties": {
        "ref": _STR, "after": _SHA, "deleted": {"type": ["boolean", "null"]},
        "head_commit": {"type": ["object", "null"], "properties": {"message": {"type": ["string", "null"]}}},
        "commits": {"type": ["array", "null"], "items": {"type": "object", "properties": {
            "added": _PATHS, "modified": _PATHS, "removed": _PATHS}}}}},
}
_VALIDATORS = {event: Draft7Validator({"allOf": [_COMMON, {"type": "object", **shape}]})
               for event, shape in _SHAPES.items()}
_COMMON_VALIDATOR = Draft7Validator(_COMMON)


def shape_problem(event: str, payload: Any) -> str | None:
    """Why `payload` does not have the shape `route` reads for `event`, or None."""
    validator = _VALIDATORS.get(event, _COMMON_VALIDATOR)
    error = next(iter(sorted(validator.iter_errors(payload), key=lambda e: list(e.path))), None)
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "payload"
    return f"malformed {event} payload at {where}: {error.message[:200]}"


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256: sha256=<hex>` over the raw body, compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256="):])


def pr_group(repo: str, number: int) -> str:
    return f"pr:{repo}:{number}"


def validate_job(installation: int, repo: str, number: int, head_sha: str, trigger: str,
                  nonce: str = "") -> Job:
    """One validation per PR head SHA; explicit re-requests (nonce = delivery id) run again."""
    key = f"validate:{repo}:{number}:{head_sha}" + (f":{nonce}" if nonce else "")
    return Job("validate", key, pr_group(repo, number), {
        "installation": installation, "repo": repo, "pr": number, "head_sha": head_sha, "trigger": trigger})


def merge_job(installation: int, repo: str, sha: str, pr: int | None, changed: list[str] | None,
              nonce: str = "") -> Job:
    """One per merge SHA: the PR's `closed` and the default-branch `push` collapse into one job."""
    key = f"merge:{repo}:{sha}" + (f":{nonce}" if nonce else "")
    return Job("merge", key, f"merge:{repo}", {
        "installation": installation, "repo": repo, "sha": sha, "pr": pr, "changed": changed})


def route(event: str, payload: Mapping[str, Any], delivery: str) -> list[Job]:
    """The jobs an event means; [] for events the bot ignores."""
    installation = (payload.get("installation") or {}).get("id")
    repo = (payload.get("repository") or {}).get("full_name", "")
    action = payload.get("action")
    if installation is None or not repo:
        return []
    if event == "pull_request":
        pr = payload["pull_request"]
        if action in PR_ACTIONS and not pr.get("draft"):
            return [validate_job(installation, repo, pr["number"], pr["head"]["sha"], action)]
        if action == "closed" and pr.get("merged") and pr.get("merge_commit_sha"):
            return [merge_job(installation, repo, pr["merge_commit_sha"], pr["number"], None)]
        return []
    if event == "issue_comment" and action == "created":
        issue, comment = payload["issue"], payload["comment"]
        body = (comment.get("body") or "").strip()
        if not issue.get("pull_request") or not body.startswith(COMMAND_PREFIX):
            return []
        if (comment.get("user") or {}).get("type") == "Bot":
            return []
        return [Job("command", f"command:{repo}:{comment['id']}", pr_group(repo, issue["number"]), {
            "installation": installation, "repo": repo, "pr": issue["number"],
            "user": comment["user"]["login"], "body": body[:1000], "comment_id": comment["id"]})]
    if event in ("check_run", "check_suite") and action == "rerequested":
        return _rerequest(event, payload, installation, repo, delivery)
    if event == "push":
        default = (payload.get("repository") or {}).get("default_branch")
        if payload.get("ref") != f"refs/heads/{default}" or payload.get("deleted"):
            return []
        if SKIP_MARKER in ((payload.get("head_commit") or {}).get("message") or ""):
            return []
        changed: set[str] = set()
        for commit in payload.get("commits") or ():
            for kind in ("added", "modified", "removed"):
                changed.update(commit.get(kind) or ())
        return [merge_job(installation, repo, payload["after"], None, sorted(changed))]
    return []


def _rerequest(event: str, payload: Mapping[str, Any], installation: int, repo: str,
               delivery: str) -> list[Job]:
    if event == "check_run":
        run = payload["check_run"]
        name, head_sha, prs = run.get("name"), run["head_sha"], run.get("pull_requests") or ()
        if name == REANALYSIS_CHECK:
            return [merge_job(installation, repo, head_sha, None, None, nonce=delivery)]
        if name != VALIDATE_CHECK:
            return []
    else:
        suite = payload["check_suite"]
        head_sha, prs = suite["head_sha"], suite.get("pull_requests") or ()
    return [validate_job(installation, repo, pr["number"], head_sha, "rerequested", nonce=delivery)
            for pr in prs]


def blueprint(settings: Settings, queue: JobQueue) -> Blueprint:
    bp = Blueprint("webhooks", __name__)

    @bp.post("/webhook")
    def webhook() -> Response:
        length = request.content_length
        if length is None or length > settings.max_body_bytes:
            return _answer(413, "body missing or too large")
        body = request.get_data(cache=False)
        if len(body) > settings.max_body_bytes:
            return _answer(413, "body too large")
        if not signature_ok(settings.webhook_secret, body, request.headers.get("X-Hub-Signature-256")):
            return _answer(401, "bad signature")
        event = request.headers.get("X-GitHub-Event", "")
        delivery = request.headers.get("X-GitHub-Delivery", "")
        if not event or not delivery:
            return _answer(400, "missing event or delivery header")
        try:
            payload = json.loads(body)
        except ValueError:
            return _answer(400, "body is not JSON")
        if not isinstance(payload, dict):
            return _answer(400, "body is not a JSON object")
        problem = shape_problem(event, payload)
        if problem is not None:
            log.warning("delivery %s refused: %s", delivery, problem)
            return _answer(400, problem)
        installation = (payload.get("installation") or {}).get("id")
        repo = (payload.get("repository") or {}).get("full_name")
        allowed = event == "installation" or settings.allows(installation, repo)
        try:
            jobs = route(event, payload, delivery) if allowed else []
        except (KeyError, TypeError, AttributeError, ValueError) as error:  # a shape the schema missed
            log.warning("delivery %s refused: %s: %s", delivery, type(error).__name__, error)
            return _answer(400, f"malformed {event} payload ({type(error).__name__})")
        queued = queue.intake(delivery, event, jobs)
        if queued is None:
            return _answer(202, "duplicate delivery")
        if not allowed:
            log.warning("delivery %s from a repository or installation not allowed", delivery)
            return _answer(202, "not allowed")
        log.info("delivery %s %s.%s: %d job(s), %d new", delivery, event, payload.get("action"), len(jobs), queued)
        return _answer(202, f"{queued} job(s) queued")

    return bp


def _answer(status: int, message: str) -> Response:
    return current_app.response_class(json.dumps({"message": message}), status=status,
                                      mimetype="application/json")
