"""A wipe is finished only when the WAL holds no page image of what it shredded."""

from __future__ import annotations

import sqlite3
import threading

from boxkit import add_dossier, make_box

from sync.client import SyncClient


def _secrets(store) -> list[bytes]:
    rows = store.query("SELECT local_wrap, sealed_applicant, city_seal FROM dossiers")
    return [v for r in rows for v in r.values() if v]


def _wal(store) -> bytes:
    path = store.root / "motcua.db-wal"
    return path.read_bytes() if path.exists() else b""


async def test_a_wipe_with_a_reader_open_waits_for_it_and_leaves_nothing_in_the_wal(tmp_path):
    settings, store = make_box(tmp_path)
    client = SyncClient(settings=settings, store=store)
    try:
        for _ in range(3):
            add_dossier(store, pages=1, page_bytes=2000)
        secrets = _secrets(store)
        assert len(secrets) == 9 and any(s in _wal(store) for s in secrets)
        reader = sqlite3.connect(store.root / "motcua.db", isolation_level=None, check_same_thread=False)
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM dossiers").fetchone()
        store.checkpoint_wait_seconds = 10.0

        def end_reader() -> None:
            reader.execute("COMMIT")
            reader.close()

        threading.Timer(0.5, end_reader).start()
        assert client.wipe(reason="test") == 3
        assert not store.shred_checkpoint_pending()
        wal = _wal(store)
        assert not any(s in wal for s in secrets)
    finally:
        await client.stop()
        store.close()
