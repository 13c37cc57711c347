"""Structural check of one Document against its kind's JSON Schema, as findings.

Codes: `unknown-key` (warning: upstream silently ignores the key, so nothing breaks but the
author's intent is lost), `unknown-statistic`, `unknown-parameter`, `unknown-pre-treatment`,
`wrong-type`, `missing-key`, `bad-value` (errors). Every finding sits on the line of the
offending key (or of its table when a key is missing). Most files have nothing to report: a
compiled yes/no pre-check (`engine.config.schema.fast`) clears those, and only the others pay
for jsonschema's exact errors.
"""
from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any, Iterable

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from engine.config.load import Document, thaw
from engine.config.schema.build import KINDS, PERIOD_KEYS, cached_schema
from engine.config.schema.fast import Check, compile_check
from engine.config.schema.hints import close_match, typo_of, unknown_key_hint
from engine.findings import Finding, Severity


@lru_cache(maxsize=None)
def _validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(cached_schema(kind))


@lru_cache(maxsize=None)
def _certainly_valid(kind: str) -> Check:
    return compile_check(cached_schema(kind)) or (lambda data: False)


def check_structure(doc: Document, kind: str) -> list[Finding]:
    """Findings for structure problems in `doc`, a file of `kind` (see schema_build.KINDS).

    A document that failed to parse has no data; its own findings already say why.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown config kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not doc.ok or _certainly_valid(kind)(doc.data):
        return []
    errors = list(_validator(kind).iter_errors(_jsonable(thaw(doc.data))))
    # a value of the wrong type fails its other constraints too; report only the type
    mistyped = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    findings: set[Finding] = set()
    for error in errors:
        if error.validator != "type" and tuple(error.absolute_path) in mistyped:
            continue
        findings.update(_findings(doc, error))
    return sorted(findings, key=lambda f: (f.line or 0, f.code, f.message))


def _jsonable(value: Any) -> Any:
    """TOML dates and times as ISO strings: upstream reads them as the strings they spell
    (date semantics are checked by engine.config.resolve.dates)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date
        return value.isoformat()
    return value


def _findings(doc: Document, error: ValidationError) -> Iterable[Finding]:
    path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        yield from _unknown_keys(doc, path, schema, error.instance)
    elif error.validator == "required":
        missing = [k for k in schema.get("required", []) if k not in error.instance]
        for key in missing:
            yield doc.finding(path, "missing-key",
                              f"{_table_name(path, schema)} is missing required key `{key}`")
    elif error.validator == "type":
        yield _wrong_type(doc, path, error)
    else:
        yield _bad_value(doc, path, schema, error)


def _unknown_keys(doc: Document, path: tuple, schema: dict, instance: Any) -> Iterable[Finding]:
    known = schema.get("properties", {})
    unknown = schema.get("x-unknown", {})
    code = unknown.get("code", "unknown-key")
    severity = Severity(unknown.get("severity", Severity.WARNING.value))
    title = schema.get("title", "")
    where = f"[{_display(path)}]" if path else "the top level"
    typo_severity = unknown.get("typo")
    for key in instance:
        if key in known:
            continue
        key_path = path + (key,)
        if code == "unknown-key":
            message = f"unknown key `{key}` in {where} is ignored"
            hint = unknown_key_hint(key, title, known)
            if hint and isinstance(instance.get("data_source"), str):
                hint = hint.replace("<ds>", instance["data_source"])
            if typo_severity and typo_of(key, title, known):  # the setting it names is dropped
                message = f"unknown key `{key}` in {where}: its setting would be silently dropped"
                yield _at_key(doc, key_path, Severity(typo_severity), code, message, hint)
                continue
        else:
            noun = code.removeprefix("unknown-").replace("-", " ")
            message = f"unknown {noun} `{key}` in {where}"
            hint = _plugin_hint(key, title, list(known))
        yield _at_key(doc, key_path, severity, code, message, hint)


def _plugin_hint(key: str, title: str, known: list[str]) -> str:
    names = [k for k in known if k not in ("name", "pre_treatments")]
    match = close_match(key, names)
    if match:
        return f"did you mean `{match}`?"
    if not names:
        return f"{title} takes no parameters"
    return f"allowed: {', '.join(sorted(names))}"


def _wrong_type(doc: Document, path: tuple, error: ValidationError) -> Finding:
    expected = error.validator_value
    expected = [expected] if isinstance(expected, str) else list(expected)
    wanted = " or ".join(_TYPE_WORDS.get(t, t) for t in expected)
    actual = _toml_type(error.instance)
    hint = None
    if len(path) == 2 and path[0] == "metrics" and isinstance(error.instance, list):
        period = close_match(str(path[1]), PERIOD_KEYS, cutoff=0.6)
        hint = (f"did you mean the period `{period}`?" if period
                else f"period lists are: {', '.join(PERIOD_KEYS)}")
    return _at_key(doc, path, Severity.ERROR, "wrong-type",
                   f"`{_display(path)}` must be {wanted}, not {actual}", hint)


def _bad_value(doc: Document, path: tuple, schema: dict, error: ValidationError) -> Finding:
    code = schema.get("x-code", "bad-value")
    value = error.instance
    if error.validator in ("enum", "const"):
        allowed = error.validator_value if error.validator == "enum" else [error.validator_value]
        if code == "unknown-pre-treatment":
            entry = path[:-1] if path and path[-1] == "name" else path
            message = f"unknown pre-treatment `{value}` in {_display(entry)}"
        else:
            message = f"`{_display(path)}` = {value!r} is not one of the allowed values"
        match = close_match(str(value), [str(a) for a in allowed], cutoff=0.6)
        hint = f"did you mean `{match}`?" if match else f"allowed: {', '.join(map(str, allowed))}"
        return _at_key(doc, path, Severity.ERROR, code, message, hint)
    return _at_key(doc, path, Severity.ERROR, code, f"`{_display(path)}`: {error.message}")


def _at_key(doc: Document, key_path: tuple, severity: Severity, code: str, message: str,
            hint: str | None = None) -> Finding:
    line = doc.line_of(key_path)
    return Finding(doc.path, line, _column(doc, line, key_path), severity, code, message, hint)


def _column(doc: Document, line: int | None, key_path: tuple) -> int | None:
    """1-based column of the key's last part on its line, when it appears there."""
    if not line or not key_path:
        return None
    lines = doc.text.splitlines()
    if line > len(lines):
        return None
    for part in reversed(key_path):
        if isinstance(part, str):
            token = re.search(rf"(?<![\w-]){re.escape(part)}(?![\w-])", lines[line - 1])
            return token.start() + 1 if token else None
    return None


def _display(path: tuple) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            bare = part.replace("_", "").replace("-", "").isalnum()
            text += ("." if text else "") + (part if bare else f'"{part}"')
    return text


def _table_name(path: tuple, schema: dict) -> str:
    return f"[{_display(path)}]" if path else schema.get("title", "the file")


_TYPE_WORDS = {"object": "a table", "array": "an array", "string": "a string",
               "integer": "an integer", "number": "a number", "boolean": "true or false"}


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
