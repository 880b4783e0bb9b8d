"""The database's layout for the flash: small pages on a new store, an older store keeps its own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge.config import Settings
from edge.store import Store
from tests.conftest import AGENCY


def _pragma(store: Store, name: str):
    return store.write(lambda conn: conn.execute(f"PRAGMA {name}").fetchone()[0])


def test_a_new_store_has_sector_sized_pages_and_stays_durable(box_store: Store) -> None:
    assert _pragma(box_store, "page_size") == 512
    assert _pragma(box_store, "journal_mode") == "wal"
    assert _pragma(box_store, "synchronous") == 2  # FULL: every commit fsynced (the power-cut test)
    assert _pragma(box_store, "secure_delete") == 1


def test_a_store_made_with_4k_pages_keeps_them_and_works(box_settings: Settings) -> None:
    Store.init(box_settings, agency_code=AGENCY)
    path = next(p for p in Path(box_settings.store.state_dir).rglob("*.db") if p.stat().st_size)
    with sqlite3.connect(path) as conn:  # as a box made before the change: 4096-byte pages
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA page_size=4096")
        conn.execute("VACUUM")
        conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    store = Store.open(box_settings)
    try:
        assert _pragma(store, "page_size") == 4096
        dossier_id = store.create_draft(procedure_code="1.004222", actor="clerk", applicant={
            "full_name": "Nguyễn Văn An", "id_number": "001099012345", "date_of_birth": "1990-01-02"})
        assert store.get(dossier_id).applicant.full_name == "Nguyễn Văn An"
    finally:
        store.close()
