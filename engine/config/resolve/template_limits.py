"""Jinja for hostile templates: a sandbox with explicit bounds on time, output, work and nesting.

Select expressions, enrollment queries and exposure signals come from pull requests, so every
render runs under a `Budget` (per render, per thread): a deadline, a number of steps (every loop
iteration and every call), a call depth (macro and recursive-loop recursion) and an output size.
Operators and filters that amplify sizes (`*`, `**`, `+`, `%`, `center`, `join`, ...) are checked
before they run, so a string bomb is refused instead of allocated. Nesting is checked on the
token stream before Jinja's recursive parser and Python's compiler see the template (2,000
nested `{% if %}` overflow the one, 100 overflow the other's indentation limit). Every bound that
trips raises `TemplateLimit`, which the resolver reports as a `template-limit` finding.
"""
from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_TEMPLATE_CHARS = 100_000  # the template text itself
MAX_OUTPUT_CHARS = 200_000  # the rendered SQL; no real fragment comes near
MAX_STEPS = 100_000  # loop iterations + calls per render
MAX_CALL_DEPTH = 30  # nested macro calls / recursive loops
MAX_NESTING = 30  # nested block tags or brackets in the template text
MAX_SECONDS = 2.0  # wall time per render
MAX_ARGUMENT = 10_000  # integers handed to width-like filters and methods

_OPENING_BLOCKS = frozenset({"if", "for", "macro", "call", "filter", "with", "block",
                             "autoescape", "set_block"})
_CLOSING_BLOCKS = frozenset(f"end{name}" for name in _OPENING_BLOCKS)
_OPEN_BRACKETS, _CLOSE_BRACKETS = frozenset("([{"), frozenset(")]}")
_BOUNDED_FILTER = "jetstream_bounded_iteration"
# Filters a SQL fragment may use (none of the corpus uses any); all are size-checked.
_FILTERS = ("lower", "upper", "trim", "string", "int", "float", "length", "count", "default", "d",
            "first", "last", "join", "replace", "title", "capitalize", "abs", "round", "list",
            "sort", "unique", "reverse", "e", "escape", "safe", "tojson")
_STR_METHODS = frozenset({"lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith",
                          "split", "title", "capitalize", "replace", "join", "isdigit", "isalpha"})


class TemplateLimit(Exception):
    """A template went past one of the bounds; the message says which."""


@dataclass
class Budget:
    deadline: float
    steps: int = 0
    depth: int = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateLimit(f"the template does more than {MAX_STEPS:,} loop iterations and calls")
        if time.monotonic() > self.deadline:
            raise TemplateLimit(f"the template takes longer than {MAX_SECONDS:g} s to render")


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("template_budget", default=None)


def _budget() -> Budget:
    """The current render's budget; outside a render (Jinja folding a constant filter call at
    compile time) a fresh one, never kept: a stale deadline would fail later compiles."""
    budget = _BUDGET.get()
    return budget if budget is not None else Budget(time.monotonic() + MAX_SECONDS)


