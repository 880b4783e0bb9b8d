"""The outcome in the dossier list: a refused or sent-back dossier is listed (and filtered) by its
outcome, read from the ``outcome`` column the triggers keep from the metadata, on an index;
``list_json`` gives the very summaries ``list`` gives, as JSON texts."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlite_utils import Database

from edge.errors import StoreError
from edge.store import LIST_STATUSES, Store
from edge.store._migrations import store_migrations

APPLICANT = {"full_name": "Đỗ Văn Khải", "id_number": "001085000001", "gender": "Nam"}


@pytest.fixture
def closed(box_store: Store) -> dict[str, str]:
    """One dossier of each kind: draft, received, refused, sent back, handed over."""
    ids = {}
    for n, kind in enumerate(("draft", "received", "refused", "supplement_requested", "handed_over")):
        ids[kind] = box_store.create_draft(procedure_code="1.001612", actor="test",
                                           applicant={**APPLICANT, "id_number": f"00108500000{n}"})
    box_store.finalize(ids["received"], actor="test")
    box_store.finalize(ids["handed_over"], actor="test", meta={"outcome": "received"})
    box_store.set_meta(ids["handed_over"], actor="test", rating=5)
    box_store.write(lambda conn: conn.execute("UPDATE dossiers SET status = 'handed_over' WHERE id = ?",
                                              (ids["handed_over"],)))
    box_store.finalize(ids["refused"], actor="test", meta={"outcome": "refused", "clerk": "test"})
    box_store.finalize(ids["supplement_requested"], actor="test", meta={"outcome": "supplement_requested"})
    return ids


def test_each_dossier_lists_with_its_outcome(box_store, closed):
    by_id = {s.id: s for s in box_store.list(limit=50)}
    assert {kind: (by_id[i].status, by_id[i].outcome, by_id[i].list_status) for kind, i in closed.items()} == {
        "draft": ("draft", None, "draft"),
        "received": ("finalized", "received", "finalized"),
        "refused": ("finalized", "refused", "refused"),
        "supplement_requested": ("finalized", "supplement_requested", "supplement_requested"),
        "handed_over": ("handed_over", "received", "handed_over"),
    }
    assert box_store.summary(closed["refused"]).outcome == "refused"


@pytest.mark.parametrize("status", LIST_STATUSES)
def test_the_filter_selects_by_status_or_outcome(box_store, closed, status):
    expected = {"finalized": {closed["received"]}, "shredded": set()}.get(status, {closed.get(status)})
    listed = box_store.list(limit=50, status=status)
    assert {s.id for s in listed} == expected
    assert box_store.count(status=status) == len(expected)


def test_the_filter_counts_add_up(box_store, closed):
    assert sum(box_store.count(status=s) for s in LIST_STATUSES) == box_store.count() == len(closed)


def test_an_unknown_filter_is_refused(box_store, closed):
    with pytest.raises(StoreError, match="unknown list status"):
        box_store.list(status="received'; --")


@pytest.mark.parametrize("status", [None, *LIST_STATUSES])
def test_list_json_is_list_as_json(box_store, closed, status):
    rows = box_store.list(limit=50, status=status)
    texts = box_store.list_json(limit=50, status=status)
    assert [json.loads(t) for t, _c, _n in texts] == [dataclasses.asdict(s) for s in rows]
    assert [list(json.loads(t)) for t, _c, _n in texts] == [[f.name for f in dataclasses.fields(s)] for s in rows]
    assert [(c, n) for _t, c, n in texts] == [box_store.list_cursor(s.id) for s in rows]


def test_the_outcome_filter_reads_its_index(box_store, closed):
    where, params = box_store._list_where("refused", None)
    plan = box_store.query("EXPLAIN QUERY PLAN " + box_store._SUMMARY_SQL + where
                           + " ORDER BY d.created_at DESC, d.counter DESC LIMIT 50", tuple(params))
    assert any("dossiers_outcome_list" in row["detail"] for row in plan), plan


def test_the_migration_fills_the_column_and_the_triggers_keep_it():
    """On a store made before the column: existing rows are filled from their metadata; later
    inserts and metadata updates (by any release) keep it."""
    db = Database(memory=True)
    steps = {m.name: m for m in store_migrations._migrations}
    for name in ("0001_core", "0002_list_index"):
        steps[name].fn(db)
    row = {"procedure_code": "1.001612", "status": "finalized", "created_at": "2027-02-03T10:00:00+07:00",
           "updated_at": "2027-02-03T10:00:00+07:00", "counter": 1, "hlc": "x", "cipher": "aes-256-gcm"}
    db["dossiers"].insert_all([{**row, "id": "a", "meta": json.dumps({"outcome": "refused"})},
                               {**row, "id": "b", "meta": json.dumps({"outcome": "received"})},
                               {**row, "id": "c", "meta": "{}"}])
    steps["0003_outcome_list"].fn(db)

    def outcomes() -> dict[str, str | None]:
        return {r[0]: r[1] for r in db.execute("SELECT id, outcome FROM dossiers ORDER BY id").fetchall()}

    assert outcomes() == {"a": "refused", "b": None, "c": None}
    db["dossiers"].insert({**row, "id": "d", "counter": 2, "meta": json.dumps({"outcome": "supplement_requested"})})
    db.execute("UPDATE dossiers SET meta = ? WHERE id = 'c'", [json.dumps({"outcome": "refused"})])
    db.execute("UPDATE dossiers SET meta = '{}' WHERE id = 'a'")
    assert outcomes() == {"a": None, "b": None, "c": "refused", "d": "supplement_requested"}
