"""Subcommands of this package (registered by edge.cli)."""

COMMANDS: list = []