def size_of(value: Any, limit: int = MAX_OUTPUT_CHARS) -> int:
    """Characters (or items) of `value`, counted until `limit` is passed."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        total = len(value)
        for item in value:
            if total > limit:
                break
            total += size_of(item, limit - total) if isinstance(item, (str, list, tuple)) else 0
        return total
    return 1


def _refuse_big(what: str, size: int) -> None:
    if size > MAX_OUTPUT_CHARS:
        raise TemplateLimit(f"{what} would produce more than {MAX_OUTPUT_CHARS:,} characters")


def _check_arguments(what: str, args: Iterable[Any]) -> None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_ARGUMENT:
            raise TemplateLimit(f"{what} is given {arg}, more than {MAX_ARGUMENT:,}")
        _refuse_big(what, size_of(arg))


def _replace_size(text: Any, old: Any, new: Any) -> int:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        return len(text) + (len(text) // max(len(old), 1) + 1) * len(new)
    return 0


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _budget().step()
        values = [a for a in args if not hasattr(a, "environment")]  # skip the context/env
        _check_arguments(f"filter {name!r}", [*values, *kwargs.values()])
        if name == "replace" and len(values) >= 3:
            _refuse_big("filter 'replace'", _replace_size(*values[:3]))
        result = function(*args, **kwargs)
        _refuse_big(f"filter {name!r}", size_of(result))
        return result
    for attribute in ("jinja_pass_arg",):  # keep how Jinja passes the context/environment
        if hasattr(function, attribute):
            setattr(bounded, attribute, getattr(function, attribute))
    return bounded


def _bounded_iteration(iterable: Any) -> Iterator[Any]:
    budget = _budget()
    for item in iterable:
        budget.step()
        yield item


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with size checks on operators, calls and filters, and a step budget."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bounded_filter(name, self.filters[name]) for name in _FILTERS}
        self.filters[_BOUNDED_FILTER] = _bounded_iteration

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr not in _STR_METHODS:  # str.format & co. allocate freely
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if super().wrap_str_format(value) is not None:  # a width in the spec allocates freely
            raise TemplateLimit("str.format is not allowed in templates")
        return None

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _budget().step()
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > 64 or size_of(left) > 1:
                raise TemplateLimit("the template raises to a power above 64")
        elif operator == "*":
            sized = [(a, b) for a, b in ((left, right), (right, left))
                     if isinstance(a, (str, list, tuple)) and isinstance(b, int)]
            if sized:
                _refuse_big("a repetition", size_of(sized[0][0]) * max(sized[0][1], 0))
        elif operator == "+":
            _refuse_big("a concatenation", size_of(left) + size_of(right))
        elif operator == "%" and isinstance(left, str):
            raise TemplateLimit("printf-style formatting is not allowed in templates")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = _budget()
        budget.step()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            if getattr(__obj, "__name__", "") == "replace" and len(args) >= 2:
                _refuse_big("str.replace", _replace_size(owner, args[0], args[1]))
        _check_arguments("a call", [*args, *kwargs.values()])
        if budget.depth >= MAX_CALL_DEPTH:
            raise TemplateLimit(f"calls nest deeper than {MAX_CALL_DEPTH} (recursion)")
        budget.depth += 1
        try:
            result = super().call(__context, __obj, *args, **kwargs)
        finally:
            budget.depth -= 1
        _refuse_big("a call", size_of(result))
        return result


def check_nesting(env: BoundedEnvironment, source: str) -> None:
    """Refuse templates too long or nested too deeply, from the (iterative) lexer's tokens."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateLimit(f"the template is longer than {MAX_TEMPLATE_CHARS:,} characters")
    depth = 0
    expect_name = False
    for _, kind, value in env.lex(source):
        if kind == "whitespace":
            continue
        if kind == "block_begin":
            expect_name = True
            continue
        if expect_name:
            expect_name = False
            if value in _OPENING_BLOCKS:
                depth += 1
            elif value in _CLOSING_BLOCKS:
                depth = max(depth - 1, 0)
        elif kind == "operator" and value in _OPEN_BRACKETS:
            depth += 1
        elif kind == "operator" and value in _CLOSE_BRACKETS:
            depth = max(depth - 1, 0)
        if depth > MAX_NESTING:
            raise TemplateLimit(f"the template nests blocks or brackets deeper than {MAX_NESTING}")


def bound_loops(tree: nodes.Template) -> nodes.Template:
    """Every `{% for %}` iterates through the step budget."""
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _BOUNDED_FILTER, [], [], None, None, lineno=loop.lineno)
    return tree


def render_bounded(template: Any, names: dict[str, Any]) -> str:
    """Render a compiled template under a fresh budget; TemplateLimit when a bound trips."""
    token = _BUDGET.set(Budget(time.monotonic() + MAX_SECONDS))
    try:
        size, parts = 0, []
        for chunk in template.generate(**names):
            size += len(chunk)
            _refuse_big("the template", size)
            parts.append(chunk)
        return "".join(parts)
    except (RecursionError, MemoryError) as error:
        raise TemplateLimit(f"the template exhausts the renderer ({type(error).__name__})") from None
    finally:
        _BUDGET.reset(token)
