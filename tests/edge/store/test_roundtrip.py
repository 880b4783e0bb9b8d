"""Round trip, tampering, truncation and wrong keys in the encrypted store."""

from __future__ import annotations

import io
import os
import sqlite3

import pytest

from edge.errors import IntegrityError, NotFoundError, StoreError, ValidationError
from edge.store import PageSource, Store
from edge.store._crypto import SEGMENT_SIZE, decrypt_stream, encrypt_stream

APPLICANT = {"full_name": "Trần Thị Bích Ngọc", "id_number": "079185001234", "date_of_birth": "1985-04-30",
             "gender": "Nữ", "address": "12 Lê Lợi, Quận 1", "phone": "0903123456"}


def _ingest(store: Store, *pages: bytes, applicant: dict = APPLICANT) -> tuple[str, str]:
    return store.ingest(procedure_code="1.001612", applicant=applicant, actor="test",
                        pages=[PageSource(source=p, component="tk", media_type="image/png") for p in pages])


@pytest.mark.parametrize("cipher", ["chacha20-poly1305", "aes-256-gcm"])
@pytest.mark.parametrize("size", [0, 1, SEGMENT_SIZE - 1, SEGMENT_SIZE, SEGMENT_SIZE + 1, 3 * SEGMENT_SIZE + 17])
def test_stream_round_trip_every_boundary(cipher: str, size: int) -> None:
    key, data = os.urandom(32), os.urandom(size)
    blob = b"".join(encrypt_stream(key, "d1", io.BytesIO(data), cipher=cipher))
    assert b"".join(decrypt_stream(key, "d1", io.BytesIO(blob))) == data


def _blob(size: int = 3 * SEGMENT_SIZE + 5) -> tuple[bytes, bytes, bytes]:
    key, data = os.urandom(32), os.urandom(size)
    return key, data, b"".join(encrypt_stream(key, "d1", data, cipher="chacha20-poly1305"))


def test_truncation_at_a_segment_boundary_is_detected() -> None:
    key, _, blob = _blob()
    cut = 24 + 2 * (SEGMENT_SIZE + 16)  # header + two whole segments: looks complete but is not
    with pytest.raises(IntegrityError, match="truncated"):
        b"".join(decrypt_stream(key, "d1", io.BytesIO(blob[:cut])))


def test_reordered_segments_are_detected() -> None:
    key, _, blob = _blob()
    seg = SEGMENT_SIZE + 16
    s = [blob[24 + i * seg:24 + (i + 1) * seg] for i in range(3)]
    swapped = blob[:24] + s[1] + s[0] + s[2] + blob[24 + 3 * seg:]
    with pytest.raises(IntegrityError, match="segment 0"):
        b"".join(decrypt_stream(key, "d1", io.BytesIO(swapped)))


def test_flipped_byte_and_wrong_key_and_wrong_dossier_are_refused() -> None:
    key, _, blob = _blob()
    flipped = bytearray(blob)
    flipped[100] ^= 1
    for k, ctx, data in ((key, "d1", bytes(flipped)), (os.urandom(32), "d1", blob), (key, "d2", blob)):
        with pytest.raises(IntegrityError):
            b"".join(decrypt_stream(k, ctx, io.BytesIO(data)))


def test_dossier_round_trip(box_store: Store) -> None:
    pages = [os.urandom(200_000), b"\x89PNG\r\n\x1a\n" + os.urandom(70_000)]
    did, code = _ingest(box_store, *pages)
    assert code.startswith("000.00.06.H56-") and len(code.rsplit("-", 1)[1]) == 4
    dossier = box_store.get(did)
    assert dossier.applicant.full_name == APPLICANT["full_name"]
    assert dossier.status == "finalized" and dossier.sync_state == "sealed"
    for i, data in enumerate(pages, start=1):
        assert b"".join(box_store.read_page(did, i)) == data
    assert box_store.check().ok
    assert [s.id for s in box_store.find_by_id_number("079185001234")] == [did]
    assert [s.id for s in box_store.find_by_name("tran thi NGOC")] == [did]
    assert box_store.find_by_name("Nguyễn") == []
    assert box_store.find_by_code(code).id == did


