"""Structural mutations of real configs (the shared corpus) for the fuzz test and its bench:
deep nesting, huge arrays, template recursion, deep SQL, junk bytes. Each is a pure function
(text, position in [0, 1), size in [0, 1)) -> bytes, so hypothesis and a seeded bench drive the
same code."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "metric-hub"
_SELECT = re.compile(r'(select_expression\s*=\s*)("""|"|\'\'\'|\')')
_LIST = re.compile(r"^(\s*(?:weekly|overall|daily|segments|outcomes)\s*=\s*)\[", re.M)


def corpus_configs(limit: int | None = None) -> list[Path]:
    paths = sorted((CORPUS / "jetstream").glob("*.toml"))
    return paths[:limit] if limit else paths


def _at_line(text: str, position: float, insert: str) -> str:
    lines = text.split("\n")
    index = int(position * (len(lines) + 1))
    return "\n".join(lines[:index] + [insert] + lines[index:])


def _in_select(text: str, position: float, fragment: str) -> str:
    matches = list(_SELECT.finditer(text))
    if not matches:
        return text + f'\n[metrics.fuzz]\nselect_expression = """{fragment}"""\n'
    match = matches[int(position * len(matches))]
    return text[:match.end()] + fragment + text[match.end():]


def deep_array(text: str, position: float, size: float) -> bytes:
    depth = 10 + int(size * 30000)
    return _at_line(text, position, "fuzz_deep = " + "[" * depth + "]" * depth).encode()


def deep_table(text: str, position: float, size: float) -> bytes:
    depth = 10 + int(size * 5000)
    return _at_line(text, position, "fuzz_deep = " + "{a=" * depth + "1" + "}" * depth).encode()


def huge_array(text: str, position: float, size: float) -> bytes:
    items = ", ".join(['"m%d"' % (i % 50) for i in range(10 + int(size * 100000))])
    mutated, count = _LIST.subn(lambda m: m.group(1) + "[" + items + ", ", text, count=1)
    return (mutated if count else text + f"\n[metrics]\nweekly = [{items}]\n").encode()


def template_recursion(text: str, position: float, size: float) -> bytes:
    fragment = ("{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}" if size < 0.5 else
                "{% if true %}" * (50 + int(size * 3000)) + "{% endif %}" * (50 + int(size * 3000)))
    return _in_select(text, position, fragment).encode()


def template_loop(text: str, position: float, size: float) -> bytes:
    n = 10 + int(size * 100000)
    return _in_select(text, position, "{%% for i in range(%d) %%}{%% for j in range(%d) %%}{%% endfor %%}"
                      "{%% endfor %%}" % (n, n)).encode()


def deep_sql(text: str, position: float, size: float) -> bytes:
    depth = 50 + int(size * 50000)
    return _in_select(text, position, "(" * depth + "1" + ")" * depth).encode()


def junk_bytes(text: str, position: float, size: float) -> bytes:
    raw = text.encode()
    at = int(position * len(raw))
    junk = bytes((at * 7 + i * 31) % 256 for i in range(1 + int(size * 64)))
    return raw[:at] + junk + raw[at:]


def truncated(text: str, position: float, size: float) -> bytes:
    return text.encode()[: int(position * len(text.encode()))]


MUTATIONS: dict[str, Callable[[str, float, float], bytes]] = {
    f.__name__: f for f in (deep_array, deep_table, huge_array, template_recursion, template_loop,
                            deep_sql, junk_bytes, truncated)}
