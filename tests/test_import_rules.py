"""The one-way flow of design.md, enforced on every module's imports (read with ast, so a lazy
import inside a function counts as much as a top-level one).

A rule `(importer, forbidden)` says no module in package `importer` may import anything in
`forbidden`. Packages are dotted prefixes.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Pure layers import nothing that does I/O or sits above them; the engine never imports the bot.
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("engine", ("bot",)),
    ("engine.findings", ("engine.config", "engine.check", "engine.plan", "engine.sql",
                         "engine.backends", "engine.statistics", "engine.run", "engine.results")),
    ("engine.experimenter", ("engine.config", "engine.check", "engine.plan", "engine.sql",
                             "engine.backends", "engine.run", "engine.results")),
    ("engine.config", ("engine.backends", "engine.sql", "engine.plan", "engine.check",
                       "engine.run", "engine.results")),
    ("engine.statistics", ("engine.sql", "engine.backends", "engine.run", "engine.check",
                           "engine.plan", "engine.results", "engine.config")),
    ("engine.plan", ("engine.backends", "engine.sql", "engine.check", "engine.run", "engine.results")),
    ("engine.sql", ("engine.backends", "engine.check", "engine.run", "engine.results")),
    ("engine.backends", ("engine.check", "engine.run", "engine.results", "engine.config")),
    ("engine.results", ("engine.run", "engine.check")),
    ("engine.check", ("engine.run", "engine.results")),
    ("engine.synthetic", ("engine.run", "engine.check", "engine.results", "engine.backends")),
)


def modules() -> dict[str, Path]:
    found = {}
    for package in ("engine", "bot"):
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(name: str, path: Path) -> set[str]:
    """Absolute names of everything `path` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(module_imports: dict[str, set[str]]) -> list[str]:
    found = []
    for module, imported in sorted(module_imports.items()):
        for importer, forbidden in RULES:
            if not within(module, importer):
                continue
            for target in sorted(imported):
                for banned in forbidden:
                    if within(target, banned) and not within(target, importer):
                        found.append(f"{module} imports {target} ({importer} -> {banned} is forbidden)")
    return sorted(set(found))


def test_no_forbidden_arrow():
    table = {name: imports_of(name, path) for name, path in modules().items()}
    found = violations(table)
    assert not found, "forbidden imports:\n" + "\n".join(found)


@pytest.mark.parametrize("importer, forbidden", RULES)
def test_each_rule_catches_its_arrow(importer, forbidden):
    """Every rule fires on a synthetic import, so a rule cannot silently match nothing."""
    for banned in forbidden:
        assert violations({f"{importer}.probe": {f"{banned}.anything"}}), (importer, banned)


def test_lazy_and_relative_imports_are_read(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from bot.app import create_app\nfrom . import sibling\n")
    names = imports_of("engine.sql.mod", source)
    assert "bot.app" in names and "engine.sql.sibling" in names
