"""`jetstream schemas`: regenerate or check the JSON Schemas in schemas/."""
from __future__ import annotations

from pathlib import Path

import click

from engine.config.schema.build import KINDS, schema_json

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "schemas"


def stale_schemas(directory: Path) -> list[str]:
    """Kinds whose file in `directory` is missing or differs from the builder's output."""
    stale = []
    for kind in KINDS:
        path = directory / f"{kind}.json"
        if not path.is_file() or path.read_text(encoding="utf-8") != schema_json(kind):
            stale.append(kind)
    return stale


@click.command("schemas")
@click.option("--check", is_flag=True, help="Only check that the files are up to date (exit 1 if not).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_DIR, show_default="schemas/ of the repository",
              help="Directory holding the schema files.")
def command(check: bool, out_dir: Path) -> None:
    """Write the JSON Schemas (2020-12) of every config file kind, built from the registries."""
    if check:
        stale = stale_schemas(out_dir)
        for kind in stale:
            click.echo(f"{out_dir / (kind + '.json')}: out of date; run `jetstream schemas`")
        if stale:
            raise SystemExit(1)
        click.echo(f"{len(KINDS)} schemas in {out_dir} are up to date")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    for kind in KINDS:
        (out_dir / f"{kind}.json").write_text(schema_json(kind), encoding="utf-8")
    click.echo(f"wrote {len(KINDS)} schemas to {out_dir}")
