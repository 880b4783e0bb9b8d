"""The outbox's steps commit in the store's own transactions: finalize/ingest enqueue, shred
marks (checked), and the outbox's migration set owns the table, old databases included."""

from __future__ import annotations

import sqlite3

import pytest
import sqlite_utils

from edge.outbox import (
    Outbox,
    OutboxEvent,
    OutboxState,
    OutboxTransitionError,
    finalize_and_enqueue,
    ingest_and_enqueue,
    migrations,
    shred,
)
from edge.store import PageSource, Store

APPLICANT = {"full_name": "Lê Văn Cường", "id_number": "001190000777"}


def test_ingest_and_enqueue_commit_together(box_store: Store) -> None:
    did, code = ingest_and_enqueue(box_store, procedure_code="1.001612", applicant=APPLICANT, actor="t",
                                   pages=[PageSource(source=b"x" * 1000, media_type="image/png")])
    assert code and Outbox(box_store).row(did)["state"] == OutboxState.SEALED


def test_a_failing_outbox_step_rolls_back_the_finalize(box_store: Store) -> None:
    did = box_store.create_draft(procedure_code="1.001612", applicant=APPLICANT, actor="t")

    def broken(conn, dossier_id):
        raise OutboxTransitionError(dossier_id, "sealed", "created")

    with pytest.raises(OutboxTransitionError):
        box_store.finalize(did, actor="t", then=broken)
    row = box_store.query("SELECT status, code FROM dossiers WHERE id = ?", (did,))[0]
    assert (row["status"], row["code"]) == ("draft", None)
    assert Outbox(box_store).row(did) is None
    assert finalize_and_enqueue(box_store, did, actor="t")  # and it still finalizes afterwards


def test_finalize_inside_a_callers_write(box_store: Store) -> None:
    did = box_store.create_draft(procedure_code="1.001612", applicant=APPLICANT, actor="t")

    def finalize_then_fail(conn):
        finalize_and_enqueue(box_store, did, actor="t", conn=conn)
        assert Outbox(box_store).row(did)["state"] == OutboxState.SEALED  # the write sees its own rows
        raise RuntimeError("the service's next step failed")

    with pytest.raises(RuntimeError):
        box_store.write(finalize_then_fail)
    assert box_store.query("SELECT status FROM dossiers WHERE id = ?", (did,))[0]["status"] == "draft"
    assert Outbox(box_store).row(did) is None


def test_shred_marks_the_outbox_through_the_table(box_store: Store) -> None:
    outbox = Outbox(box_store)
    did, _ = ingest_and_enqueue(box_store, procedure_code="1.001612", applicant=APPLICANT, actor="t", pages=[])
    outbox.commit(did, receipt="{}", committed_at="2027-01-15T08:01:00Z")
    assert shred(box_store, did, actor="t", reason="retention")
    assert outbox.row(did)["state"] == OutboxState.SHREDDED
    # A wipe ordered by the city: from any state, through the WIPED event.
    did2, _ = ingest_and_enqueue(box_store, procedure_code="1.001612", applicant=APPLICANT, actor="t", pages=[])
    shred(box_store, did2, actor="hub", reason="wipe", force=True)
    assert outbox.row(did2)["state"] == OutboxState.SHREDDED


def test_a_shred_the_outbox_refuses_changes_nothing(box_store: Store) -> None:
    """A verified receipt on a row the table will not shred (here: set up as rejected)."""
    outbox = Outbox(box_store)
    did, _ = ingest_and_enqueue(box_store, procedure_code="1.001612", applicant=APPLICANT, actor="t",
                                pages=[PageSource(source=b"y" * 1000, media_type="image/png")])
    box_store.write(lambda conn: conn.execute(
        "UPDATE outbox SET state = 'rejected', receipt_verified = 1 WHERE dossier_id = ?", (did,)))
    with pytest.raises(OutboxTransitionError):
        shred(box_store, did, actor="t", reason="retention")
    assert box_store.query("SELECT status FROM dossiers WHERE id = ?", (did,))[0]["status"] == "finalized"
    assert len(box_store.pages(did)) == 1 and box_store.blobs.path(box_store.pages(did)[0].blob).exists()
    assert outbox.row(did)["state"] == OutboxState.REJECTED
    with pytest.raises(OutboxTransitionError):
        outbox.apply(did, OutboxEvent.SHREDDED)


