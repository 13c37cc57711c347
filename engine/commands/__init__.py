"""CLI sub-commands: every module here exposing `command` (a click.Command) is registered."""
