"""All documents of a config root, loaded once, with definitions merged per platform.

Named definitions (metrics, data sources, segments, segment data sources, parameters, functions)
become `Entry` values that remember, per field, which document and key the winning value came
from, so every later finding can point at the right file and line. Merging builds new entries;
nothing shared is ever mutated.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable

from engine.config.layout import Layout, detect_layout, platform_order
from engine.config.load import Document, KeyPath, load_document, thaw
from engine.config.spec import PERIOD_ALIASES, PERIODS
from engine.findings import Finding, Severity

PERIOD_KEYS = frozenset(PERIODS) | frozenset(PERIOD_ALIASES)
EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Origin:
    """A key inside a document: where a value was written."""

    doc: Document
    key: KeyPath

    @property
    def path(self) -> str:
        return self.doc.path

    @property
    def line(self) -> int | None:
        return self.doc.line_of(self.key)

    def finding(self, code: str, message: str, hint: str | None = None,
                severity: Severity = Severity.ERROR, column: int | None = None,
                line: int | None = None) -> Finding:
        return Finding(self.doc.path, line or self.line, column, severity, code, message, hint)


def deep_merge(base: Any, over: Any) -> Any:
    """`over` wins field by field; tables merge recursively; explicit false/0/"" still win."""
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = deep_merge(base[key], value) if key in base else value
        return merged
    return over


@dataclass(frozen=True)
class Entry:
    name: str
    fields: Mapping[str, Any]
    origins: Mapping[str, Origin]
    origin: Origin  # the table header of the most specific layer

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    def origin_of(self, key: str) -> Origin:
        return self.origins.get(key, self.origin)

    def without(self, key: str) -> "Entry":
        fields = {k: v for k, v in self.fields.items() if k != key}
        origins = {k: v for k, v in self.origins.items() if k != key}
        return Entry(self.name, MappingProxyType(fields), MappingProxyType(origins), self.origin)

    def merge(self, over: "Entry") -> "Entry":
        fields = dict(self.fields)
        for key, value in over.fields.items():
            fields[key] = deep_merge(fields[key], value) if key in fields else value
        return Entry(self.name, MappingProxyType(fields),
                     MappingProxyType({**self.origins, **over.origins}), over.origin)


def entry_of(doc: Document, key: KeyPath, name: str, table: Mapping[str, Any]) -> Entry:
    fields = thaw(table)
    origins = {k: Origin(doc, key + (k,)) for k in fields}
    return Entry(name, MappingProxyType(fields), MappingProxyType(origins), Origin(doc, key))


class _Overlay(Mapping[str, Entry]):
    """`over` on top of `base`, merged per name on access (no copying of large libraries).
    The name list is built once, on first iteration or length, then shared by both."""

    def __init__(self, base: Mapping[str, Entry], over: Mapping[str, Entry]) -> None:
        self._base, self._over = base, over
        self._merged: dict[str, Entry] = {}
        self._names: dict[str, None] | None = None

    def __getitem__(self, name: str) -> Entry:
        if name in self._over:
            if name not in self._merged:
                self._merged[name] = (self._base[name].merge(self._over[name])
                                      if name in self._base else self._over[name])
            return self._merged[name]
        return self._base[name]

    def __contains__(self, name: object) -> bool:
        return name in self._over or name in self._base

    def _all(self) -> dict[str, None]:
        if self._names is None:
            self._names = dict.fromkeys([*self._base, *self._over])
        return self._names

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def flatten(mapping: Mapping[str, Entry]) -> Mapping[str, Entry]:
    """A plain read-only copy with every merged entry computed (for layers shared by many)."""
    return MappingProxyType({name: mapping[name] for name in mapping})


def _merge_maps(base: Mapping[str, Entry], over: Mapping[str, Entry]) -> Mapping[str, Entry]:
    if not over:
        return base
    if not base:
        return over
    return _Overlay(base, over)


@dataclass(frozen=True)
class Library:
    """Named definitions of one layer (one document) or of several merged layers."""

    metrics: Mapping[str, Entry] = field(default_factory=dict)
    data_sources: Mapping[str, Entry] = field(default_factory=dict)
    segments: Mapping[str, Entry] = field(default_factory=dict)
    segment_data_sources: Mapping[str, Entry] = field(default_factory=dict)
    parameters: Mapping[str, Entry] = field(default_factory=dict)

    def merge(self, over: "Library") -> "Library":
        return Library(*(_merge_maps(getattr(self, f), getattr(over, f)) for f in _LIBRARY_FIELDS))


_LIBRARY_FIELDS = ("metrics", "data_sources", "segments", "segment_data_sources", "parameters")


def _named_tables(doc: Document, prefix: KeyPath, skip: Iterable[str] = ()) -> Mapping[str, Entry]:
    table: Any = doc.data
    for part in prefix:
        table = table.get(part) if isinstance(table, Mapping) else None
    if not isinstance(table, Mapping):
        return EMPTY
    skipped = set(skip)
    return MappingProxyType({
        name: entry_of(doc, prefix + (name,), name, value)
        for name, value in table.items() if isinstance(value, Mapping) and name not in skipped})


def library_of(doc: Document) -> Library:
    return Library(
        metrics=_named_tables(doc, ("metrics",), PERIOD_KEYS),
        data_sources=_named_tables(doc, ("data_sources",)),
        segments=_named_tables(doc, ("segments",), ("data_sources",)),
        segment_data_sources=_named_tables(doc, ("segments", "data_sources")),
        parameters=_named_tables(doc, ("parameters",)),
    )


@dataclass(frozen=True)
class Repository:
    layout: Layout
    documents: Mapping[str, Document]  # display path -> document, every file loaded
    kinds: Mapping[str, str]  # display path -> kind
    definitions: Mapping[str, Library]  # platform -> merged definitions
    functions: Mapping[str, Entry]
    defaults: Mapping[str, Document]
    outcomes: Mapping[str, Mapping[str, Document]]  # platform -> slug -> document
    experiments: Mapping[str, Document]  # slug -> document
    _libraries: dict[str, tuple[Document | None, Library]] = field(
        default_factory=dict, repr=False, compare=False)

    # (platform, metric, unselected outcomes) -> (its data source, Metric | None, findings) for metrics no experiment
    # layer touches, or None when the metric's resolution depends on the experiment
    shared_metrics: dict[tuple[str, str, bool], Any] = field(default_factory=dict, repr=False, compare=False)
    # other values computed once from the loaded documents (see the methods that fill it)
    derived: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def platforms(self) -> tuple[str, ...]:
        return tuple(sorted((p for p in self.defaults if p in self.definitions), key=platform_order))

    def library(self, doc: Document) -> Library:
        """The (cached) named definitions written in one document."""
        cached = self._libraries.get(doc.path)
        if cached is None or cached[0] is not doc:
            cached = self._libraries[doc.path] = (doc, library_of(doc))
        return cached[1]

    def platform_library(self, platform: str, outcomes: bool = True) -> Library:
        """The platform's definitions, with `outcomes` over the metrics and data sources of all
        its outcomes (the lowest layer of an offline resolution, where nobody knows which outcomes
        Experimenter selected: a config may list an outcome's metric without selecting it, as
        upstream's offline resolution accepts; the alphabetically first outcome wins a name
        clash). Without, only the definitions: what a resolution with a registry entry searches
        below its selected outcomes, as upstream does. Built and flattened once per platform."""
        key = f"\0platform:{platform}:{outcomes}"
        cached = self._libraries.get(key)
        if cached is None:
            library = Library()
            for slug in sorted(self.outcomes.get(platform, {}) if outcomes else (), reverse=True):
                own = self.library(self.outcomes[platform][slug])
                library = library.merge(Library(own.metrics, own.data_sources))
            library = library.merge(self.definitions[platform])
            flat = Library(*(flatten(getattr(library, f)) for f in _LIBRARY_FIELDS))
            cached = self._libraries[key] = (None, flat)  # type: ignore[assignment]
        return cached[1]

    def template_functions(self) -> Mapping[str, str]:
        """Function name -> definition (with `{select_expr}`), for the template context."""
        if "functions" not in self.derived:
            self.derived["functions"] = MappingProxyType({
                n: e.get("definition") for n, e in self.functions.items()
                if isinstance(e.get("definition"), str)})
        return self.derived["functions"]

    def load_findings(self) -> tuple[Finding, ...]:
        return tuple(f for doc in self.documents.values() for f in doc.findings)


def _inside(path: Path, root: Path) -> bool:
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return False
    return resolved == root or root in resolved.parents


def _outside(path: Path, root: Path) -> Document:
    """A config file that is a symbolic link out of the config root: refused, never read (a
    pull request can commit such a link; CI would otherwise echo the file it points at)."""
    try:
        name = str(path.relative_to(root))
    except ValueError:
        name = path.name
    return Document(name, "", EMPTY, EMPTY, (Finding(
        name, None, None, Severity.ERROR, "unsafe-path",
        "file is a symbolic link that leaves the config root; it is not read"),))


def load_repository(root: Path | str | Layout) -> Repository:
    layout = root if isinstance(root, Layout) else detect_layout(root)
    documents: dict[str, Document] = {}
    kinds: dict[str, str] = {}

    root = layout.root.resolve()

    def load(path: Path, kind: str) -> Document:
        shown = layout.display(path)
        doc = documents.get(shown)
        if doc is None:
            doc = documents[shown] = (load_document(path, shown) if _inside(path, root)
                                      else _outside(path, layout.root))
            kinds[shown] = kind
        return doc

    definitions: dict[str, Library] = {}
    for platform, paths in layout.definition_paths().items():
        library = Library()
        for path in paths:
            library = library.merge(library_of(load(path, "definitions")))
        definitions[platform] = library
    functions: Mapping[str, Entry] = EMPTY
    for path in layout.functions_paths():
        functions = _merge_maps(functions, _named_tables(load(path, "functions"), ("functions",)))
    defaults = {p: load(path, "defaults") for p, path in layout.defaults_paths().items()}
    outcomes = {platform: MappingProxyType({slug: load(path, "outcome") for slug, path in paths.items()})
                for platform, paths in layout.outcome_paths().items()}
    experiments = {path.stem: load(path, "experiment") for path in layout.experiment_paths()}
    return Repository(layout, MappingProxyType(documents), MappingProxyType(kinds),
                      MappingProxyType(definitions), functions, MappingProxyType(defaults),
                      MappingProxyType(outcomes), MappingProxyType(experiments))
