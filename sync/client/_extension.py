"""What the sync client contributes: its tables (migration set ``sync``)."""

from __future__ import annotations


def _migrations():
    from ._migrations import migrations

    return migrations


def register(registry) -> None:
    registry.add_migrations("sync", _migrations)
