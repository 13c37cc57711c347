"""What each durable job does: validate a PR head, plan and fan out a merge, re-analyse one
experiment, report merge progress, answer comment commands, start the daily run.

Every handler is idempotent: re-running it after a crash finds the same check run and the same
sticky comment and re-enqueues the same job keys (which collapse). Everything that writes a PR's
comment or check (validate, report, command, failure) runs in the PR's exclusion group, and a
validation whose SHA is no longer the PR's head writes nothing. Follow-up jobs are returned in
`Done.then`, so they are recorded in the transaction that records the job done.
"""
from __future__ import annotations

import datetime as dt
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from bot import reports
from bot.config import Settings
from bot.engine_port import Ports, TreeCheck
from bot.github import WRITE_PERMISSIONS, CheckOutput, GitHubApp, PullInfo, RepoClient
from bot.jobs.model import Done, Job
from bot.jobs.queue import JobQueue
from bot.tree import is_config_path, materialise, materialise_once
from bot.webhooks import (
    REANALYSIS_CHECK,
    SKIP_MARKER,
    VALIDATE_CHECK,
    merge_job,
    pr_group,
    validate_job,
)
from engine.config.layout import LayoutError, detect_layout
from engine.findings import Finding, Severity
from engine.plan.affected import (
    Affected,
    Change,
    affected_experiments,
    experiment_infos,
)

log = logging.getLogger(__name__)

HELP = ("Commands (write access required): `/jetstream validate` re-validates this pull request; "
        "`/jetstream rerun <slug>` or `/jetstream rerun affected` re-analyses after merge; "
        "`/jetstream help` shows this.")


@dataclass(frozen=True)
class BotContext:
    settings: Settings
    github: GitHubApp
    ports: Ports = field(default_factory=Ports)
    today: Callable[[], dt.date] = dt.date.today  # injectable clock

    def client(self, payload: Mapping[str, Any]) -> RepoClient:
        return self.github.repo(payload["installation"], payload["repo"])


def _day_before(today: dt.date) -> str:
    """The analysis date of a run started `today`: the last day with complete data."""
    return (today - dt.timedelta(days=1)).isoformat()


def _pr_changes(client: RepoClient, pr: int) -> list[Change]:
    return [Change(f.path, f.status, f.previous_path) for f in client.changed_files(pr)]


def _has_experiment(root: Path, slug: str) -> bool:
    """`slug` names an experiment config of the tree at `root` (never a path outside it)."""
    try:
        return slug in {p.stem for p in detect_layout(root).experiment_paths()}
    except LayoutError:
        return False


def _plan(root: Path, changes: list[Change], ctx: BotContext) -> tuple[list[Affected], Any, Any]:
    layout = detect_layout(root)
    registry = ctx.ports.load_registry(ctx.settings.registry)
    infos = experiment_infos(layout, registry)
    plan = list(affected_experiments(changes, layout, infos, ctx.today(), ctx.settings.recent_days))
    return plan, layout, registry


def _check(root: Path, paths: list[Path], registry: Any, pull: PullInfo,
           ctx: BotContext) -> tuple[TreeCheck, str | None]:
    """`paths` checked in one engine pass, and how their SQL was checked (a line for the comment,
    or None when no warehouse is configured). Same-repository PRs only have their queries
    dry-run: fork content is data we never send to the warehouse, not even as a dry run."""
    backend, note = None, None
    if not pull.fork:
        try:
            backend = ctx.ports.dry_run_backend(ctx.settings)
        except Exception as error:  # noqa: BLE001 - a missing warehouse costs the dry run, not the check
            log.warning("SQL dry run unavailable: %s: %s", type(error).__name__, error)
            note = f"SQL dry run unavailable ({type(error).__name__}): structural checks only."
    try:
        checked = ctx.ports.validate(root, paths, registry=registry, backend=backend)
    finally:
        getattr(backend, "close", lambda: None)()
    if backend is None:
        return checked, note
    return checked, f"Enrollment and metric queries dry-run on {backend.name}."


