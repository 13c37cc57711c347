"""GitHub through PyGithub: app JWT -> installation token (cached per installation), pull request
files, contents at a ref, check runs with batched annotations, one sticky comment per PR.

Writes happen exactly once. PyGithub's `GithubRetry` retries only reads (GET): a POST or PATCH that
failed ambiguously (5xx, timeout: GitHub may have applied it) is never blindly sent again. Instead
the object is looked up first: the sticky comment by its hidden marker, the check run by its
external id (the job's key), and a check run's annotations resume from the count GitHub holds, so
none is ever appended twice. Longer outages surface as exceptions that `outage()` names, and the
job queue retries the whole job with backoff. Throttling is configurable.
Tokens and keys never reach a log line: PyGithub holds them, we only hold the `Github` objects.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar

import requests
from github import (
    Auth,
    Github,
    GithubException,
    GithubRetry,
    RateLimitExceededException,
    UnknownObjectException,
)

from bot.config import ConfigurationError, Settings

ANNOTATION_BATCH = 50  # GitHub accepts at most 50 annotations per check-run request
WRITE_PERMISSIONS = frozenset({"admin", "maintain", "write"})
RATE_LIMIT_WAIT = 60.0  # longer waits for a rate-limit reset become a job retry, not a blocked slot
AMBIGUOUS_WRITE_CHECKS = 3
T = TypeVar("T")


def outage(error: BaseException) -> str | None:
    """Public text naming the GitHub outage `error` is (None: it is not one)."""
    if isinstance(error, RateLimitExceededException):
        return "GitHub API rate limit exceeded"
    if isinstance(error, GithubException) and isinstance(error.status, int) and (
            error.status >= 500 or error.status == 429):
        return f"GitHub API unavailable (HTTP {error.status})"
    if isinstance(error, requests.exceptions.RetryError):
        return "GitHub API unavailable (server errors on every retry)"
    if isinstance(error, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        return "GitHub API unreachable"
    return None


def _ambiguous(error: BaseException) -> bool:
    """A write that may have been applied although it failed."""
    return outage(error) is not None and not isinstance(error, RateLimitExceededException)


@dataclass(frozen=True)
class ChangedFile:
    path: str
    status: str  # added | modified | removed | renamed | ...
    previous_path: str | None = None


@dataclass(frozen=True)
class PullInfo:
    number: int
    head_sha: str
    base_ref: str
    base_sha: str
    fork: bool
    merged: bool
    merge_sha: str | None


@dataclass(frozen=True)
class CheckOutput:
    title: str
    summary: str
    conclusion: str  # success | failure | neutral | action_required
    annotations: tuple[Mapping[str, Any], ...] = ()
    details_url: str | None = None
    text: str = ""  # the output's details (Markdown), below the summary


class GitHubApp:
    """One per process. `repo()` gives a client bound to an installation's cached token."""

    def __init__(self, settings: Settings):
        if not settings.app_id or not settings.private_key:
            raise ConfigurationError("GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY(_FILE) are required")
        self.settings = settings
        self._auth = Auth.AppAuth(settings.app_id, settings.private_key)
        self._clients: dict[int, Github] = {}
        self._lock = threading.Lock()

    def _client(self, installation_id: int) -> Github:
        with self._lock:
            client = self._clients.get(installation_id)
            if client is None:
                s = self.settings
                client = Github(
                    auth=self._auth.get_installation_auth(installation_id),
                    base_url=s.api_url,
                    retry=GithubRetry(total=s.retries, backoff_factor=0.2, secondary_rate_wait=10,
                                      max_rate_limit_wait=RATE_LIMIT_WAIT,
                                      allowed_methods=frozenset({"GET", "HEAD"})),
                    seconds_between_requests=s.seconds_between_requests or None,
                    seconds_between_writes=s.seconds_between_writes or None,
                    per_page=100,
                    lazy=True,
                )
                self._clients[installation_id] = client
            return client

    def repo(self, installation_id: int, full_name: str) -> "RepoClient":
        return RepoClient(self._client(installation_id).get_repo(full_name))


