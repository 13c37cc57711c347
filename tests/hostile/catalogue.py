"""Hostile inputs: what a fork or same-repository pull request can put in a config, each with the
finding code it must produce. `Case.files` are written under the config root; `Case.paths` are
the changed-file names GitHub reports (validated by the bot; None: the experiment config)."""
from __future__ import annotations

from dataclasses import dataclass, field

from tests.hostile.world import experiment

EXP = "experiments/exp.toml"


@dataclass(frozen=True)
class Case:
    id: str
    code: str | None  # the error it must produce; None: it must validate clean
    files: dict[str, str | bytes] = field(default_factory=dict)
    paths: tuple[str, ...] | None = None  # changed files as GitHub names them (bot only)
    dry_run: bool = False  # needs the DuckDB telemetry (the bot's same-repository PRs)
    cli: bool = True  # also through `jetstream validate` (path names are the bot's to guard)
    symlink: str | None = None  # EXP becomes a symlink to this path (relative to the root's parent)


def _select(case_id: str, code: str | None, select: str, **kw) -> Case:
    return Case(case_id, code, {EXP: experiment(select)}, **kw)


NESTED = "{% if true %}"
CATALOGUE: tuple[Case, ...] = (
    # ---- Jinja: bounded time, output, loops, recursion, nesting, no escape ---------------------
    _select("jinja-nested-loops", "template-limit",
            "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}1"),
    _select("jinja-range-1e5-squared", "template-limit",
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}1"),
    _select("jinja-string-bomb", "template-limit", "{{ 'x' * 1000000000 }}"),
    _select("jinja-string-bomb-stepwise", "template-limit",
            "{% set a = 'xxxxxxxxxx' * 1000 %}{% set b = a * 1000 %}{{ b * 1000 }}"),
    _select("jinja-power", "template-limit", "{{ 2 ** 100000000 }}"),
    _select("jinja-macro-recursion", "template-limit",
            "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}"),
    _select("jinja-recursive-loop", "template-limit",
            "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}"),
    _select("jinja-2000-nested-ifs", "template-limit", NESTED * 2000 + "1" + "{% endif %}" * 2000),
    _select("jinja-100-nested-ifs", "template-limit", NESTED * 100 + "1" + "{% endif %}" * 100),
    _select("jinja-deep-brackets", "template-limit", "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"),
    _select("jinja-format-width", "template-limit", "{{ '{:>999999999}'.format(1) }}"),
    _select("jinja-printf-width", "template-limit", "{{ '%999999999d' % 1 }}"),
    _select("jinja-join-amplifier", "template-limit", "{{ range(10000)|join('x' * 10000) }}"),
    _select("jinja-replace-amplifier", "template-limit",
            "{{ ('x' * 100000)|replace('x', 'y' * 10000) }}"),
    _select("jinja-sandbox-mro", "template-error", "{{ ''.__class__.__mro__[1].__subclasses__() }}"),
    _select("jinja-sandbox-globals", "template-error", "{{ agg_sum.__globals__ }}"),
    _select("jinja-include-file", "template-error", "{% include '/etc/passwd' %}"),
    _select("jinja-division-by-zero", "template-error", "{{ 1 // 0 }}"),
    _select("jinja-unknown-parameter", "template-error", "{{ parameters.messageid }}"),
    Case("from-expression-dunder", "template-error",
         {EXP: experiment(source="(SELECT '{{experiment.__init__}}' AS x)")}),
    # ---- SQL: depth and size checked before sqlglot --------------------------------------------
    _select("sql-5000-parentheses", "sql-too-deep", "(" * 5000 + "1" + ")" * 5000),
    _select("sql-50000-parentheses", "sql-too-deep", "(" * 50000 + "1" + ")" * 50000),
    _select("sql-600-nested-calls", "sql-too-deep", "COALESCE(" * 600 + "1" + ")" * 600),
    _select("sql-fragment-too-long", "sql-too-long", "1" + " + 1" * 60000),
    Case("sql-deep-enrollment-query", "sql-too-deep",
         {EXP: experiment(enrollment="SELECT " + "(" * 3000 + "1" + ")" * 3000)}),
    Case("sql-deep-from-expression", "sql-too-deep",
         {EXP: experiment(source="(SELECT " + "(" * 3000 + "1" + ")" * 3000 + ")")}),
    # ---- dry runs: nothing executes, constant builders are sized first -------------------------
    _select("dry-run-generate-array", "sql-limit",
            "COUNT(ARRAY_LENGTH(GENERATE_ARRAY(1, 100000000)))", dry_run=True),
    _select("dry-run-unnest-generate-array", "sql-limit",
            "(SELECT COUNT(*) FROM UNNEST(GENERATE_ARRAY(1, 100000000)))", dry_run=True),
    _select("dry-run-repeat", "sql-limit", "MAX(LENGTH(REPEAT('x', 1000000000)))", dry_run=True),
    _select("dry-run-subquery-generate-array", None,
            "COUNT(ARRAY_LENGTH(GENERATE_ARRAY(1, (SELECT 100000000))))", dry_run=True),
    _select("dry-run-cast-leaks-client-ids", None,
            "CAST((SELECT STRING_AGG(client_id, ',') FROM mozdata.telemetry.clients_daily) AS INT64)",
            dry_run=True),
    # ---- TOML: nesting, size, bytes ------------------------------------------------------------
    Case("toml-deep-arrays", "toml-syntax", {EXP: "x = " + "[" * 20000 + "]" * 20000 + "\n"}),
    Case("toml-deep-inline-tables", "toml-syntax", {EXP: "x = " + "{a=" * 5000 + "1" + "}" * 5000}),
    Case("toml-huge-array", "unknown-metric",
         {EXP: experiment().replace('weekly = ["m"]', "weekly = [" + '"n", ' * 150000 + '"m"]')}),
    Case("toml-junk-bytes", "not-utf8", {EXP: bytes(range(256)) * 64}),
    Case("toml-nul-bytes", "binary-file", {EXP: b"[experiment]\n\x00\x00\x00"}),
    Case("toml-oversized", "file-too-large", {EXP: "#" * 1_100_000}),
    # ---- file names from GitHub: one guard, never a read outside the tree ----------------------
    Case("path-dotdot", "unsafe-path", paths=("experiments/../../secret.toml",), cli=False),
    Case("path-absolute", "unsafe-path", paths=("/etc/passwd",), cli=False),
    Case("path-nul", "unsafe-path", paths=("experiments/a\x00.toml",), cli=False),
    Case("path-huge", "unsafe-path", paths=("experiments/" + "a" * 5000 + ".toml",), cli=False),
    Case("path-newline", "unsafe-path", paths=("experiments/a\n.toml",), cli=False),
    Case("path-symlink-out", "unsafe-path", symlink="secret.toml"),
)
