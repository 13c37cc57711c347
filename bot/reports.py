"""Findings, plans and re-analysis statuses -> the sticky comment (Markdown) and check-run output.

Every piece of user-controlled text (messages quote config content, slugs, paths) goes through
`escape`, so a config cannot inject Markdown, HTML or mentions into the bot's comment.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from bot.webhooks import REANALYSIS_CHECK, VALIDATE_CHECK
from engine.check.bill import human_bytes
from engine.findings import Finding, Severity
from engine.plan.affected import Affected

MARKER = "<!-- jetstream-bot:sticky -->"
GITHUB_TEXT_LIMIT = 65_536
_BUDGET = GITHUB_TEXT_LIMIT - 2_000  # room for the frame around the folded part
_LEVEL = {Severity.ERROR: "failure", Severity.WARNING: "warning", Severity.NOTICE: "notice"}
_ICON = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.NOTICE: "ℹ️"}
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
# HTML-significant characters and mentions become entities: GitHub shows them, never acts on them.
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "@": "&#64;"}


@dataclass(frozen=True)
class ReanalysisRow:
    slug: str
    status: str  # queued | running | succeeded | skipped | failed | unavailable | superseded
    link: str = ""
    detail: str = ""


def escape(text: Any) -> str:
    """Markdown-inert text on one line: specials backslashed, newlines flattened."""
    escaped = _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    return "".join(_ENTITIES.get(c, c) for c in escaped)


# What an error message must not carry to a PR: server paths, interpreter names, process ids.
_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?(?:/[\w.@+-]+){2,}/?")
_PID = re.compile(r"\b(?:PID|pid|process)\s*[:=#]?\s*\d+\b")
_INTERPRETER = re.compile(r"\b(?:python|pypy)[\d.]*\b", re.IGNORECASE)


def public(text: str, limit: int = 300) -> str:
    """Error text fit for a PR: paths, process ids and interpreter names replaced by placeholders."""
    text = _PATH.sub("<path>", text)
    text = _PID.sub("<process>", text)
    return _INTERPRETER.sub("<interpreter>", text)[:limit]


def _count(findings: Sequence[Finding]) -> str:
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = sum(f.severity is Severity.WARNING for f in findings)
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


def _short(sha: str) -> str:
    return sha[:7]


def findings_table(findings: Sequence[Finding]) -> list[str]:
    rows = ["| | Where | Code | Message |", "|---|---|---|---|"]
    for f in sorted(findings, key=lambda f: (f.path, f.line or 0, f.column or 0, f.code)):
        where = escape(f.path) + (f":{f.line}" if f.line else "")
        message = escape(f.message) + (f" _(hint: {escape(f.hint)})_" if f.hint else "")
        rows.append(f"| {_ICON[f.severity]} | {where} | {escape(f.code)} | {message} |")
    return rows


def plan_lines(plan: Sequence[Affected], estimates: Mapping[str, int | None] | None) -> list[str]:
    """The plan; with BigQuery configured, each experiment's bill (dry runs of every query its
    re-analysis runs) and their total."""
    if not plan:
        return ["**Plan:** merging re-analyses no experiment."]
    lines = [f"**Plan:** merging re-analyses {len(plan)} experiment{'s' * (len(plan) != 1)}:"]
    for a in plan:
        line = f"- {escape(a.slug)}: {'; '.join(escape(r) for r in a.reasons)}"
        if estimates is not None:
            size = estimates.get(a.slug)
            line += f" (BigQuery: {human_bytes(size) if size is not None else 'no estimate'})"
        lines.append(line)
    known = [v for v in (estimates or {}).values() if v is not None]
    if known:
        lines.append(f"\nBigQuery bill of the re-analyses: {human_bytes(sum(known))} "
                     f"({len(known)} of {len(plan)} experiments estimated; the sum of dry runs of "
                     "every query each re-analysis runs).")
    return lines


def fit(lines: Sequence[str], budget: int) -> tuple[list[str], int]:
    """The leading lines whose text fits `budget` characters, and how many were left out."""
    size = 0
    for index, line in enumerate(lines):
        size += len(line) + 1
        if size > budget:
            return list(lines[:index]), len(lines) - index
    return list(lines), 0


def fold(title: str, lines: Sequence[str], budget: int, overflow: str) -> str:
    """Lines inside `<details>`, cut to fit; `overflow` (with {n}) says where the rest is."""
    kept, left_out = fit(lines, budget)
    if left_out:
        kept.append("\n" + overflow.format(n=left_out))
    body = "\n".join(kept)
    return f"<details><summary>{title}</summary>\n\n{body}\n\n</details>"


def _section(title: str, lines: list[str], budget: int, overflow: str) -> list[str]:
    """Lines as they are when short; folded (and cut, saying where the rest is) when long."""
    if sum(len(line) + 1 for line in lines) <= budget // 4:
        return lines
    return [fold(title, lines, budget, overflow)]


def validation_comment(sha: str, findings: Sequence[Finding], plan: Sequence[Affected],
                       estimates: Mapping[str, int | None] | None, structural_only: bool,
                       sql_note: str | None = None) -> str:
    """The sticky comment; `sql_note` (bot text, not user text) says how the SQL was checked."""
    ok = not any(f.is_error for f in findings)
    head = f"### {'✅' if ok else '❌'} jetstream validation of {_short(sha)}: {_count(findings)}"
    parts = [MARKER, head, ""]
    if structural_only:
        parts += ["_This pull request comes from a fork: structural checks only, no SQL dry run._", ""]
    elif sql_note:
        parts += [f"_{sql_note}_", ""]
    if findings:
        parts += _section(f"{len(findings)} findings", findings_table(findings), _BUDGET // 2,
                          f"… {{n}} more finding(s) not shown here. Nothing is lost: all {len(findings)} "
                          f"are annotations on the `{VALIDATE_CHECK}` check run, on their lines.")
        parts.append("")
    lines = plan_lines(plan, estimates)
    parts += lines[:1] + _section(f"{len(plan)} experiments", lines[1:], _BUDGET // 2,
                                  f"… {{n}} more line(s): the whole plan is the `{VALIDATE_CHECK}` "
                                  "check run's summary.")
    return "\n".join(parts) + "\n"


def no_config_comment(sha: str) -> str:
    """The sticky comment once a PR's head changes no config file any more."""
    return (f"{MARKER}\n### ✅ jetstream validation of {_short(sha)}: no config changes\n\n"
            "This pull request no longer changes any experiment, outcome or definition config; "
            "merging re-analyses no experiment.\n")