def _current(client: RepoClient, number: int, sha: str) -> bool:
    """`sha` is still the open PR's head: only then may a validation write its comment."""
    pull = client.pull(number)
    return pull.head_sha == sha and not pull.merged


def validate(job: Job, queue: JobQueue, ctx: BotContext) -> dict[str, Any]:
    p = job.payload
    client = ctx.client(p)
    sha = p["head_sha"]
    pull = client.pull(p["pr"])
    if pull.head_sha != sha:  # an older push delivered late: the newer head has its own job
        return {"superseded_by": pull.head_sha}
    run = client.start_check(VALIDATE_CHECK, sha, external_id=job.key)
    changes = _pr_changes(client, p["pr"])
    config_changes = [c for c in changes if is_config_path(c.path) or is_config_path(c.previous_path or "")]
    with tempfile.TemporaryDirectory(prefix="jetstream-pr-") as temp:
        root = Path(temp)
        materialise(client, sha, root, ctx.settings.work_dir / "blobs")
        sql_note, estimates = None, None
        try:
            plan, layout, registry = _plan(root, config_changes, ctx)
        except LayoutError as error:
            plan, registry = [], None
            # the message names the materialised tree: say "the repository", never a server path
            findings = [Finding(".", None, None, Severity.ERROR, "layout",
                                str(error).replace(str(root), "the repository"))]
        else:
            paths = {root / c.path for c in config_changes if c.status != "removed"}
            paths |= {p for p in layout.experiment_paths() if p.stem in {a.slug for a in plan}}
            findings = []
            if paths:
                checked, sql_note = _check(root, sorted(paths), registry, pull, ctx)
                findings = list(checked.findings)
                if checked.estimates is not None and plan:
                    estimates = {a.slug: checked.estimates.get(a.slug) for a in plan}
    errors = any(f.is_error for f in findings)
    if _current(client, p["pr"], sha):  # checked again: the PR may have moved meanwhile
        if config_changes:
            body = reports.validation_comment(sha, findings, plan, estimates, structural_only=pull.fork,
                                              sql_note=sql_note)
            client.upsert_comment(p["pr"], reports.MARKER, body)
        else:  # e.g. the config changes were reverted: the old findings must not stay up
            client.upsert_comment(p["pr"], reports.MARKER, reports.no_config_comment(sha), create=False)
    text = reports.check_text(findings, plan, estimates)
    client.complete_check(run, CheckOutput(text.title, text.summary, "failure" if errors else "success",
                                           reports.annotations(findings), text=text.text))
    return {"findings": len(findings), "errors": errors, "plan": [a.slug for a in plan]}


def merge(job: Job, queue: JobQueue, ctx: BotContext) -> Done:
    """Plan the merge and fan out: the re-analyses and the first report, recorded with it."""
    p = job.payload
    client = ctx.client(p)
    sha, pr = p["sha"], p.get("pr")
    if pr is None:
        pr = next(iter(client.commit_pulls(sha)), None)
    origin = {"installation": p["installation"], "repo": p["repo"], "pr": pr, "sha": sha,
              "merge_key": job.key, "slugs": []}
    if SKIP_MARKER in client.commit_message(sha):
        return Done({"skipped": True}, (report_job(dict(origin, skipped=True), "plan"),))
    if p.get("changed") is not None:
        changes = [Change(path) for path in p["changed"]]
    elif pr is not None:
        changes = _pr_changes(client, pr)
    else:
        changes = []
    root = materialise_once(client, sha, ctx.settings.work_dir)
    plan, _, _ = _plan(root, changes, ctx)
    date = _day_before(ctx.today())
    origin["slugs"] = [a.slug for a in plan]
    source = {"installation": p["installation"], "repo": p["repo"], "sha": sha}
    jobs = [reanalyse_job(a.slug, date, str(root), origin, source) for a in plan]
    return Done({"pr": pr, "slugs": origin["slugs"]}, (*jobs, report_job(origin, "plan")))


