"""The ``motcua`` command line: one entry point, subcommand groups from each package."""

from ._main import cli, main

__all__ = ["cli", "main"]
