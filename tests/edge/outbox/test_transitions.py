"""The outbox's transition table, walked pair by pair on a real store: every allowed (state,
event) moves the row to the table's state; every other pair raises the outbox's own error and
leaves the database exactly as it was."""

from __future__ import annotations

import itertools
import sqlite3

import pytest

from edge.outbox import (
    TRANSITIONS,
    NoOutboxRowError,
    Outbox,
    OutboxError,
    OutboxEvent,
    OutboxState,
    OutboxTransitionError,
    finalize_and_enqueue,
    next_state,
)
from edge.store import Store

APPLICANT = {"full_name": "Trần Thị Bình", "id_number": "001190000123"}
NOW = 1_800_000_000.0


def _snapshot(store: Store) -> list[tuple]:
    """Every row of every table: what 'nothing changed' means."""
    conn = sqlite3.connect(store.root / "motcua.db")
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return [(t, *row) for t in tables for row in conn.execute(f"SELECT * FROM {t} ORDER BY 1")]
    finally:
        conn.close()


@pytest.fixture
def queued(box_store: Store) -> tuple[Store, str]:
    did = box_store.create_draft(procedure_code="1.001612", applicant=APPLICANT, actor="t")
    finalize_and_enqueue(box_store, did, actor="t")
    return box_store, did


def _put(store: Store, did: str, state: OutboxState) -> None:
    """Place the row in ``state`` (test set-up only: the outbox itself never writes unchecked)."""
    store.write(lambda conn: conn.execute("UPDATE outbox SET state = ? WHERE dossier_id = ?", (str(state), did)))


def test_the_table_names_only_known_states_and_events() -> None:
    assert {s for s, _e in TRANSITIONS} <= set(OutboxState)
    assert {e for _s, e in TRANSITIONS} <= set(OutboxEvent)
    assert set(TRANSITIONS.values()) <= set(OutboxState)
    assert not any(s == OutboxState.SHREDDED for s, _e in TRANSITIONS)  # shredded is final


def test_enqueue_puts_a_finalized_dossier_in_sealed(queued) -> None:
    store, did = queued
    row = Outbox(store).row(did)
    assert row["state"] == OutboxState.SEALED
    assert row["created_at"] == store.query("SELECT finalized_at FROM dossiers WHERE id = ?", (did,))[0]["finalized_at"]


@pytest.mark.parametrize(("state", "event"), list(itertools.product(OutboxState, OutboxEvent)),
                         ids=lambda v: str(v))
def test_every_state_event_pair(queued, state: OutboxState, event: OutboxEvent) -> None:
    store, did = queued
    outbox = Outbox(store, now=lambda: NOW)
    _put(store, did, state)
    target = TRANSITIONS.get((state, event))
    assert next_state(state, event) == target
    if target is None:
        before = _snapshot(store)
        with pytest.raises(OutboxTransitionError) as caught:
            outbox.apply(did, event, last_error="x", attempts=99)
        assert isinstance(caught.value, OutboxError)
        assert str(state) in str(caught.value) and str(event) in str(caught.value)
        assert caught.value.message_vi
        assert _snapshot(store) == before
    else:
        assert outbox.apply(did, event, last_error="x") == target
        row = outbox.row(did)
        assert row["state"] == target
        assert row["last_error"] == "x"


def test_a_refused_event_inside_a_write_rolls_back_the_whole_write(queued) -> None:
    store, did = queued
    outbox = Outbox(store, now=lambda: NOW)
    before = _snapshot(store)

    def write(conn) -> None:
        outbox.apply(did, OutboxEvent.CREATED, conn=conn)  # allowed: sealed → created
        outbox.apply(did, OutboxEvent.SHREDDED, conn=conn)  # refused: created has no receipt

    with pytest.raises(OutboxTransitionError):
        store.write(write)
    assert _snapshot(store) == before


def test_an_event_for_a_dossier_not_in_the_outbox(box_store: Store) -> None:
    did = box_store.create_draft(procedure_code="1.001612", applicant=APPLICANT, actor="t")
    before = _snapshot(box_store)
    with pytest.raises(NoOutboxRowError):
        Outbox(box_store).apply(did, OutboxEvent.CREATED)
    assert _snapshot(box_store) == before


def test_named_writes(queued) -> None:
    store, did = queued
    outbox = Outbox(store, now=lambda: NOW)
    assert outbox.created(did) == OutboxState.CREATED
    assert outbox.uploaded(did, "ab" * 32, 1234) == OutboxState.UPLOADING
    assert outbox.offsets(outbox.row(did)) == {"ab" * 32: 1234}
    assert outbox.retry(did, wait_seconds=30, error="mạng") == OutboxState.RETRY_WAIT
    row = outbox.row(did)
    assert row["attempts"] == 1 and row["next_attempt_at"] == "2027-01-15T08:00:30.000Z"
    assert did not in outbox.due(max_backoff=900)
    assert outbox.release_backoff() == 1
    assert did in outbox.due(max_backoff=900)
    assert outbox.confirm(did) is False  # not committed yet: left alone
    assert outbox.commit(did, receipt="{}", committed_at="2027-01-15T08:01:00Z") == OutboxState.COMMITTED
    assert outbox.row(did)["receipt_verified"] == 1
    assert outbox.uploaded(did, "ab" * 32, 9999) is None  # a late offset does not undo the commit
    assert outbox.confirm(did) is True
    assert outbox.row(did)["state"] == OutboxState.CONFIRMED


def test_a_person_retries_a_rejected_dossier(queued) -> None:
    store, did = queued
    outbox = Outbox(store, now=lambda: NOW)
    outbox.reject(did, error="bị từ chối", audit={"code": "bad_manifest"})
    assert outbox.person_retry(did, actor="supervisor") == OutboxState.SEALED
    row = outbox.row(did)
    assert (row["attempts"], row["last_error"]) == (0, None)
    actions = [r["action"] for r in store.query("SELECT action FROM audit WHERE dossier_id = ?", (did,))]
    assert "sync.rejected" in actions and "sync.sealed" in actions


def test_unknown_columns_are_refused(queued) -> None:
    store, did = queued
    with pytest.raises(ValueError, match="not outbox columns"):
        Outbox(store).apply(did, OutboxEvent.CREATED, state="committed")