def test_check_names_a_corrupted_blob_and_a_tampered_field(box_store: Store) -> None:
    did, code = _ingest(box_store, os.urandom(100_000))
    page = box_store.pages(did)[0]
    path = box_store.blobs.path(page.blob)
    data = bytearray(path.read_bytes())
    data[500] ^= 0xFF
    path.write_bytes(bytes(data))
    def flip(conn) -> None:
        sealed = bytearray(conn.execute("SELECT sealed_form FROM dossiers WHERE id = ?", (did,)).fetchone()[0])
        sealed[-1] ^= 1
        conn.execute("UPDATE dossiers SET sealed_form = ? WHERE id = ?", (bytes(sealed), did))

    box_store.write(flip)
    report = box_store.check()
    assert not report.ok
    text = "\n".join(report.problems)
    assert f"dossier {code} page 1" in text and "does not match its hash" in text
    assert "sealed form field does not verify" in text
    with pytest.raises(IntegrityError):
        b"".join(box_store.read_page(did, 1))


def test_flipped_byte_in_the_audit_log_is_reported(box_store: Store) -> None:
    _ingest(box_store, b"page")
    box_store.write(lambda conn: conn.execute(
        "UPDATE audit SET details = replace(details, 'tk', 'xx') WHERE action = 'page.add'"))
    problems = box_store.check().problems
    assert any("content does not match its hash" in p for p in problems), problems


def test_wrong_station_key_is_refused(box_settings, box_store: Store) -> None:
    box_store.close()
    (box_settings.state_dir / "keys" / "station.kek").write_bytes(os.urandom(32))
    with pytest.raises(IntegrityError, match="does not match this store"):
        Store.open(box_settings)


def test_missing_state_dir_says_how_to_create_it(tmp_path) -> None:
    from tests.conftest import make_settings

    with pytest.raises(StoreError, match="init --agency"):
        Store.open(make_settings(tmp_path / "nowhere"))


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("id_number", "12345", "12 chữ số"),
    ("id_number", 79185001234, "chuỗi"),
    ("date_of_birth", "2999-01-01", "tương lai"),
    ("date_of_birth", "30/04/1985", "NNNN-TT-NN"),
    ("full_name", "", "họ và tên"),
    ("nickname", "x", "không hợp lệ"),
])
def test_bad_applicant_is_refused_and_nothing_is_written(box_store: Store, field, value, needle) -> None:
    bad = dict(APPLICANT, **{field: value})
    before = box_store.count()
    with pytest.raises(ValidationError) as err:
        _ingest(box_store, os.urandom(10), applicant=bad)
    assert err.value.field == field and needle in err.value.message_vi
    assert box_store.count() == before and not list(box_store.blobs.all_names())


def test_page_over_the_size_limit_leaves_nothing_behind(box_store: Store) -> None:
    did = box_store.create_draft(procedure_code="1.001612", applicant=APPLICANT, actor="t")
    big = (b"x" * (1 << 20) for _ in range(box_store.settings.store.max_page_mb + 1))
    with pytest.raises(ValidationError):
        box_store.add_page(did, big, media_type="image/png", actor="t")
    assert box_store.pages(did) == () and not list(box_store.blobs.all_names())
    assert not list(box_store.blobs.tmp.iterdir())


def test_disk_full_mid_write_keeps_what_was_committed(box_store: Store, monkeypatch) -> None:
    import errno

    did, _ = _ingest(box_store, b"first page")

    def full(fd):  # the OS boundary: the disk fills up while the page is being made durable
        raise OSError(errno.ENOSPC, "No space left on device")

    kept = set(box_store.blobs.all_names())
    # ingest makes its pages durable with one syncfs (where the system has it), add_page by fsync
    monkeypatch.setattr("edge.store._blobs.os.fsync", full)
    monkeypatch.setattr("edge.store._blobs.syncfs", full)
    with pytest.raises(StoreError, match="disk full") as err:
        _ingest(box_store, os.urandom(300_000))
    assert "đầy" in err.value.message_vi
    monkeypatch.undo()
    assert box_store.count() == 1 and b"".join(box_store.read_page(did, 1)) == b"first page"
    assert not list(box_store.blobs.tmp.iterdir())
    assert set(box_store.blobs.all_names()) == kept  # the failed page's blob is gone too
    assert box_store.check().ok


