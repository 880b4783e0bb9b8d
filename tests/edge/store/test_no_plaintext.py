"""No citizen data in the clear anywhere under the state directory: database, WAL, blobs, logs."""

from __future__ import annotations

import logging
import os

from edge.store import PageSource, Store
from tests.plaintext import encodings_of, find_plaintext

NAME = "Lê Thị Hồng Nhung"
ADDRESS = "Số 7 ngõ Thổ Quan, phường Văn Chương"
ID_NUMBER = "038192004567"
PHONE = "0912345678"
PAGE_MARKER = b"PAGE-MARKER-" + os.urandom(8).hex().encode()


def test_encodings_helper_finds_what_it_should(tmp_path) -> None:
    """The search itself must be able to fail: plant each encoding and find it."""
    for i, data in enumerate(encodings_of(NAME).values()):
        (tmp_path / f"f{i}").write_bytes(b"xx" + data + b"yy")
    assert len(find_plaintext(tmp_path, [NAME])) >= 6


def test_state_dir_holds_no_plaintext(box_settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    Store.init(box_settings, agency_code="000.00.06.H56")
    applicant = {"full_name": NAME, "id_number": ID_NUMBER, "address": ADDRESS, "phone": PHONE,
                 "date_of_birth": "1992-11-05", "gender": "Nữ"}
    with Store.open(box_settings) as store:
        page = os.urandom(1000) + PAGE_MARKER * 50 + os.urandom(1000)
        did, _ = store.ingest(procedure_code="1.001612", applicant=applicant, actor="t",
                              pages=[PageSource(source=page, media_type="image/png")],
                              form={"ghi_chu": f"Người nộp {NAME} ở {ADDRESS}"})
        d2 = store.create_draft(procedure_code="1.001612", applicant=applicant, actor="t")
        store.update_draft(d2, actor="t", applicant=dict(applicant, full_name=NAME + " B"))
        store.add_page(d2, PAGE_MARKER * 10, media_type="image/png", actor="t")
        assert store.find_by_name("nhung")
        assert store.get(did).applicant.full_name == NAME
    log_file = box_settings.state_dir / "test.log"
    log_file.write_text("\n".join(r.getMessage() for r in caplog.records))
    markers = [NAME, ADDRESS, ID_NUMBER, PHONE, "1992-11-05", "Hồng Nhung"]
    assert find_plaintext(box_settings.state_dir, markers, [PAGE_MARKER]) == []
