"""A strict, stateful GitHub REST server on loopback that PyGithub talks to over real HTTP.

Enterprise-style base (`http://127.0.0.1:PORT/api/v3`); every URL it returns is built from that
base. It verifies the app JWT (RS256, issuer, lifetime) on the token exchange and the installation
token on every other call. An unknown route is recorded in `errors` and the test fixture fails.
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

PREFIX = "/api/v3"
TEXT_LIMIT = 65_536  # GitHub rejects longer comment bodies and check-run summaries/texts


def blob_sha(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class FakePull:
    number: int
    base_sha: str
    head_sha: str
    base_ref: str = "main"
    fork: bool = False
    merged: bool = False
    merge_sha: str | None = None
    renames: dict[str, str] = field(default_factory=dict)  # new path -> old path


@dataclass
class FakeRepo:
    full_name: str
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, FakePull] = field(default_factory=dict)
    check_runs: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    permissions: dict[str, str] = field(default_factory=dict)

    def commit(self, files: dict[str, bytes | str], message: str = "change", parent: str | None = None,
               remove: tuple[str, ...] = ()) -> str:
        tree = dict(self.commits.get(parent, {})) if parent else {}
        for path, content in files.items():
            tree[path] = content.encode() if isinstance(content, str) else content
        for path in remove:
            tree.pop(path, None)
        sha = hashlib.sha1(repr((parent, sorted(tree.items()), message)).encode()).hexdigest()
        self.commits[sha] = tree
        self.messages[sha] = message
        return sha

    def check_run(self, name: str, head_sha: str) -> list[dict[str, Any]]:
        return [r for r in self.check_runs if r["name"] == name and r["head_sha"] == head_sha]


_RULES = [
    Rule("/app/installations/<int:installation>/access_tokens", methods=["POST"], endpoint="token"),
    Rule("/repos/<owner>/<name>/pulls/<int:number>", methods=["GET"], endpoint="pull"),
    Rule("/repos/<owner>/<name>/pulls/<int:number>/files", methods=["GET"], endpoint="pull_files"),
    Rule("/repos/<owner>/<name>/git/trees/<sha>", methods=["GET"], endpoint="tree"),
    Rule("/repos/<owner>/<name>/contents/<path:path>", methods=["GET"], endpoint="contents"),
    Rule("/repos/<owner>/<name>/commits/<sha>", methods=["GET"], endpoint="commit"),
    Rule("/repos/<owner>/<name>/commits/<sha>/check-runs", methods=["GET"], endpoint="commit_checks"),
    Rule("/repos/<owner>/<name>/commits/<sha>/pulls", methods=["GET"], endpoint="commit_pulls"),
    Rule("/repos/<owner>/<name>/check-runs", methods=["POST"], endpoint="create_check"),
    Rule("/repos/<owner>/<name>/check-runs/<int:run_id>", methods=["PATCH", "GET"], endpoint="check"),
    Rule("/repos/<owner>/<name>/issues/<int:number>", methods=["GET"], endpoint="issue"),
    Rule("/repos/<owner>/<name>/issues/<int:number>/comments", methods=["GET", "POST"], endpoint="comments"),
    Rule("/repos/<owner>/<name>/issues/comments/<int:comment_id>", methods=["PATCH"], endpoint="comment"),
    Rule("/repos/<owner>/<name>/collaborators/<user>/permission", methods=["GET"], endpoint="permission"),
    Rule("/repos/<owner>/<name>/statuses/<sha>", methods=["POST"], endpoint="status"),
]


class FakeGitHub:
    def __init__(self, app_id: str, public_key_pem: bytes, page_size: int = 30):
        self.app_id = app_id
        self.public_key = public_key_pem
        self.page_size = page_size
        self.repos: dict[str, FakeRepo] = {}
        self.tokens: dict[str, int] = {}  # token -> installation
        self.errors: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.failures: list[tuple[str, re.Pattern, int]] = []  # injected (method, path, status)
        self.failures_after: list[tuple[str, re.Pattern, int]] = []  # applied, then answered with status
        self.outage_until = 0.0  # time.monotonic() before which every request gets a 502
        self.outage_answers = 0
        self.hooks: list[Any] = []  # callables(method, path), run before each request is served
        self._ids = itertools.count(1000)
        self._lock = threading.RLock()
        self._map = Map([rule.empty() for rule in _RULES], strict_slashes=False)
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base = f"http://127.0.0.1:{self._server.server_port}{PREFIX}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeGitHub":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()

    def repo(self, full_name: str) -> FakeRepo:
        return self.repos.setdefault(full_name, FakeRepo(full_name))

    def fail_next(self, method: str, path_pattern: str, status: int = 502) -> None:
        self.failures.append((method, re.compile(path_pattern), status))

    def fail_after_applying(self, method: str, path_pattern: str, status: int = 502) -> None:
        """The next matching request is applied, then answered with `status` (a gateway error
        after the write landed: the client cannot tell whether it did)."""
        self.failures_after.append((method, re.compile(path_pattern), status))

    def outage(self, seconds: float) -> None:
        """Every request fails with a 502 for the next `seconds`."""
        self.outage_until = time.monotonic() + seconds

    def annotations(self) -> list[list[dict[str, Any]]]:
        return [run["annotations"] for repo in self.repos.values() for run in repo.check_runs]

    # --- plumbing -------------------------------------------------------------------------------
    def _wsgi(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        for hook in list(self.hooks):
            hook(request.method, request.path)
        with self._lock:
            if time.monotonic() < self.outage_until:
                self.outage_answers += 1
                response = _json({"message": "Server Error (outage)"}, 502)
            else:
                response = self._dispatch_after(request)
        return response(environ, start_response)

    def _dispatch_after(self, request: Request) -> Response:
        response = self._dispatch(request)
        for index, (method, pattern, status) in enumerate(self.failures_after):
            if method == request.method and pattern.search(request.path) and response.status_code < 400:
                del self.failures_after[index]
                return _json({"message": "injected failure after applying"}, status)
        return response

    def _dispatch(self, request: Request) -> Response:
        self.requests.append((request.method, request.full_path))
        for index, (method, pattern, status) in enumerate(self.failures):
            if method == request.method and pattern.search(request.path):
                del self.failures[index]
                return _json({"message": "injected failure"}, status)
        if not request.path.startswith(PREFIX):
            return self._unknown(request)
        adapter = self._map.bind("127.0.0.1", path_info=request.path[len(PREFIX):], url_scheme="http")
        try:
            endpoint, args = adapter.match(method=request.method)
        except HTTPException:
            return self._unknown(request)
        auth = request.headers.get("Authorization", "")
        if endpoint == "token":
            return self._token(auth, **args)
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("token", "bearer") or token not in self.tokens:
            self.errors.append(f"unauthenticated {request.method} {request.path}")
            return _json({"message": "Bad credentials"}, 401)
        repo = self.repos.get(f"{args.pop('owner')}/{args.pop('name')}")
        if repo is None:
            return _json({"message": "Not Found"}, 404)
        try:
            return getattr(self, f"_{endpoint}")(request, repo, **args)
        except NotFound:
            return _json({"message": "Not Found"}, 404)

    def _unknown(self, request: Request) -> Response:
        self.errors.append(f"unknown route {request.method} {request.path}")
        return _json({"message": "Not Found (unknown route in fake GitHub)"}, 404)

    def _token(self, auth: str, installation: int) -> Response:
        scheme, _, token = auth.partition(" ")
        try:
            claims = jwt.decode(token, self.public_key, algorithms=["RS256"], options={"require": ["iat", "exp", "iss"]})
        except jwt.PyJWTError as error:
            self.errors.append(f"bad app JWT: {error}")
            return _json({"message": "A JSON web token could not be decoded"}, 401)
        if scheme.lower() != "bearer" or str(claims["iss"]) != self.app_id or claims["exp"] - claims["iat"] > 660:
            self.errors.append("app JWT with wrong scheme, issuer or lifetime")
            return _json({"message": "Bad credentials"}, 401)
        new = "ghs_" + secrets.token_hex(16)
        self.tokens[new] = installation
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        return _json({"token": new, "expires_at": expires, "permissions": {}, "repository_selection": "all"}, 201)

    def _paginate(self, request: Request, items: list[Any], wrap: Any = None) -> Response:
        per_page = min(int(request.args.get("per_page", self.page_size)), 100)
        page = int(request.args.get("page", 1))
        chunk = items[(page - 1) * per_page: page * per_page]
        response = _json(wrap(chunk, len(items)) if wrap else chunk)
        last = max(1, -(-len(items) // per_page))
        links = []
        url = f"{self.base}{request.path[len(PREFIX):]}"
        other = "&".join(f"{k}={v}" for k, v in request.args.items() if k not in ("page", "per_page"))
        other = f"&{other}" if other else ""
        if page < last:
            links.append(f'<{url}?per_page={per_page}&page={page + 1}{other}>; rel="next"')
            links.append(f'<{url}?per_page={per_page}&page={last}{other}>; rel="last"')
        if links:
            response.headers["Link"] = ", ".join(links)
        return response

    # --- objects --------------------------------------------------------------------------------
    def _repo_json(self, repo: FakeRepo, fork_name: str | None = None) -> dict[str, Any]:
        name = fork_name or repo.full_name
        return {"id": abs(hash(name)) % 10**8, "name": name.split("/")[1], "full_name": name,
                "url": f"{self.base}/repos/{name}", "owner": {"login": name.split("/")[0], "type": "User"}}

    def _pull_json(self, repo: FakeRepo, pr: FakePull) -> dict[str, Any]:
        url = f"{self.base}/repos/{repo.full_name}"
        head_repo = self._repo_json(repo, f"someone/{repo.full_name.split('/')[1]}" if pr.fork else None)
        return {"id": pr.number, "number": pr.number, "state": "closed" if pr.merged else "open",
                "url": f"{url}/pulls/{pr.number}", "issue_url": f"{url}/issues/{pr.number}",
                "merged": pr.merged, "merge_commit_sha": pr.merge_sha,
                "head": {"sha": pr.head_sha, "ref": "feature", "repo": head_repo},
                "base": {"sha": pr.base_sha, "ref": pr.base_ref, "repo": self._repo_json(repo)}}

    def _pull(self, request: Request, repo: FakeRepo, number: int) -> Response:
        return _json(self._pull_json(repo, self._get(repo.pulls, number)))

    def _pull_files(self, request: Request, repo: FakeRepo, number: int) -> Response:
        pr = self._get(repo.pulls, number)
        base, head = repo.commits[pr.base_sha], repo.commits[pr.head_sha]
        renamed_from = set(pr.renames.values())
        files = []
        for path in sorted(set(base) | set(head)):
            if path in pr.renames:
                files.append({"filename": path, "status": "renamed", "previous_filename": pr.renames[path]})
            elif path in renamed_from:
                continue
            elif path not in base:
                files.append({"filename": path, "status": "added"})
            elif path not in head:
                files.append({"filename": path, "status": "removed"})
            elif base[path] != head[path]:
                files.append({"filename": path, "status": "modified"})
        for item in files:
            item.update(sha=blob_sha(head.get(item["filename"], b"")), additions=1, deletions=0, changes=1)
        return self._paginate(request, files)

    def _tree(self, request: Request, repo: FakeRepo, sha: str) -> Response:
        tree = self._get(repo.commits, sha)
        items = [{"path": p, "mode": "100644", "type": "blob", "sha": blob_sha(c), "size": len(c),
                  "url": f"{self.base}/repos/{repo.full_name}/git/blobs/{blob_sha(c)}"} for p, c in sorted(tree.items())]
        return _json({"sha": sha, "url": f"{self.base}/repos/{repo.full_name}/git/trees/{sha}",
                      "tree": items, "truncated": False})

    def _contents(self, request: Request, repo: FakeRepo, path: str) -> Response:
        tree = self._get(repo.commits, request.args.get("ref", ""))
        content = self._get(tree, path)
        return _json({"type": "file", "encoding": "base64", "size": len(content), "name": path.rsplit("/", 1)[-1],
                      "path": path, "sha": blob_sha(content), "content": base64.b64encode(content).decode(),
                      "url": f"{self.base}/repos/{repo.full_name}/contents/{path}"})

    def _commit(self, request: Request, repo: FakeRepo, sha: str) -> Response:
        self._get(repo.commits, sha)
        return _json({"sha": sha, "url": f"{self.base}/repos/{repo.full_name}/commits/{sha}",
                      "commit": {"message": repo.messages[sha]}, "files": []})

    def _commit_checks(self, request: Request, repo: FakeRepo, sha: str) -> Response:
        runs = [r for r in repo.check_runs if r["head_sha"] == sha
                and request.args.get("check_name", r["name"]) == r["name"]]
        return self._paginate(request, runs, lambda chunk, total: {"total_count": total, "check_runs": chunk})

    def _commit_pulls(self, request: Request, repo: FakeRepo, sha: str) -> Response:
        prs = [self._pull_json(repo, pr) for pr in repo.pulls.values() if sha in (pr.merge_sha, pr.head_sha)]
        return self._paginate(request, prs)

    def _create_check(self, request: Request, repo: FakeRepo) -> Response:
        body = request.get_json()
        run_id = next(self._ids)
        run = {"id": run_id, "name": body["name"], "head_sha": body["head_sha"], "status": "queued",
               "conclusion": None, "external_id": None, "details_url": None,
               "url": f"{self.base}/repos/{repo.full_name}/check-runs/{run_id}",
               "output": {"title": None, "summary": None, "annotations_count": 0}, "annotations": [], "history": []}
        repo.check_runs.append(run)
        self._apply_check(run, body)
        return _json(_public(run), 201)

    def _check(self, request: Request, repo: FakeRepo, run_id: int) -> Response:
        run = next((r for r in repo.check_runs if r["id"] == run_id), None)
        if run is None:
            raise NotFound()
        if request.method == "PATCH":
            self._apply_check(run, request.get_json())
        return _json(_public(run))

    def _apply_check(self, run: dict[str, Any], body: dict[str, Any]) -> None:
        for key in ("status", "conclusion", "external_id", "details_url"):
            if key in body:
                run[key] = body[key]
        if body.get("conclusion"):
            run["status"] = "completed"
        output = body.get("output")
        if output:
            annotations = output.get("annotations") or []
            if len(annotations) > 50:
                self.errors.append("more than 50 annotations in one request")
            run["annotations"].extend(annotations)
            for field in ("summary", "text"):
                if len(output.get(field) or "") > TEXT_LIMIT:
                    self.errors.append(f"check run output {field} over {TEXT_LIMIT} characters")
            if not output.get("title") or output.get("summary") is None:
                self.errors.append("check run output without title or summary")
            run["output"] = {"title": output.get("title"), "summary": output.get("summary"),
                             "text": output.get("text"), "annotations_count": len(run["annotations"])}
        run["history"].append(run["status"])

    def _issue(self, request: Request, repo: FakeRepo, number: int) -> Response:
        url = f"{self.base}/repos/{repo.full_name}/issues/{number}"
        return _json({"id": number, "number": number, "url": url, "comments_url": f"{url}/comments",
                      "title": f"PR {number}", "state": "open", "pull_request": {"url": url}})

    def _comments(self, request: Request, repo: FakeRepo, number: int) -> Response:
        if request.method == "GET":
            return self._paginate(request, [c for c in repo.comments if c["issue"] == number])
        comment_id = next(self._ids)
        comment = {"id": comment_id, "issue": number, "body": self._body(request),
                   "url": f"{self.base}/repos/{repo.full_name}/issues/comments/{comment_id}",
                   "user": {"login": "jetstream[bot]", "type": "Bot"}, "edits": 0}
        repo.comments.append(comment)
        return _json(comment, 201)

    def _comment(self, request: Request, repo: FakeRepo, comment_id: int) -> Response:
        comment = next((c for c in repo.comments if c["id"] == comment_id), None)
        if comment is None:
            raise NotFound()
        comment["body"] = self._body(request)
        comment["edits"] += 1
        return _json(comment)

    def _permission(self, request: Request, repo: FakeRepo, user: str) -> Response:
        if user not in repo.permissions:
            raise NotFound()
        return _json({"permission": repo.permissions[user], "user": {"login": user, "type": "User"}})

    def _status(self, request: Request, repo: FakeRepo, sha: str) -> Response:
        body = dict(request.get_json(), sha=sha, id=next(self._ids))
        repo.statuses.append(body)
        return _json(body, 201)

    def _body(self, request: Request) -> str:
        body = request.get_json()["body"]
        if len(body) > TEXT_LIMIT:
            self.errors.append(f"comment body over {TEXT_LIMIT} characters")
        return body

    @staticmethod
    def _get(mapping: dict, key: Any) -> Any:
        if key not in mapping:
            raise NotFound()
        return mapping[key]


def _public(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if k not in ("annotations", "history")}


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")
