"""A store operation and its outbox step in ONE transaction (what the services call)."""

from __future__ import annotations

from typing import Any

from ._outbox import enqueue, mark_shredded


def finalize_and_enqueue(store, dossier_id: str, *, conn=None, **kwargs: Any) -> str:
    """Finalize a draft and queue it for the city in one transaction; returns its code.

    ``kwargs`` are those of :meth:`edge.store.Store.finalize` (``actor``, ``received_at``,
    ``due_at``, ``meta``). With ``conn`` (inside a write) it joins that transaction."""
    return store.finalize(dossier_id, then=enqueue, conn=conn, **kwargs)


def ingest_and_enqueue(store, **kwargs: Any) -> tuple[str, str]:
    """Create, fill, finalize and queue a dossier in one transaction; returns (id, code).

    ``kwargs`` are those of :meth:`edge.store.Store.ingest`."""
    return store.ingest(then=enqueue, **kwargs)


def shred(store, dossier_id: str, **kwargs: Any) -> bool:
    """Crypto-shred a dossier and mark its outbox row (checked transition) in one transaction.

    ``kwargs`` are those of :meth:`edge.store.Store.shred`; returns what it returns."""
    return store.shred(dossier_id, then=mark_shredded, **kwargs)