def report_job(origin: Mapping[str, Any], tag: str) -> Job:
    """Re-render a merge's comment and check; in the PR's group, a newer one supersedes."""
    group = pr_group(origin["repo"], origin["pr"]) if origin.get("pr") is not None else \
        f"commit:{origin['repo']}:{origin['sha']}"
    return Job("report", f"report:{origin['merge_key']}:{tag}", group, dict(origin), supersedes=True)


def reanalyse_job(slug: str, date: str, config_root: str, origin: Mapping[str, Any] | None,
                  source: Mapping[str, Any] | None = None) -> Job:
    """One per experiment and merge (or day); a newer one supersedes a queued older one.
    `source` (installation, repo, sha) lets a worker on another machine rebuild the tree."""
    tag = origin["merge_key"] if origin else f"daily:{date}"
    return Job("reanalyse", f"reanalyse:{slug}:{tag}", f"experiment:{slug}",
               {"slug": slug, "date": date, "config_root": config_root, "origin": dict(origin or {}),
                "source": dict(source or {})}, supersedes=True)


def reanalyse(job: Job, queue: JobQueue, ctx: BotContext) -> Done:
    p = job.payload
    root = Path(p["config_root"])
    if not root.is_dir() and p.get("source"):  # planned on another machine
        root = materialise_once(ctx.client(p["source"]), p["source"]["sha"], ctx.settings.work_dir)
    # a merge or a command recomputes every ready window; the daily run only what completed
    outcome = ctx.ports.reanalyse(p["slug"], config_root=root,
                                  date=dt.date.fromisoformat(p["date"]), settings=ctx.settings,
                                  recompute=bool(p.get("origin")))
    result = {"status": outcome.status, "detail": reports.public(outcome.detail)}
    return Done(result, _report_after(job))


def _report_after(job: Job) -> tuple[Job, ...]:
    origin = job.payload.get("origin") or {}
    return (report_job(origin, job.payload["slug"]),) if origin else ()


def report(job: Job, queue: JobQueue, ctx: BotContext) -> dict[str, Any]:
    """Render the merge's comment and check run from the store's records of its re-analyses."""
    p = job.payload
    client = ctx.client(p)
    if p.get("skipped"):
        if p.get("pr") is not None:
            client.upsert_comment(p["pr"], reports.MARKER, reports.reanalysis_comment(p["sha"], [], skipped=True))
        return {"skipped": True}
    rows = []
    for slug in p["slugs"]:
        record = queue.store.get(f"reanalyse:{slug}:{p['merge_key']}")
        if record is None or record.state in ("queued", "running", "superseded"):
            status, detail = (record.state if record else "queued"), ""
        elif record.state == "failed":
            status, detail = "failed", record.error or ""
        else:
            status, detail = (record.result or {}).get("status", record.state), (record.result or {}).get("detail", "")
        link = ctx.settings.result_link(slug) if status == "succeeded" else ""
        rows.append(reports.ReanalysisRow(slug, status, link, reports.public(detail)))
    if p.get("pr") is not None:
        client.upsert_comment(p["pr"], reports.MARKER, reports.reanalysis_comment(p["sha"], rows))
    run = client.start_check(REANALYSIS_CHECK, p["sha"], external_id=p["merge_key"])
    title, summary, finished = reports.reanalysis_summary(rows)
    if finished:
        conclusion = "failure" if any(r.status == "failed" for r in rows) else "success"
        client.complete_check(run, CheckOutput(title, summary, conclusion))
    else:
        client.progress_check(run, title, summary)
    return {"rows": len(rows), "finished": finished}


