"""The outbox: a dossier's way to the city, from sealed to committed, confirmed and shredded.

This package owns the ``outbox`` table (migration set ``outbox``, :data:`migrations`), its
states, the events that move them and the one transition table, and every write to the table.
The store knows nothing of it: a finalize queues the dossier through :func:`enqueue` and a shred
marks it through :func:`mark_shredded`, each inside the store's own transaction (given as
``then=`` by :func:`finalize_and_enqueue`, :func:`ingest_and_enqueue`, :func:`shred`, or
registered as the store's steps through ``_extension.register``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

if TYPE_CHECKING:
    from ._compose import finalize_and_enqueue, ingest_and_enqueue, shred
    from ._errors import NoOutboxRowError, OutboxError, OutboxTransitionError
    from ._migrations import migrations
    from ._outbox import Outbox, enqueue, iso, mark_shredded, parse_iso
    from ._states import (
        LABELS_VI,
        PUSHABLE,
        RECEIPTED,
        TRANSITIONS,
        UNSYNCED,
        OutboxEvent,
        OutboxState,
        can_move,
        next_state,
    )

_LAZY: dict[str, tuple[str, str | None]] = {
    "finalize_and_enqueue": ("._compose", "finalize_and_enqueue"),
    "ingest_and_enqueue": ("._compose", "ingest_and_enqueue"),
    "shred": ("._compose", "shred"),
    "NoOutboxRowError": ("._errors", "NoOutboxRowError"),
    "OutboxError": ("._errors", "OutboxError"),
    "OutboxTransitionError": ("._errors", "OutboxTransitionError"),
    "migrations": ("._migrations", "migrations"),
    "Outbox": ("._outbox", "Outbox"),
    "enqueue": ("._outbox", "enqueue"),
    "iso": ("._outbox", "iso"),
    "mark_shredded": ("._outbox", "mark_shredded"),
    "parse_iso": ("._outbox", "parse_iso"),
    "LABELS_VI": ("._states", "LABELS_VI"),
    "PUSHABLE": ("._states", "PUSHABLE"),
    "RECEIPTED": ("._states", "RECEIPTED"),
    "TRANSITIONS": ("._states", "TRANSITIONS"),
    "UNSYNCED": ("._states", "UNSYNCED"),
    "OutboxEvent": ("._states", "OutboxEvent"),
    "OutboxState": ("._states", "OutboxState"),
    "can_move": ("._states", "can_move"),
    "next_state": ("._states", "next_state"),
}

__all__ = [
    "LABELS_VI",
    "PUSHABLE",
    "RECEIPTED",
    "TRANSITIONS",
    "UNSYNCED",
    "NoOutboxRowError",
    "Outbox",
    "OutboxError",
    "OutboxEvent",
    "OutboxState",
    "OutboxTransitionError",
    "can_move",
    "enqueue",
    "finalize_and_enqueue",
    "ingest_and_enqueue",
    "iso",
    "mark_shredded",
    "migrations",
    "next_state",
    "parse_iso",
    "shred",
]


# Names load on first use (PEP 562), so importing the package (or its _extension) is cheap.
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
