"""The `jetstream` command line."""
from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jetstream-config")
def main() -> None:
    """Analyse online experiments from a config repository."""


if __name__ == "__main__":
    main()
