"""Rendering of templated SQL fragments, as upstream writes them.

* select expressions, enrollment queries and exposure signals are Jinja templates (sandboxed,
  StrictUndefined) with function globals from functions.toml (`{{agg_sum("x")}}` -> the
  function's definition with `{select_expr}` replaced), `parameters` and `experiment`.
* data-source `from_expression`s follow upstream's Python-format convention: `{dataset}` is the
  data source's dataset, `{{`/`}}` are literal braces; `{{experiment.<field>}}` is also filled in.
* A parameter with `distinct_by_branch` becomes a SQL `CASE` over the branch column.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import jinja2
import sqlglot
from sqlglot import exp

from engine.config.resolve.sql_syntax import limit_error
from engine.config.resolve.template_limits import (
    BoundedEnvironment,
    TemplateLimit,
    bound_loops,
    check_nesting,
    render_bounded,
)

# Column holding each client's branch in the metric queries (enrollments aliased `e`).
BRANCH_COLUMN = ("e", "branch")
_SENTINEL = "__jetstream_param_{}__"
_SENTINEL_RE = re.compile(r"__jetstream_param_(\w+?)__")
_SELECT_EXPR_RE = re.compile(r"\{select_expr\}")
_SOURCE_TOKEN_RE = re.compile(r"\{\{\s*experiment\.(\w+)\s*\}\}|\{\{|\}\}|\{dataset\}")



class TemplateError(Exception):
    """A template that does not render; `line` is 1-based within the template text; `code` is
    the finding's code (`template-limit` when a bound of the sandbox tripped)."""

    def __init__(self, message: str, line: int | None = None, code: str = "template-error") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.code = code


class _Parameters(dict):
    """The `parameters` of a template (a dict Jinja reads as `parameters.<name>`)."""


class _Undefined(jinja2.StrictUndefined):
    """Undefined names say what is defined instead of Jinja's internals ('dict object' ...)."""

    @property
    def _undefined_message(self) -> str:
        owner, name = self._undefined_obj, self._undefined_name
        if isinstance(owner, _Parameters):
            defined = ", ".join(sorted(owner)) or "none"
            return f"parameter {name!r} is not defined (defined parameters: {defined})"
        if isinstance(owner, ExperimentView):
            return (f"experiment has no field {name!r} (fields: "
                    f"{', '.join(sorted(EXPERIMENT_FIELDS))})")
        return super()._undefined_message


_ENV = BoundedEnvironment(undefined=_Undefined, autoescape=False, keep_trailing_newline=True)


@dataclass(frozen=True)
class ExperimentView:
    """What templates may read as `experiment.<field>`."""

    normandy_slug: str
    experimenter_slug: str
    start_date: dt.date
    end_date: dt.date | None
    enrollment_period: int
    reference_branch: str | None
    app_name: str
    app_id: str | None
    branches: tuple[str, ...]
    sample_size: int | None
    analysis_unit: str

    @property
    def start_date_str(self) -> str:
        return self.start_date.isoformat()

    @property
    def end_date_str(self) -> str | None:
        return self.end_date.isoformat() if self.end_date else None

    @property
    def last_enrollment_date(self) -> dt.date:
        return self.start_date + dt.timedelta(days=max(self.enrollment_period, 1) - 1)

    @property
    def last_enrollment_date_str(self) -> str:
        return self.last_enrollment_date.isoformat()


@dataclass(frozen=True)
class BranchValues:
    """A parameter value that differs per branch (`distinct_by_branch = true`)."""

    values: Mapping[str, Any]


@dataclass(frozen=True)
class TemplateContext:
    experiment: ExperimentView
    functions: Mapping[str, str]  # name -> definition with `{select_expr}`
    parameters: Mapping[str, Any]  # name -> value, or BranchValues

    def jinja_globals(self) -> dict[str, Any]:
        names: dict[str, Any] = {name: _function(defn) for name, defn in self.functions.items()}
        names["parameters"] = _Parameters({
            name: (_SENTINEL.format(name) if isinstance(v, BranchValues) else v)
            for name, v in self.parameters.items()})
        names["experiment"] = self.experiment
        return names


