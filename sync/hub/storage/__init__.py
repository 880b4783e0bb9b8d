"""Hub storage: the interface and its SQLite (default) and PostgreSQL backends."""

from __future__ import annotations

from pathlib import Path

from .base import (
    DEFAULT_PARTITION_SIZE,
    Admission,
    BlobRow,
    BlobTarget,
    DossierRecord,
    FeedRow,
    HubStorage,
    NewStation,
    OutboxEvent,
    StationRecord,
)


def open_storage(db: str | None, *, data_dir: Path) -> HubStorage:
    """``db`` is a ``postgresql://`` URL, ``sqlite:///path`` or None for ``DATA_DIR/hub.sqlite3``."""
    if db and db.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStorage

        storage: HubStorage = PostgresStorage(db)
    else:
        from .sqlite import SqliteStorage

        path = Path(db.removeprefix("sqlite:///")) if db else data_dir / "hub.sqlite3"
        storage = SqliteStorage(path)
    storage.setup()
    return storage


__all__ = ["DEFAULT_PARTITION_SIZE", "Admission", "BlobRow", "BlobTarget", "DossierRecord", "FeedRow", "HubStorage", "NewStation",
           "OutboxEvent", "StationRecord", "open_storage"]