def failure_summary(reason: str) -> tuple[str, str]:
    """(title, summary) of the failed check run a job leaves when it finally fails."""
    return "jetstream could not finish", f"The job failed for good: {escape(public(reason, 1000))}."


def reanalysis_comment(sha: str, rows: Sequence[ReanalysisRow], skipped: bool = False) -> str:
    parts = [MARKER, f"### jetstream re-analysis after merge {_short(sha)}", ""]
    if skipped:
        parts.append("Skipped: the merge commit message contains `[ci rerun-skip]`.")
    elif not rows:
        parts.append("No experiment is affected by this merge.")
    else:
        table = ["| Experiment | Status | Results |", "|---|---|---|"]
        for row in rows:
            status = escape(row.status) + (f": {escape(row.detail)}" if row.detail else "")
            link = f"[results]({row.link})" if row.link and row.status == "succeeded" else ""
            table.append(f"| {escape(row.slug)} | {status} | {link} |")
        parts += _section(f"{len(rows)} experiments", table, _BUDGET,
                          f"… {{n}} more experiment(s): every status is in the `{REANALYSIS_CHECK}` "
                          "check run's summary.")
    return "\n".join(parts) + "\n"


def annotations(findings: Iterable[Finding]) -> tuple[dict[str, Any], ...]:
    """Check-run annotations (raw text: GitHub shows annotation text verbatim, not as Markdown)."""
    result = []
    for f in findings:
        line = f.line or 1
        item: dict[str, Any] = {"path": f.path, "start_line": line, "end_line": line,
                                "annotation_level": _LEVEL[f.severity], "title": f.code,
                                "message": f.message[:60_000]}
        if f.hint:
            item["raw_details"] = f"hint: {f.hint}"[:60_000]
        result.append(item)
    return tuple(result)


@dataclass(frozen=True)
class CheckText:
    title: str
    summary: str
    text: str = ""


def check_text(findings: Sequence[Finding], plan: Sequence[Affected],
               estimates: Mapping[str, int | None] | None = None) -> CheckText:
    """The validate check run's output within GitHub's limits: the plan as summary (what does not
    fit continues in the text), then the findings table as text. Every finding is also an
    annotation, so cutting the table loses nothing."""
    title = f"{_count(findings)}" if findings else "All configs valid"
    lines = plan_lines(plan, estimates)
    summary, left_out = fit(lines, _BUDGET)
    rest = lines[len(lines) - left_out:] if left_out else []
    if rest:
        summary.append(f"\n… the plan continues in the details below ({left_out} more line(s)).")
    text, left_out = fit(rest + ([""] if rest else []) + (findings_table(findings) if findings else []), _BUDGET)
    if left_out:
        text.append(f"\n… {left_out} more line(s) cut by GitHub's size limit; all {len(findings)} "
                    "findings are annotations on this check run.")
    return CheckText(title, "\n".join(summary), "\n".join(text))


def reanalysis_summary(rows: Sequence[ReanalysisRow]) -> tuple[str, str, bool]:
    """(title, summary, finished) for the reanalysis check run."""
    done = [r for r in rows if r.status not in ("queued", "running")]
    failed = [r for r in rows if r.status == "failed"]
    title = f"{len(done)}/{len(rows)} experiments re-analysed" + (f", {len(failed)} failed" if failed else "")
    lines, left_out = fit([f"- {escape(r.slug)}: {escape(r.status)}" + (f" ({r.link})" if r.link else "")
                           for r in rows], _BUDGET)
    if left_out:
        lines.append(f"\n… {left_out} more experiment(s) not listed (GitHub's size limit).")
    return title, "\n".join(lines) or "Nothing to re-analyse.", len(done) == len(rows)
