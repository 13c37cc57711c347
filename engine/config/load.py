"""Load TOML files into Documents: parsed data plus a key-path -> line map.

tomli gives no positions, so a small scanner walks the text once and records the line of every
table header and key. Every later finding points at a line through `Document.line_of`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import tomli

from engine.findings import Finding, Severity

MAX_CONFIG_BYTES = 1_000_000  # no real config comes near; larger files are refused, not parsed

KeyPath = tuple[str, ...]

_BARE_KEY = r"[A-Za-z0-9_-]+"
_QUOTED_KEY = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_KEY_PART = rf"(?:{_BARE_KEY}|{_QUOTED_KEY})"
_DOTTED_KEY = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_HEADER_RE = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED_KEY})\s*\]\]?\s*(?:#.*)?$")
_KEY_RE = re.compile(rf"^\s*({_DOTTED_KEY})\s*=")
_PART_RE = re.compile(_KEY_PART)
_BARE_DOTTED_RE = re.compile(rf"{_BARE_KEY}(?:\s*\.\s*{_BARE_KEY})*")
_BRACKETS_RE = re.compile(r"[\[\]{}]")
_TOML_ERROR_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def split_dotted_key(text: str) -> KeyPath:
    if _BARE_DOTTED_RE.fullmatch(text):  # the common case: no quoted parts
        return tuple(part.strip() for part in text.split("."))
    parts = []
    for match in _PART_RE.finditer(text):
        part = match.group(0)
        if part[0] in "\"'":
            part = part[1:-1]
            if match.group(0)[0] == '"':
                part = part.encode("utf-8").decode("unicode_escape") if "\\" in part else part
        parts.append(part)
    return tuple(parts)


@dataclass(frozen=True)
class Document:
    """One parsed TOML file. `data` is read-only; `lines` maps key paths to 1-based lines."""

    path: str
    text: str
    data: Mapping[str, Any]
    lines: Mapping[KeyPath, int] = field(repr=False)
    findings: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(f.is_error for f in self.findings)

    def line_of(self, key_path: KeyPath | list) -> int | None:
        """Line of a key path, or of its nearest ancestor that appears in the text."""
        if type(key_path) is tuple and key_path in self.lines:  # the common case: a written key
            return self.lines[key_path]
        path = tuple(str(p) for p in key_path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 1 if self.text else None

    def finding(
        self,
        key_path: KeyPath | list,
        code: str,
        message: str,
        hint: str | None = None,
        severity: Severity = Severity.ERROR,
        column: int | None = None,
    ) -> Finding:
        return Finding(self.path, self.line_of(key_path), column, severity, code, message, hint)


def _line_map(text: str) -> dict[KeyPath, int]:
    """Key path -> line for headers and keys, skipping multi-line strings and arrays."""
    lines: dict[KeyPath, int] = {}
    implicit: dict[KeyPath, int] = {}  # super-tables created by a deeper header, e.g. [a] by [a.b]
    table: KeyPath = ()
    array_counts: dict[KeyPath, int] = {}
    in_string: str | None = None
    bracket_depth = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw
        if in_string:
            if in_string in line:
                line = line.split(in_string, 1)[1]
                in_string = None
            else:
                continue
        if bracket_depth > 0:
            bracket_depth += _bracket_delta(line)
            continue
        header = _HEADER_RE.match(line)
        if header:
            table = split_dotted_key(header.group(2))
            for depth in range(1, len(table)):
                implicit.setdefault(table[:depth], number)
            if header.group(1) == "[[":
                index = array_counts.get(table, 0)
                array_counts[table] = index + 1
                lines.setdefault(table, number)
                table = table + (str(index),)
            lines.setdefault(table, number)
            continue
        key = _KEY_RE.match(line)
        if key:
            full = table + split_dotted_key(key.group(1))
            for depth in range(len(table) + 1, len(full) + 1):
                lines.setdefault(full[:depth], number)
            value = line[key.end():]
            in_string = _opens_multiline_string(value)
            if not in_string:
                bracket_depth = max(0, _bracket_delta(value))
    return {**implicit, **lines}


def _opens_multiline_string(value: str) -> str | None:
    for quote in ('"""', "'''"):
        stripped = value.strip()
        if stripped.startswith(quote) and stripped.count(quote) == 1:
            return quote
    return None


def _bracket_delta(text: str) -> int:
    """Net count of open [ / { outside strings and comments on one line."""
    if not _BRACKETS_RE.search(text):
        return 0
    depth = 0
    quote: str | None = None
    escaped = False
    for char in text:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
            continue
        if char in "\"'":
            quote = char
        elif char == "#":
            break
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
    return depth


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def parse_document(path: str, raw: bytes) -> Document:
    """Parse raw bytes; never raises. Problems become findings on an empty document."""
    empty = MappingProxyType({})
    if len(raw) > MAX_CONFIG_BYTES:
        return Document(path, "", empty, {}, (Finding(
            path, 1, None, Severity.ERROR, "file-too-large",
            f"file is {len(raw):,} bytes; configs are limited to {MAX_CONFIG_BYTES:,}",
            "split it or remove generated content"),))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        return Document(path, "", empty, {}, (Finding(
            path, line, None, Severity.ERROR, "not-utf8",
            f"file is not valid UTF-8 (byte {error.start})", "TOML files must be UTF-8 text"),))
    if "\x00" in text:
        return Document(path, "", empty, {}, (Finding(
            path, text[: text.index("\x00")].count("\n") + 1, None, Severity.ERROR,
            "binary-file", "file contains NUL bytes; it is not a TOML text file"),))
    try:
        data = tomli.loads(text)
    except tomli.TOMLDecodeError as error:
        message = str(error)
        position = _TOML_ERROR_POS.search(message)
        line, column = (int(position.group(1)), int(position.group(2))) if position else (None, None)
        message = _TOML_ERROR_POS.sub("", message).strip()
        return Document(path, text, empty, {}, (Finding(
            path, line, column, Severity.ERROR, "toml-syntax", f"invalid TOML: {message}"),))
    except RecursionError:
        return Document(path, text, empty, {}, (Finding(
            path, 1, None, Severity.ERROR, "toml-syntax", "invalid TOML: nesting too deep"),))
    findings: tuple[Finding, ...] = ()
    if not text.strip():
        findings = (Finding(path, 1, None, Severity.WARNING, "empty-file", "file is empty"),)
    return Document(path, text, _freeze(data), MappingProxyType(_line_map(text)), findings)


def load_document(path: Path | str, display_path: str | None = None) -> Document:
    path = Path(path)
    shown = display_path or str(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        return Document(shown, "", MappingProxyType({}), {}, (Finding(
            shown, None, None, Severity.ERROR, "unreadable", f"cannot read file: {error.strerror}"),))
    return parse_document(shown, raw)


def thaw(value: Any) -> Any:
    """Plain dict/list copy of frozen document data (for jsonschema and merging)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value
