"""Check a command line against the real `mediapost` CLI without running it."""

from __future__ import annotations

import click

from mediapost.cli import main


def parse_cli(argv: list[str]) -> click.Context:
    """Parse `mediapost ARGV` as click would (command, options, values); raise if it cannot."""
    root = click.Context(main, info_name="mediapost")
    if not argv:
        raise click.UsageError("no command")
    name, *args = argv
    command = main.get_command(root, name)
    if command is None:
        raise click.UsageError(f"mediapost has no command {name!r}")
    return command.make_context(name, args, parent=root)
