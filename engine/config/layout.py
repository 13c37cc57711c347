"""Where each kind of config file lives, for our layout and for metric-hub's.

Ours:        experiments/<slug>.toml, outcomes/<platform>/<slug>.toml,
             engine/defaults/<platform>.toml, engine/definitions/<platform>.toml (+ functions.toml)
metric-hub:  jetstream/<slug>.toml, jetstream/outcomes/<platform>/<slug>.toml,
             jetstream/defaults/<platform>.toml, definitions/<platform>.toml overridden by
             jetstream/definitions/<platform>.toml (each with a functions.toml)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

OURS = "ours"
METRIC_HUB = "metric-hub"
KINDS = ("experiment", "outcome", "defaults", "definitions", "functions")
FUNCTIONS_FILE = "functions.toml"
# Offline validation tries platforms in this order (then the rest alphabetically).
PREFERRED_PLATFORMS = ("firefox_desktop", "fenix", "firefox_ios")


class LayoutError(Exception):
    """The directory is neither layout."""


def _tomls(directory: Path) -> tuple[Path, ...]:
    return tuple(sorted(directory.glob("*.toml"))) if directory.is_dir() else ()


@dataclass(frozen=True)
class Layout:
    kind: str
    root: Path
    experiments_dir: Path
    outcomes_dir: Path
    defaults_dir: Path
    definitions_dirs: tuple[Path, ...]  # lowest precedence first

    def experiment_paths(self) -> tuple[Path, ...]:
        return _tomls(self.experiments_dir)

    def outcome_paths(self) -> dict[str, dict[str, Path]]:
        """platform -> outcome slug -> path."""
        if not self.outcomes_dir.is_dir():
            return {}
        return {d.name: {p.stem: p for p in _tomls(d)}
                for d in sorted(self.outcomes_dir.iterdir()) if d.is_dir()}

    def defaults_paths(self) -> dict[str, Path]:
        return {p.stem: p for p in _tomls(self.defaults_dir)}

    def definition_paths(self) -> dict[str, tuple[Path, ...]]:
        """platform -> definition files in override order (later ones override earlier ones)."""
        result: dict[str, list[Path]] = {}
        for directory in self.definitions_dirs:
            for path in _tomls(directory):
                if path.name != FUNCTIONS_FILE:
                    result.setdefault(path.stem, []).append(path)
        return {platform: tuple(paths) for platform, paths in sorted(result.items())}

    def functions_paths(self) -> tuple[Path, ...]:
        return tuple(d / FUNCTIONS_FILE for d in self.definitions_dirs if (d / FUNCTIONS_FILE).is_file())

    def platforms(self) -> tuple[str, ...]:
        """Platforms an experiment can be resolved on offline: those with defaults and definitions."""
        definitions = self.definition_paths()
        found = [p for p in self.defaults_paths() if p in definitions]
        return tuple(sorted(found, key=platform_order))

    def kind_of(self, path: Path) -> str | None:
        """Which kind of config file `path` is, or None if it is not one."""
        path = path.resolve()
        if path.suffix != ".toml":
            return None
        parent = path.parent
        if parent in {d.resolve() for d in self.definitions_dirs}:
            return "functions" if path.name == FUNCTIONS_FILE else "definitions"
        if parent == self.defaults_dir.resolve():
            return "defaults"
        if parent.parent == self.outcomes_dir.resolve():
            return "outcome"
        if parent == self.experiments_dir.resolve():
            return "experiment"
        return None

    def display(self, path: Path) -> str:
        """Path as shown in findings: relative to the config root when inside it."""
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)


def platform_order(platform: str) -> tuple[int, str]:
    if platform in PREFERRED_PLATFORMS:
        return (PREFERRED_PLATFORMS.index(platform), "")
    return (len(PREFERRED_PLATFORMS), platform)


def detect_layout(root: Path | str) -> Layout:
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"config root {root} is not a directory")
    if (root / "jetstream").is_dir():
        jetstream = root / "jetstream"
        return Layout(METRIC_HUB, root, jetstream, jetstream / "outcomes", jetstream / "defaults",
                      (root / "definitions", jetstream / "definitions"))
    if any((root / d).is_dir() for d in ("experiments", "outcomes", "engine/definitions")):
        return Layout(OURS, root, root / "experiments", root / "outcomes", root / "engine" / "defaults",
                      (root / "engine" / "definitions",))
    raise LayoutError(
        f"{root} has neither jetstream/ (metric-hub layout) nor experiments/, outcomes/ or "
        "engine/definitions/ (this repository's layout)")
