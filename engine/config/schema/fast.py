"""A fast yes/no pre-check of a parsed document against its JSON Schema.

jsonschema is exact but walks every value through generic keyword dispatch and `$ref`
resolution; most config files have nothing to report. `compile_check(schema)` turns the part of
JSON Schema our schemas use into nested closures that answer only "certainly valid". Whatever it
does not model (a keyword, an integral float, a non-string `enum`/`const` value) answers False,
and the caller runs jsonschema for the exact errors: a wrong False costs time, never output.

It reads the frozen document data as parsed (mappings, tuples, TOML dates) the way the structure
check's jsonschema run sees it after `thaw` and dates-as-ISO-strings.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

Check = Callable[[Any], bool]

_MAPPINGS = (dict, MappingProxyType)
_ARRAYS = (list, tuple)
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "title", "description",
                          "default", "examples", "format"})  # format: no format checker is used
_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, _MAPPINGS),
    "array": lambda v: isinstance(v, _ARRAYS),
    "string": lambda v: isinstance(v, (str, dt.date, dt.time)),  # TOML dates are checked as text
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
_BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "minimum": lambda v, b: v >= b, "maximum": lambda v, b: v <= b,
    "exclusiveMinimum": lambda v, b: v > b, "exclusiveMaximum": lambda v, b: v < b,
}


class _Unsupported(Exception):
    """The schema uses something this pre-check does not model."""


def compile_check(schema: Mapping[str, Any]) -> Check | None:
    """A function telling whether a document certainly satisfies `schema` (None: unsupported)."""
    definitions = schema.get("$defs", {})
    compiled: dict[str, Check] = {}

    def reference(target: str) -> Check:
        name = target.removeprefix("#/$defs/")
        if name == target or "/" in name or name not in definitions:
            raise _Unsupported(target)
        if name not in compiled:
            compiled[name] = _never  # placeholder while a recursive definition compiles
            compiled[name] = build(definitions[name])
        return lambda value: compiled[name](value)

    def build(node: Any) -> Check:
        if node is True or node == {}:
            return _always
        if node is False:
            return _never
        if not isinstance(node, Mapping):
            raise _Unsupported(repr(node))
        checks = [_keyword(key, arg, node, build) for key, arg in node.items()
                  if key not in _ANNOTATIONS and not key.startswith("x-")
                  and key not in ("then", "else", "additionalProperties")]
        if "$ref" in node:
            checks.append(reference(node["$ref"]))
        if "additionalProperties" in node or "properties" in node:
            checks.append(_properties(node, build))
        checks = [c for c in checks if c is not _always]
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]
        return lambda value: all(check(value) for check in checks)

    try:
        return build(schema)
    except _Unsupported:
        return None


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def _keyword(key: str, arg: Any, node: Mapping[str, Any], build: Callable[[Any], Check]) -> Check:
    if key in ("$ref", "properties"):
        return _always  # handled by the caller
    if key == "type":
        names = [arg] if isinstance(arg, str) else list(arg)
        if any(n not in _TYPES for n in names):
            raise _Unsupported(f"type {arg!r}")
        tests = [_TYPES[n] for n in names]
        return tests[0] if len(tests) == 1 else (lambda value: any(t(value) for t in tests))
    if key == "required":
        keys = tuple(arg)
        return lambda value: not isinstance(value, _MAPPINGS) or all(k in value for k in keys)
    if key in ("enum", "const"):
        options = list(arg) if key == "enum" else [arg]
        if not all(isinstance(o, str) for o in options):
            raise _Unsupported(f"{key} of non-strings")
        allowed = frozenset(options)
        return lambda value: type(value) is str and value in allowed
    if key in _BOUNDS:
        compare, bound = _BOUNDS[key], arg
        return lambda value: (not isinstance(value, (int, float)) or isinstance(value, bool)
                              or compare(value, bound))
    if key == "items":
        item = build(arg)
        return lambda value: not isinstance(value, _ARRAYS) or all(item(v) for v in value)
    if key == "allOf":
        parts = [build(part) for part in arg]
        return lambda value: all(part(value) for part in parts)
    if key == "if":
        condition, then, otherwise = build(arg), build(node.get("then", True)), build(node.get("else", True))
        return lambda value: then(value) if condition(value) else otherwise(value)
    raise _Unsupported(key)


def _properties(node: Mapping[str, Any], build: Callable[[Any], Check]) -> Check:
    known = {name: build(sub) for name, sub in node.get("properties", {}).items()}
    extra = node.get("additionalProperties", True)
    other = None if extra is False else build(extra)

    def check(value: Any) -> bool:
        if not isinstance(value, _MAPPINGS):
            return True
        for key, item in value.items():
            test = known.get(key, other)
            if test is None or not test(item):
                return False
        return True
    return check
