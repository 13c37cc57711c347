import click
from click.testing import CliRunner

from engine.cli import main


def test_every_command_has_help():
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    names = main.list_commands(click.Context(main))
    assert {"validate", "analyse", "demo", "serve", "worker", "synth", "sql", "schemas"} <= set(names)
    for name in names:
        command = main.get_command(click.Context(main), name)
        assert command is not None and command.name == name, name
        assert command.help, f"{name} has no help text"
        sub = runner.invoke(main, [name, "--help"])
        assert sub.exit_code == 0, (name, sub.output)
        assert "Usage:" in sub.output


def test_unknown_command_is_a_usage_error():
    result = CliRunner().invoke(main, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command" in result.output
