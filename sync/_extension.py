"""What the ``sync`` package contributes: the box-side ``sync`` command group."""

from __future__ import annotations


def _sync_group():
    from .cli import sync_group

    return sync_group


def register(registry) -> None:
    registry.add_command("sync", _sync_group, help="Reconciliation with the city hub.")
