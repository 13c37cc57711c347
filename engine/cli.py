"""The `jetstream` command. Sub-commands live one per module in `engine/commands/`; other
packages add theirs through the `jetstream.commands` entry point group (the bot registers
`serve` and `worker` that way, so the engine never imports it).

A module `engine/commands/<name>.py` exposing `command` (a click.Command named <name>) is a
sub-command. Modules are imported only when their command runs, so `jetstream validate` never
pays for the analysis stack (pandas, scipy) that `jetstream analyse` needs.
"""
from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import EntryPoint, entry_points

import click

import engine.commands

ENTRY_POINT_GROUP = "jetstream.commands"


def _plugged() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


class LazyCommands(click.Group):
    def _own(self) -> list[str]:
        return [m.name for m in pkgutil.iter_modules(engine.commands.__path__)
                if not m.name.startswith("_")]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self._own(), *_plugged()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._own():
            command = getattr(importlib.import_module(f"engine.commands.{cmd_name}"), "command", None)
        elif cmd_name in (plugged := _plugged()):
            command = plugged[cmd_name].load()
        else:
            return None
        return command if isinstance(command, click.Command) else None


@click.group(cls=LazyCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jetstream-config")
def main() -> None:
    """Analyse online experiments from a config repository."""


if __name__ == "__main__":
    main()
