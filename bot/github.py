"""GitHub through PyGithub: app JWT -> installation token (cached per installation), pull request
files, contents at a ref, check runs with batched annotations, one sticky comment per PR.

Retries on 5xx and rate limits come from PyGithub's `GithubRetry`; throttling is configurable.
Tokens and keys never reach a log line: PyGithub holds them, we only hold the `Github` objects.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from github import Auth, Github, GithubRetry, UnknownObjectException

from bot.config import ConfigurationError, Settings

ANNOTATION_BATCH = 50  # GitHub accepts at most 50 annotations per check-run request
WRITE_PERMISSIONS = frozenset({"admin", "maintain", "write"})


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
                    retry=GithubRetry(total=s.retries, backoff_factor=0.2, secondary_rate_wait=10),
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
        """The check run `name` on `head_sha`, created once and set back to in_progress."""
        for run in self._repo.get_commit(head_sha).get_check_runs(check_name=name):
            run.edit(status="in_progress", external_id=external_id)
            return run
        extra = {"details_url": details_url} if details_url else {}
        return self._repo.create_check_run(name, head_sha, status="in_progress", external_id=external_id, **extra)

    def progress_check(self, run: Any, title: str, summary: str) -> None:
        run.edit(status="in_progress", output={"title": title, "summary": summary})

    def complete_check(self, run: Any, output: CheckOutput) -> None:
        """Deliver every annotation in batches of 50, completing the run with the last batch."""
        batches = list(_batches(output.annotations, ANNOTATION_BATCH)) or [()]
        for index, batch in enumerate(batches):
            body: dict[str, Any] = {"title": output.title, "summary": output.summary}
            if output.text:
                body["text"] = output.text
            if batch:
                body["annotations"] = [dict(a) for a in batch]
            last = index == len(batches) - 1
            extra = {"details_url": output.details_url} if output.details_url and last else {}
            if last:
                run.edit(status="completed", conclusion=output.conclusion, output=body, **extra)
            else:
                run.edit(status="in_progress", output=body)

    def upsert_comment(self, number: int, marker: str, body: str) -> int:
        """Edit the bot's comment carrying `marker`, or create it: never a second one."""
        issue = self._repo.get_issue(number)
        for comment in issue.get_comments():
            if marker in (comment.body or "") and comment.user is not None and comment.user.type == "Bot":
                if comment.body != body:
                    comment.edit(body)
                return comment.id
        return issue.create_comment(body).id

    def reply(self, number: int, body: str) -> None:
        self._repo.get_issue(number).create_comment(body)


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
