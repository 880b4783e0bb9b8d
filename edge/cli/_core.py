"""Core subcommands: init, config, dossier, check, serve, unlock."""

COMMANDS: list = []
