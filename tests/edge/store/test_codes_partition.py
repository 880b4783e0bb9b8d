"""Dossier codes when the hub moves a box to another partition during a day, or retires the box."""

from __future__ import annotations

import datetime as dt

import pytest

from edge.errors import StoreError
from edge.store import PageSource, Store
from edge.store._codes import allocate

VN = dt.timezone(dt.timedelta(hours=7))
DAY = dt.datetime(2026, 11, 22, 9, 0, tzinfo=VN)


def take(store: Store, when: dt.datetime = DAY) -> int:
    _, code = store.ingest(procedure_code="1.001612", applicant={"full_name": "Lê Văn Cường", "id_number": "001099001236"},
                           pages=[PageSource(source=b"p" * 64, component="tk", media_type="image/png")], actor="test",
                           received_at=when)
    assert code.startswith("000.00.06.H56-261122-") or when.date() != DAY.date()
    return int(code.rsplit("-", 1)[1])


def move(store: Store, index: int, size: int) -> None:
    """What the feed applier does with a code_partition item (same meta keys, one transaction)."""
    store.write(lambda _conn: (store.meta_set("code_partition_index", str(index)),
                               store.meta_set("code_partition_size", str(size))))


def test_fresh_box_numbers_unchanged(box_store: Store) -> None:
    move(box_store, 2, 1000)
    assert [take(box_store) for _ in range(3)] == [2001, 2002, 2003]


def test_move_and_back_the_same_day_never_repeats(box_store: Store) -> None:
    move(box_store, 0, 1000)
    assert [take(box_store) for _ in range(3)] == [1, 2, 3]
    move(box_store, 5, 1000)
    assert take(box_store) == 5001            # a new partition's counter starts afresh
    move(box_store, 0, 1000)
    assert take(box_store) == 4               # back: its own counter resumes
    move(box_store, 0, 2)                     # 0001-0002, both already issued today
    with pytest.raises(StoreError, match="used all 2 dossier numbers"):
        take(box_store)
    move(box_store, 1, 3)                     # 0004-0006: 0004 is held, skip it
    assert [take(box_store), take(box_store)] == [5, 6]
    codes = [r["code"] for r in box_store.query("SELECT code FROM dossiers WHERE code IS NOT NULL")]
    assert len(codes) == len(set(codes)) == 7
    # Next day: every partition starts from its first number again.
    assert take(box_store, DAY + dt.timedelta(days=1)) == 4


def test_allocate_skips_codes_already_held(box_store: Store) -> None:
    move(box_store, 0, 10)
    assert [take(box_store) for _ in range(2)] == [1, 2]
    def lose_counter(conn) -> str:
        conn.execute("DELETE FROM code_counters")  # a counter lost (or written by an older version)
        return allocate(conn, agency="000.00.06.H56", day=DAY.date(), index=0, size=10)

    assert box_store.write(lose_counter) == "000.00.06.H56-261122-0003"


def test_retired_box_issues_no_codes(box_store: Store) -> None:
    dossier_id = box_store.create_draft(procedure_code="1.001612", applicant={"full_name": "A", "id_number": "001099001236"},
                                        form=None, actor="test")
    box_store.write(lambda _conn: box_store.meta_set("code_partition_retired", "replaced"))
    with pytest.raises(StoreError, match="replaced") as err:
        box_store.finalize(dossier_id, actor="test", received_at=DAY)
    assert "thiết bị mới" in (err.value.message_vi or "")
    assert box_store.query("SELECT status FROM dossiers WHERE id = ?", (dossier_id,))[0]["status"] == "draft"
