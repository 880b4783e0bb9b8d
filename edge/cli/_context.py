"""The command context now lives in :mod:`edge.context` (below every package's ``cli`` module)."""

from edge.context import CliContext, pass_ctx

__all__ = ["CliContext", "pass_ctx"]