def command(job: Job, queue: JobQueue, ctx: BotContext) -> Done:
    p = job.payload
    client = ctx.client(p)
    words = p["body"].split()
    verb = words[1] if len(words) > 1 else "help"
    # one answer per command comment, found by its marker when a retried job answers again
    marker = f"<!-- jetstream-bot:reply:{int(p['comment_id'])} -->"

    def reply(text: str) -> Done:
        client.upsert_comment(p["pr"], marker, f"{marker}\n{text}")
        return Done({"replied": True})

    if client.permission(p["user"]) not in WRITE_PERMISSIONS:
        return reply(f"Sorry @{reports.escape(p['user'])}, jetstream commands need write access to this repository.")
    if verb == "validate":
        pull = client.pull(p["pr"])
        return Done({"queued": "validate"}, (validate_job(p["installation"], p["repo"], p["pr"], pull.head_sha,
                                                          "command", nonce=f"c{p['comment_id']}"),))
    if verb == "rerun" and len(words) > 2:
        pull = client.pull(p["pr"])
        if not pull.merged or not pull.merge_sha:
            return reply("Re-analysis runs on merged pull requests; this one is not merged yet.")
        target = words[2]
        if target == "affected":
            return Done({"queued": "rerun affected"}, (merge_job(p["installation"], p["repo"], pull.merge_sha,
                                                                 p["pr"], None, nonce=f"c{p['comment_id']}"),))
        root = materialise_once(client, pull.merge_sha, ctx.settings.work_dir)
        if not _has_experiment(root, target):
            return reply(f"No experiment config named {reports.escape(target)}.")
        source = {"installation": p["installation"], "repo": p["repo"], "sha": pull.merge_sha}
        return Done({"queued": f"rerun {target}"},
                    (reanalyse_job(target, _day_before(ctx.today()), str(root), None, source),))
    return reply(HELP)


def daily(job: Job, queue: JobQueue, ctx: BotContext) -> Done:
    """Yesterday's analysis for every live or recently ended experiment on the default branch."""
    root = ctx.settings.config_root
    infos = experiment_infos(detect_layout(root), ctx.ports.load_registry(ctx.settings.registry))
    today = ctx.today()
    slugs = sorted(s for s, info in infos.items() if info.is_recent(today, ctx.settings.recent_days))
    return Done({"slugs": slugs}, tuple(reanalyse_job(slug, job.payload["date"], str(root), None) for slug in slugs))


def daily_job(today: dt.date) -> Job:
    date = _day_before(today)
    return Job("daily", f"daily:{date}", "daily", {"date": date})


def failure(job: Job, queue: JobQueue, ctx: BotContext) -> dict[str, Any]:
    """The visible end of a job that failed for good: its check run completed as a failure,
    saying why (public text only)."""
    p = job.payload
    client = ctx.client(p)
    title, summary = reports.failure_summary(p["reason"])
    run = client.start_check(p["check"], p["sha"], external_id=p["external_id"])
    client.complete_check(run, CheckOutput(title, summary, "failure"))
    return {"check": p["check"]}


def failure_job(job: Job, reason: str) -> Job | None:
    """What a finally failed job leaves behind: a failed check (validate, merge), or the merge's
    report showing the experiment failed (reanalyse: the store holds the reason)."""
    p = job.payload
    if job.kind == "reanalyse":
        return next(iter(_report_after(job)), None)
    if job.kind == "validate":
        check, sha = VALIDATE_CHECK, p["head_sha"]
    elif job.kind == "merge":
        check, sha = REANALYSIS_CHECK, p["sha"]
    else:
        return None
    return Job("failure", f"failure:{job.key}", job.group, {
        "installation": p["installation"], "repo": p["repo"], "sha": sha, "check": check,
        "external_id": job.key, "reason": reason})


KINDS = {"validate": validate, "merge": merge, "reanalyse": reanalyse, "report": report,
         "command": command, "daily": daily, "failure": failure}


def handlers(ctx: BotContext) -> dict[str, Any]:
    return {kind: (lambda job, queue, fn=fn: fn(job, queue, ctx)) for kind, fn in KINDS.items()}
