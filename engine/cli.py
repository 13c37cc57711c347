"""The `jetstream` command. Sub-commands live one per module in `engine/commands/`."""
from __future__ import annotations

import importlib
import pkgutil

import click

import engine.commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jetstream-config")
def main() -> None:
    """Analyse online experiments from a config repository."""


def _register_commands() -> None:
    for module_info in sorted(pkgutil.iter_modules(engine.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"engine.commands.{module_info.name}")
        command = getattr(module, "command", None)
        if isinstance(command, click.Command):
            main.add_command(command)


_register_commands()

if __name__ == "__main__":
    main()
