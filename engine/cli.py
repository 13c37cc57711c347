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
import sys
import traceback
from importlib.metadata import EntryPoint, entry_points

import click

import engine.commands

ENTRY_POINT_GROUP = "jetstream.commands"
# Exit codes of every command: 0 clean, 1 findings with errors (or failed analyses), 2 usage
# error (click's own), 3 internal error: CI can tell a broken config from a broken run.
OK, FINDINGS, USAGE, INTERNAL = 0, 1, 2, 3


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

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:  # noqa: BLE001 - any crash is exit 3, never 1 ("errors found")
            traceback.print_exc(file=sys.stderr)
            click.echo(f"jetstream: internal error: {type(error).__name__}: {error}", err=True)
            raise SystemExit(INTERNAL) from None


@click.group(cls=LazyCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jetstream-config")
def main() -> None:
    """Analyse online experiments from a config repository."""


if __name__ == "__main__":
    main()
