"""The `jetstream` command. Sub-commands live one per module in `engine/commands/`.

A module `engine/commands/<name>.py` exposing `command` (a click.Command named <name>) is a
sub-command. Modules are imported only when their command runs, so `jetstream validate` never
pays for the analysis stack (pandas, scipy) that `jetstream analyse` needs.
"""
from __future__ import annotations

import importlib
import pkgutil

import click

import engine.commands


class LazyCommands(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(m.name for m in pkgutil.iter_modules(engine.commands.__path__)
                      if not m.name.startswith("_"))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.list_commands(ctx):
            return None
        command = getattr(importlib.import_module(f"engine.commands.{cmd_name}"), "command", None)
        return command if isinstance(command, click.Command) else None


@click.group(cls=LazyCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jetstream-config")
def main() -> None:
    """Analyse online experiments from a config repository."""


if __name__ == "__main__":
    main()
