"""Keyset pagination of ``Store.list``: the ``before`` cursor walks the same rows as ``offset``,
ties on ``created_at`` are broken by ``counter``, and the query runs on the composite index."""

from __future__ import annotations

import pytest

from edge.store import Store

APPLICANT = {"full_name": "Đỗ Văn Khải", "id_number": "001085000001", "gender": "Nam"}


@pytest.fixture
def filled(box_store: Store) -> Store:
    def drafts(_conn) -> None:
        for i in range(137):
            box_store.create_draft(procedure_code="1.001612", applicant={**APPLICANT, "id_number": f"0010850{i:05d}"},
                                   actor="test")

    box_store.write(drafts)
    # Groups of seven dossiers created within the same instant (a burst, or a coarse clock):
    # only the counter orders them.
    rows = box_store.query("SELECT id FROM dossiers ORDER BY counter")
    box_store.write(lambda conn: conn.executemany(
        "UPDATE dossiers SET created_at = ? WHERE id = ?",
        [(f"2027-02-03T10:{n // 7:02d}:00+07:00", row["id"]) for n, row in enumerate(rows)]))
    return box_store


def _walk(store: Store, size: int, status: str | None = None) -> list[list[str]]:
    pages, before = [], None
    while True:
        rows = store.list(limit=size, before=before, status=status)
        if not rows:
            return pages
        pages.append([r.id for r in rows])
        before = store.list_cursor(rows[-1].id)


@pytest.mark.parametrize("size", [1, 7, 10, 50, 200])
def test_cursor_pages_equal_offset_pages(filled: Store, size: int) -> None:
    by_cursor = _walk(filled, size)
    by_offset = []
    offset = 0
    while rows := filled.list(limit=size, offset=offset):
        by_offset.append([r.id for r in rows])
        offset += size
    assert by_cursor == by_offset
    flat = [i for page in by_cursor for i in page]
    assert len(flat) == len(set(flat)) == 137
    # Newest first: (created_at, counter) strictly decreasing.
    keys = [filled.list_cursor(i) for i in flat]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)


def test_cursor_with_status_filter_and_offset(filled: Store) -> None:
    ids = [r.id for r in filled.list(limit=1000)]
    for dossier_id in ids[::10]:
        filled.write(lambda conn, d=dossier_id: conn.execute("UPDATE dossiers SET status = 'handed_over' WHERE id = ?", (d,)))
    wanted = [i for i in ids if i in set(ids[::10])]
    assert [i for page in _walk(filled, 3, status="handed_over") for i in page] == wanted
    assert [i for page in _walk(filled, 5, status="draft") for i in page] == [i for i in ids if i not in wanted]
    # offset still applies after the cursor
    before = filled.list_cursor(ids[20])
    assert [r.id for r in filled.list(limit=5, offset=2, before=before)] == ids[23:28]


def test_cursor_of_the_last_row_ends_the_list(filled: Store) -> None:
    last = filled.list(limit=1000)[-1]
    assert filled.list(limit=10, before=filled.list_cursor(last.id)) == []
    assert filled.list_cursor("no-such-dossier") is None


def test_keyset_query_uses_the_composite_index(filled: Store) -> None:
    names = {r["name"] for r in filled.query("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"dossiers_list", "dossiers_status_list"} <= names
    applied = {r["name"] for r in filled.query("SELECT name FROM _sqlite_migrations WHERE migration_set = 'store'")}
    assert "0002_list_index" in applied
    sql = Store._SUMMARY_SQL + (" WHERE (d.created_at, d.counter) < (?, ?)"
                                " ORDER BY d.created_at DESC, d.counter DESC LIMIT 50")
    plan = " | ".join(r["detail"] for r in filled.query("EXPLAIN QUERY PLAN " + sql, ("2027-02-03T10:05:00+07:00", 40)))
    assert "dossiers_list" in plan and "TEMP B-TREE" not in plan, plan
    sql = Store._SUMMARY_SQL + (" WHERE d.status = ? AND (d.created_at, d.counter) < (?, ?)"
                                " ORDER BY d.created_at DESC, d.counter DESC LIMIT 50")
    plan = " | ".join(r["detail"] for r in filled.query("EXPLAIN QUERY PLAN " + sql, ("draft", "2027-02-03T10:05:00+07:00", 40)))
    assert "dossiers_status_list" in plan and "TEMP B-TREE" not in plan, plan
