"""A shred is finished only when the WAL holds no page image of the shredded rows.

A second connection holding a read snapshot (``motcua status``/``check`` at the same moment) keeps
the WAL from being reset: the shred then waits for it (bounded), and if the reader stays, the shred
is reported pending and completed at the next checkpoint or start.
"""

from __future__ import annotations

import sqlite3
import threading
import time

from edge.store import PageSource, Store

APPLICANT = {"full_name": "Trần Thị Bích Ngọc", "id_number": "001199004321"}


def _take(store: Store) -> tuple[str, list[bytes]]:
    dossier_id, _ = store.ingest(procedure_code="1.001612", applicant=APPLICANT, actor="clerk",
                                 pages=[PageSource(source=b"x" * 300, component="tk", media_type="image/png")])
    row = store.query("SELECT local_wrap, sealed_applicant, city_seal FROM dossiers WHERE id = ?", (dossier_id,))[0]
    secrets = [row["local_wrap"], row["sealed_applicant"], row["city_seal"]]
    assert all(isinstance(s, bytes) and len(s) > 16 for s in secrets)
    return dossier_id, secrets


def _wal(store: Store) -> bytes:
    path = store.root / "motcua.db-wal"
    return path.read_bytes() if path.exists() else b""


class Reader:
    """Another connection to the same database holding a read snapshot."""

    def __init__(self, store: Store) -> None:
        self.conn = sqlite3.connect(store.root / "motcua.db", isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN")
        self.conn.execute("SELECT COUNT(*) FROM dossiers").fetchone()

    def close(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.close()


def test_the_shred_waits_for_a_reader_and_then_the_wal_is_empty(box_store: Store):
    box_store.checkpoint_wait_seconds = 10.0
    dossier_id, secrets = _take(box_store)
    assert any(s in _wal(box_store) for s in secrets)  # the data sits in the WAL before the shred
    reader = Reader(box_store)
    threading.Timer(0.5, reader.close).start()  # the status command finishes half a second later
    started = time.monotonic()
    assert box_store.shred(dossier_id, actor="clerk", reason="test", force=True) is True
    assert time.monotonic() - started >= 0.4
    wal = _wal(box_store)
    assert not any(s in wal for s in secrets)
    assert not (box_store.root / "shred-pending-checkpoint").exists()


def test_a_reader_that_stays_leaves_the_shred_pending_until_the_next_checkpoint(box_store: Store):
    box_store.checkpoint_wait_seconds = 0.3
    dossier_id, secrets = _take(box_store)
    reader = Reader(box_store)
    try:
        assert box_store.shred(dossier_id, actor="clerk", reason="test", force=True) is False
        assert (box_store.root / "shred-pending-checkpoint").exists()
        report = box_store.check()
        assert any("WAL" in p for p in report.problems), report.problems
    finally:
        reader.close()
    report = box_store.check()  # the reader is gone: check completes the checkpoint
    assert report.ok, report.problems
    assert not (box_store.root / "shred-pending-checkpoint").exists()
    assert not any(s in _wal(box_store) for s in secrets)


def test_a_pending_shred_checkpoint_is_completed_at_the_next_start(box_settings, box_store: Store):
    box_store.checkpoint_wait_seconds = 0.2
    dossier_id, secrets = _take(box_store)
    reader = Reader(box_store)
    assert box_store.shred(dossier_id, actor="clerk", reason="test", force=True) is False
    box_store.close()
    reader.close()
    # Closing the last connection may fold the WAL anyway; the marker still makes the next start
    # check, and the WAL is empty of the shredded rows after it.
    with Store.open(box_settings) as store:
        assert not (store.root / "shred-pending-checkpoint").exists()
        assert not any(s in _wal(store) for s in secrets)
        assert store.startup_report.shred_checkpoint_completed


def test_while_the_reader_stays_the_wal_still_holds_the_rows_and_the_shred_says_so(box_store: Store):
    """Why the shred cannot just report success: the shredded rows' page images stay in the WAL."""
    box_store.checkpoint_wait_seconds = 0.1
    dossier_id, secrets = _take(box_store)
    reader = Reader(box_store)
    try:
        assert box_store.shred(dossier_id, actor="clerk", reason="test", force=True) is False
        assert any(s in _wal(box_store) for s in secrets)
        assert box_store.shred_checkpoint_pending()
    finally:
        reader.close()