def _function(definition: str) -> Callable[[str], str]:
    def call(select_expr: Any) -> str:
        return _SELECT_EXPR_RE.sub(lambda _: str(select_expr), definition)
    return call


@functools.lru_cache(maxsize=8192)
def _compile(template: str) -> jinja2.Template:
    """Nesting checked on the tokens, loops bounded, then compiled (TemplateLimit if too big)."""
    check_nesting(_ENV, template)
    try:
        return _ENV.from_string(bound_loops(_ENV.parse(template)))
    except (RecursionError, MemoryError) as error:
        raise TemplateLimit(f"the template exhausts the compiler ({type(error).__name__})") from None


def render_sql(template: str, context: TemplateContext) -> str:
    """Render a Jinja SQL fragment; raises TemplateError with the template line on failure."""
    if "{" not in template:
        return template
    try:
        rendered = render_bounded(_compile(template), context.jinja_globals())
    except TemplateLimit as error:
        raise TemplateError(f"template exceeds a limit: {error}", code="template-limit") from None
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(f"template syntax error: {error.message}", error.lineno) from None
    except jinja2.UndefinedError as error:
        raise TemplateError(f"template refers to something undefined: {error.message}") from None
    except Exception as error:  # noqa: BLE001 - hostile content: any failure is a finding
        raise TemplateError(f"template does not render: {type(error).__name__}: {error}") from None
    if _SENTINEL_RE.search(rendered):
        rendered = _substitute_branch_values(rendered, context)
    return rendered


def render_source(text: str, experiment: ExperimentView, dataset: str | None) -> str:
    """Render a from_expression (Python-format convention plus `{{experiment.<field>}}`)."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if match.group(1):
            field = match.group(1)
            value = getattr(experiment, field, _MISSING) if field in EXPERIMENT_FIELDS else _MISSING
            if value is _MISSING:
                raise TemplateError(f"experiment has no field {match.group(1)!r}",
                                    text[: match.start()].count("\n") + 1)
            return "" if value is None else str(value)
        if token == "{dataset}":
            if dataset is None:
                raise TemplateError("from_expression uses {dataset} but no default_dataset is set",
                                    text[: match.start()].count("\n") + 1)
            return dataset
        return token[0]
    return _SOURCE_TOKEN_RE.sub(replace, text)


_MISSING = object()
EXPERIMENT_FIELDS = frozenset({*ExperimentView.__dataclass_fields__, "start_date_str", "end_date_str",
                               "last_enrollment_date", "last_enrollment_date_str"})


def _branch_case(values: Mapping[str, Any], value_of: Callable[[Any], exp.Expression]) -> exp.Case:
    case = exp.Case()
    branch = exp.column(BRANCH_COLUMN[1], table=BRANCH_COLUMN[0])
    for slug, value in values.items():
        case = case.when(exp.EQ(this=branch.copy(), expression=exp.Literal.string(slug)), value_of(value))
    return case


def _literal(value: Any) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _substitute_branch_values(rendered: str, context: TemplateContext) -> str:
    """Replace per-branch parameter placeholders by CASE expressions in the syntax tree."""
    if limit_error(rendered) is not None:
        return rendered  # the SQL check reports it
    try:
        tree = sqlglot.parse_one(rendered, read="bigquery")
    except (sqlglot.errors.SqlglotError, RecursionError):
        return rendered  # the SQL check reports the syntax error
    per_branch = {n: v for n, v in context.parameters.items() if isinstance(v, BranchValues)}

    def transform(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Literal) and node.is_string and _SENTINEL_RE.search(node.this):
            text = node.this
            name = _SENTINEL_RE.search(text).group(1)
            return _branch_case(per_branch[name].values, lambda value: exp.Literal.string(
                _SENTINEL_RE.sub(lambda m: str(value) if m.group(1) == name else m.group(0), text)))
        if isinstance(node, exp.Column) and not node.table and _SENTINEL_RE.fullmatch(node.name):
            name = _SENTINEL_RE.fullmatch(node.name).group(1)
            return _branch_case(per_branch[name].values, _literal)
        return node

    return tree.transform(transform).sql(dialect="bigquery")
