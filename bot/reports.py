"""Findings, plans and re-analysis statuses -> the sticky comment (Markdown) and check-run output.

Every piece of user-controlled text (messages quote config content, slugs, paths) goes through
`escape`, so a config cannot inject Markdown, HTML or mentions into the bot's comment.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from engine.affected import Affected
from engine.findings import Finding, Severity

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
    status: str  # queued | running | succeeded | failed | unavailable | superseded
    link: str = ""
    detail: str = ""


def escape(text: Any) -> str:
    """Markdown-inert text on one line: specials backslashed, newlines flattened."""
    escaped = _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    return "".join(_ENTITIES.get(c, c) for c in escaped)


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


def plan_lines(plan: Sequence[Affected], estimated_bytes: int | None) -> list[str]:
    if not plan:
        return ["**Plan:** merging re-analyses no experiment."]
    lines = [f"**Plan:** merging re-analyses {len(plan)} experiment{'s' * (len(plan) != 1)}:"]
    lines += [f"- {escape(a.slug)}: {'; '.join(escape(r) for r in a.reasons)}" for a in plan]
    if estimated_bytes is not None:
        lines.append(f"\nBigQuery estimate: {estimated_bytes / 1e9:,.2f} GB scanned.")
    return lines


def fold(title: str, lines: list[str], budget: int = _BUDGET) -> str:
    """Lines inside `<details>`, cut to fit GitHub's limit with a note about what was left out."""
    kept, size = [], 0
    for index, line in enumerate(lines):
        if size + len(line) + 1 > budget:
            kept.append(f"\n… {len(lines) - index} more line(s) not shown; every finding is an annotation "
                        "on the check run.")
            break
        kept.append(line)
        size += len(line) + 1
    body = "\n".join(kept)
    return f"<details><summary>{title}</summary>\n\n{body}\n\n</details>"


def validation_comment(sha: str, findings: Sequence[Finding], plan: Sequence[Affected],
                       estimated_bytes: int | None, structural_only: bool) -> str:
    ok = not any(f.is_error for f in findings)
    head = f"### {'✅' if ok else '❌'} jetstream validation of {_short(sha)}: {_count(findings)}"
    parts = [MARKER, head, ""]
    if structural_only:
        parts += ["_This pull request comes from a fork: structural checks only, no SQL dry run._", ""]
    if findings:
        table = findings_table(findings)
        if sum(len(line) + 1 for line in table) > _BUDGET // 2:
            parts.append(fold(f"{len(findings)} findings", table, _BUDGET // 2))
        else:
            parts += table
        parts.append("")
    parts += plan_lines(plan, estimated_bytes)
    return "\n".join(parts) + "\n"


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
        parts += table if len("\n".join(table)) < _BUDGET else [fold(f"{len(rows)} experiments", table)]
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


def check_summary(findings: Sequence[Finding], plan: Sequence[Affected]) -> tuple[str, str]:
    """(title, summary) for the validate check run."""
    title = f"{_count(findings)}" if findings else "All configs valid"
    summary = "\n".join(plan_lines(plan, None))
    return title, summary


def reanalysis_summary(rows: Sequence[ReanalysisRow]) -> tuple[str, str, bool]:
    """(title, summary, finished) for the reanalysis check run."""
    done = [r for r in rows if r.status not in ("queued", "running")]
    failed = [r for r in rows if r.status == "failed"]
    title = f"{len(done)}/{len(rows)} experiments re-analysed" + (f", {len(failed)} failed" if failed else "")
    summary = "\n".join(f"- {escape(r.slug)}: {escape(r.status)}" for r in rows) or "Nothing to re-analyse."
    return title, summary, len(done) == len(rows)