def test_a_draft_is_shredded_without_an_outbox_row(box_store: Store) -> None:
    did = box_store.create_draft(procedure_code="1.001612", applicant=APPLICANT, actor="t")
    shred(box_store, did, actor="t", reason="abandoned")
    assert box_store.query("SELECT status FROM dossiers WHERE id = ?", (did,))[0]["status"] == "shredded"


def test_the_outbox_set_owns_the_table(box_store: Store) -> None:
    conn = sqlite3.connect(box_store.root / "motcua.db")
    try:
        sets = {(r[0], r[1]) for r in conn.execute("SELECT migration_set, name FROM _sqlite_migrations")}
    finally:
        conn.close()
    assert ("outbox", "0001_outbox") in sets


def test_an_old_database_keeps_its_outbox_rows(tmp_path) -> None:
    """A database whose store set created ``outbox`` (before the outbox had its own set)."""
    db = sqlite_utils.Database(tmp_path / "old.db")
    db.execute("CREATE TABLE dossiers (id TEXT PRIMARY KEY)")
    db.execute("""CREATE TABLE outbox (dossier_id TEXT PRIMARY KEY REFERENCES dossiers(id), state TEXT NOT NULL,
        blob_offsets TEXT NOT NULL DEFAULT '{}', attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT,
        last_error TEXT, receipt TEXT, receipt_verified INTEGER NOT NULL DEFAULT 0, committed_at TEXT,
        confirmed_at TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""")
    db.execute("CREATE INDEX outbox_state ON outbox(state, next_attempt_at)")
    db.execute("INSERT INTO dossiers VALUES ('d1')")
    db.execute("INSERT INTO outbox(dossier_id, state, created_at, updated_at) VALUES ('d1', 'committed', 't', 't')")
    db.conn.commit()
    migrations.apply(db)
    assert [m.name for m in migrations.pending(db)] == []
    assert [dict(r) for r in db.query("SELECT dossier_id, state FROM outbox")] == [{"dossier_id": "d1", "state": "committed"}]


def test_a_new_store_set_has_no_outbox_table(tmp_path) -> None:
    """The store's own migrations no longer create the outbox: only the outbox's set does."""
    from edge.store._migrations import store_migrations

    db = sqlite_utils.Database(tmp_path / "new.db")
    store_migrations.apply(db)
    assert "outbox" not in db.table_names()
    migrations.apply(db)
    assert "outbox" in db.table_names()


def _finalize_in_a_process(box_settings, did: str, *, install_outbox: bool):
    """Finalize from another process while this one holds the store (not alone: no migration runs
    there), with or without the outbox package installed."""
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import sys\n"
        "from edge._registry import REGISTRY\n"
        "from edge.config import load_settings\n"
        + ("from edge.outbox import _extension\nREGISTRY.install('edge.outbox', _extension.register)\n"
           if install_outbox else "")
        + "from edge.errors import StoreError\n"
        "from edge.store import Store\n"
        f"settings = load_settings(None, env={{}}, overrides={{'store': {{'state_dir': {str(box_settings.store.state_dir)!r}}}}})\n"
        "with Store.open(settings) as store:\n"
        "    assert store.startup_report.migrations_applied == ()\n"
        "    try:\n"
        f"        print(store.finalize({did!r}, actor='cli'))\n"
        "    except StoreError as exc:\n"
        "        print('refused', exc.message_vi)\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_second_process_finalizes_into_the_outbox(box_store: Store, box_settings) -> None:
    did = box_store.create_draft(procedure_code="1.001612", applicant=APPLICANT, actor="t")
    out = _finalize_in_a_process(box_settings, did, install_outbox=True)
    assert out.startswith("000.00.06.H56-")
    assert Outbox(box_store).row(did)["state"] == OutboxState.SEALED


def test_without_the_outbox_a_finalize_is_refused_not_lost(box_store: Store, box_settings) -> None:
    """A finalize that nothing would send is refused, and nothing is written."""
    did = box_store.create_draft(procedure_code="1.001612", applicant=APPLICANT, actor="t")
    out = _finalize_in_a_process(box_settings, did, install_outbox=False)
    assert out.startswith("refused") and "hàng đợi" in out
    row = box_store.query("SELECT status, code FROM dossiers WHERE id = ?", (did,))[0]
    assert (row["status"], row["code"]) == ("draft", None)
    assert Outbox(box_store).row(did) is None
