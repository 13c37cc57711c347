"""Findings rendered for people (text), programs (json) and GitHub Actions (annotations)."""
from __future__ import annotations

import json
from typing import Iterable

from engine.findings import Finding, Severity

FORMATS = ("text", "json", "github")
_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "notice"}


def format_text(finding: Finding) -> str:
    where = ":".join(str(p) for p in (finding.path, finding.line, finding.column) if p is not None)
    hint = f" ({finding.hint})" if finding.hint else ""
    return f"{where}: {finding.severity.value} {finding.code}: {finding.message}{hint}"


def summary(findings: Iterable[Finding], experiments: int, passed: int, files: int) -> str:
    findings = list(findings)
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = sum(f.severity is Severity.WARNING for f in findings)
    return (f"{files} file(s) checked; {passed}/{experiments} experiment config(s) resolve; "
            f"{errors} error(s), {warnings} warning(s)")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(finding: Finding) -> str:
    """A workflow command: ::error file=...,line=...,col=...,title=...::message."""
    props = [f"file={_escape_property(finding.path)}"]
    if finding.line is not None:
        props.append(f"line={finding.line}")
    if finding.column is not None:
        props.append(f"col={finding.column}")
    props.append(f"title={_escape_property(finding.code)}")
    message = finding.message + (f" ({finding.hint})" if finding.hint else "")
    return f"::{_GITHUB_LEVEL[finding.severity]} {','.join(props)}::{_escape_data(message)}"


def render(findings: Iterable[Finding], fmt: str) -> str:
    findings = list(findings)
    if fmt == "json":
        return json.dumps([f.to_dict() for f in findings], indent=2)
    formatter = format_github if fmt == "github" else format_text
    return "\n".join(formatter(f) for f in findings)