def test_disk_full_while_adding_a_page_to_a_draft(box_store: Store, monkeypatch) -> None:
    import errno

    did = box_store.create_draft(procedure_code="1.001612", applicant=APPLICANT, actor="t")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("edge.store._blobs.os.fsync", full)
    with pytest.raises(StoreError, match="disk full"):
        box_store.add_page(did, os.urandom(100_000), media_type="image/png", actor="t")
    monkeypatch.undo()
    assert box_store.pages(did) == () and not list(box_store.blobs.all_names())
    assert not list(box_store.blobs.tmp.iterdir())


def test_ingest_without_syncfs_fsyncs_each_page_and_directory(box_store: Store, monkeypatch) -> None:
    synced: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr("edge.store._blobs.syncfs", lambda _path: False)  # a system without syncfs(2)
    monkeypatch.setattr("edge.store._blobs.os.fsync", counting)
    pages = [os.urandom(70_000), os.urandom(140_000)]
    did, _ = _ingest(box_store, *pages)
    assert len(synced) >= 2 + 1  # each page file, and their directories
    for i, data in enumerate(pages, start=1):
        assert b"".join(box_store.read_page(did, i)) == data
    assert box_store.check().ok


def test_finalized_dossier_cannot_be_changed(box_store: Store) -> None:
    did, _ = _ingest(box_store, b"p")
    with pytest.raises(StoreError, match="only a draft"):
        box_store.add_page(did, b"more", media_type="image/png", actor="t")
    with pytest.raises(NotFoundError):
        box_store.get("no-such-id")


def test_draft_workflow_and_codes_never_repeat_when_the_clock_goes_back(box_store: Store) -> None:
    import datetime as dt

    from edge.store import VN_TZ

    day1 = dt.datetime(2027, 3, 2, 9, 0, tzinfo=VN_TZ)
    codes = []
    for received in (day1, day1 + dt.timedelta(days=1), day1):  # the clock jumps back a day
        did = box_store.create_draft(procedure_code="1.001612", applicant=APPLICANT, actor="t")
        box_store.add_page(did, b"page", component="tk", media_type="image/png", actor="t")
        codes.append(box_store.finalize(did, actor="t", received_at=received))
    assert codes == ["000.00.06.H56-270302-0001", "000.00.06.H56-270303-0001", "000.00.06.H56-270302-0002"]
    box_store.close()
    reopened = Store.open(box_store.settings)
    try:
        did = reopened.create_draft(procedure_code="1.001612", applicant=APPLICANT, actor="t")
        assert reopened.finalize(did, actor="t", received_at=day1) == "000.00.06.H56-270302-0003"
    finally:
        reopened.close()


def test_two_boxes_of_one_agency_offline_issue_disjoint_codes(tmp_path) -> None:
    import datetime as dt

    from edge.store import VN_TZ
    from tests.conftest import make_settings

    when = dt.datetime(2027, 2, 3, 10, 0, tzinfo=VN_TZ)
    issued: list[set[str]] = []
    for index in (0, 1):
        settings = make_settings(tmp_path / f"box{index}", station={"code_partition_index": index, "code_partition_size": 500})
        Store.init(settings, agency_code="000.00.06.H56")
        with Store.open(settings) as store:
            codes = set()
            for _ in range(30):
                did = store.create_draft(procedure_code="1.001612", applicant=APPLICANT, actor="t")
                codes.add(store.finalize(did, actor="t", received_at=when))
            issued.append(codes)
    assert len(issued[0]) == len(issued[1]) == 30
    assert not issued[0] & issued[1]
    assert "000.00.06.H56-270203-0501" in issued[1]


def test_sqlite_runs_in_wal_with_full_sync(box_store: Store) -> None:
    conn = sqlite3.connect(box_store.root / "motcua.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = {r["name"] for r in box_store.query("SELECT name FROM _sqlite_migrations WHERE migration_set = 'store'")}
    assert "0001_core" in names
    assert box_store.write(lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0]) == 2  # FULL
