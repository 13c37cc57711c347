"""`jetstream validate`: check configs and print findings; exit 1 on errors, 2 on usage errors."""
from __future__ import annotations

from pathlib import Path

import click

from engine.config.layout import LayoutError
from engine.config.render import FORMATS, render, summary
from engine.config.validate import validate
from engine.registry import RegistryError, load_registry


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--config-root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Config repository (ours or metric-hub's layout).")
@click.option("--registry", "registry_source", metavar="FILE|URL",
              help="Experimenter JSON (API v6 or v8) with dates, branches and platforms.")
@click.option("--platform", help="Resolve offline against this platform only.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def command(paths: tuple[Path, ...], config_root: Path, registry_source: str | None,
            platform: str | None, fmt: str) -> None:
    """Validate experiment configs, outcomes, defaults and definitions (all of them without PATH)."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise click.UsageError(f"no such file: {', '.join(missing)}")
    try:
        registry = load_registry(registry_source) if registry_source else None
        report = validate(config_root, list(paths) or None, registry=registry, platform=platform)
    except (LayoutError, RegistryError) as error:
        raise click.UsageError(str(error)) from error
    if platform and report.experiments and platform not in _known_platforms(config_root):
        raise click.UsageError(f"unknown platform {platform!r}")
    output = render(report.findings, fmt)
    if output:
        click.echo(output)
    if fmt == "text":
        passed = sum(r.ok for r in report.experiments.values())
        click.echo(summary(report.findings, len(report.experiments), passed, report.files_checked))
    raise SystemExit(1 if not report.ok else 0)


def _known_platforms(root: Path) -> tuple[str, ...]:
    from engine.config.layout import detect_layout
    return tuple(detect_layout(root).definition_paths())