class RepoClient:
    def __init__(self, repo: Any):
        self._repo = repo

    @property
    def full_name(self) -> str:
        return self._repo.full_name

    def pull(self, number: int) -> PullInfo:
        pr = self._repo.get_pull(number)
        head_repo = pr.head.repo.full_name if pr.head.repo is not None else None
        return PullInfo(number, pr.head.sha, pr.base.ref, pr.base.sha,
                        fork=head_repo != pr.base.repo.full_name, merged=bool(pr.merged),
                        merge_sha=pr.merge_commit_sha)

    def changed_files(self, number: int) -> list[ChangedFile]:
        pr = self._repo.get_pull(number)
        return [ChangedFile(f.filename, f.status, f.previous_filename) for f in pr.get_files()]

    def tree(self, sha: str) -> dict[str, str]:
        """path -> blob SHA of every file at a commit."""
        tree = self._repo.get_git_tree(sha, recursive=True)
        return {item.path: item.sha for item in tree.tree if item.type == "blob"}

    def content(self, path: str, ref: str) -> bytes | None:
        try:
            item = self._repo.get_contents(path, ref=ref)
        except UnknownObjectException:
            return None
        if isinstance(item, list):
            return None  # a directory
        return item.decoded_content

    def commit_message(self, sha: str) -> str:
        return self._repo.get_commit(sha).commit.message

    def commit_pulls(self, sha: str) -> list[int]:
        return [pr.number for pr in self._repo.get_commit(sha).get_pulls()]

    def permission(self, user: str) -> str:
        try:
            return self._repo.get_collaborator_permission(user)
        except UnknownObjectException:
            return "none"

    def start_check(self, name: str, head_sha: str, external_id: str, details_url: str | None = None) -> Any:
        """The check run `name` on `head_sha` owned by `external_id` (one job: a retried or
        recovered job finds its own run again), created in_progress when there is none. Another
        validation of the same SHA has another id, hence a fresh run: GitHub appends annotations
        to a run, so reusing one would pile them up."""
        def find() -> Any:
            runs = self._repo.get_commit(head_sha).get_check_runs(check_name=name)
            return next((run for run in runs if run.external_id == external_id), None)

        extra = {"details_url": details_url} if details_url else {}
        return _write_once(find, lambda: self._repo.create_check_run(
            name, head_sha, status="in_progress", external_id=external_id, **extra))

    def progress_check(self, run: Any, title: str, summary: str) -> None:
        if run.status != "completed":
            run.edit(status="in_progress", output={"title": title, "summary": summary})

    def complete_check(self, run: Any, output: CheckOutput) -> None:
        """Deliver every annotation in batches of 50, completing the run with the last batch.
        Starts after the annotations GitHub already holds (a resumed job), and after an ambiguous
        failure re-reads that count rather than sending a batch twice."""
        sent, checks = run.output.annotations_count or 0, 0
        while run.status != "completed":
            batch = output.annotations[sent:sent + ANNOTATION_BATCH]
            last = sent + ANNOTATION_BATCH >= len(output.annotations)
            body: dict[str, Any] = {"title": output.title, "summary": output.summary}
            if output.text:
                body["text"] = output.text
            if batch:
                body["annotations"] = [dict(a) for a in batch]
            extra = {"details_url": output.details_url} if output.details_url and last else {}
            try:
                if last:
                    run.edit(status="completed", conclusion=output.conclusion, output=body, **extra)
                else:
                    run.edit(status="in_progress", output=body)
            except Exception as error:
                checks += 1
                if not _ambiguous(error) or checks > AMBIGUOUS_WRITE_CHECKS:
                    raise
                run = self._repo.get_check_run(run.id)
                sent = run.output.annotations_count or 0
                continue
            sent += len(batch)

    def upsert_comment(self, number: int, marker: str, body: str, create: bool = True) -> int | None:
        """Edit the bot's comment carrying `marker`, or create it (unless `create` is false):
        never a second one, even when GitHub answers a creation with a 5xx after applying it."""
        issue = self._repo.get_issue(number)

        def find() -> Any:
            return next((c for c in issue.get_comments() if marker in (c.body or "")
                         and c.user is not None and c.user.type == "Bot"), None)

        existing = find()
        if existing is None and not create:
            return None
        comment = existing or _write_once(find, lambda: issue.create_comment(body))
        if comment.body != body:
            comment.edit(body)  # an edit is idempotent: the queue may retry it safely
        return comment.id


def _write_once(find: Callable[[], T | None], create: Callable[[], T]) -> T:
    """`find()` if it finds the object, else `create()`; a creation that failed ambiguously is
    looked up again before it is tried again (at most a few times; then the error is raised)."""
    for _ in range(AMBIGUOUS_WRITE_CHECKS):
        found = find()
        if found is not None:
            return found
        try:
            return create()
        except Exception as error:
            if not _ambiguous(error):
                raise
            last = error
    found = find()
    if found is not None:
        return found
    raise last


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
