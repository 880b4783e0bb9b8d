"""What the outbox contributes: its table (migration set ``outbox``) and the steps the store
commits with every finalize (enqueue) and shred (the shred mark)."""

from __future__ import annotations


def _migrations():
    from ._migrations import migrations

    return migrations


def _enqueue(conn, dossier_id: str) -> None:
    from ._outbox import enqueue

    enqueue(conn, dossier_id)


def _mark_shredded(*args, **kwargs) -> None:
    from ._outbox import mark_shredded

    mark_shredded(*args, **kwargs)


def register(registry) -> None:
    registry.add_migrations("outbox", _migrations)
    registry.add_store_step("finalize", _enqueue)
    registry.add_store_step("shred", _mark_shredded)
