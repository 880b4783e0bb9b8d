"""What the sync client contributes: the box's ``sync`` command group and its tables (set ``sync``)."""

from __future__ import annotations


def _sync_group():
    from .cli import sync_group

    return sync_group


def _migrations():
    from ._migrations import migrations

    return migrations


def register(registry) -> None:
    registry.add_command("sync", _sync_group, help="Reconciliation with the city hub.")
    registry.add_migrations("sync", _migrations)
