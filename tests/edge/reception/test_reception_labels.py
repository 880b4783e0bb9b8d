"""One word for a copy: the receipt prints what the screen shows ("Bản sao"), both from core.labels."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import jinja2
import pytest

from core import labels
from edge.reception import KIND_VI, ReceiptComponent, ReceiptData, render_receipt
from edge.web._format import register_filters


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed")
def test_receipt_and_screen_name_a_photocopy_alike(tmp_path):
    receipt = ReceiptData(
        agency_name="Ủy ban nhân dân phường Hạc Thành", station_name="Điểm tiếp nhận Hạc Thành",
        station_address="Số 1 đường Lê Lợi", place="Thanh Hóa", code="000.00.06.H56-270203-0007",
        applicant_name="Nguyễn Thị Hồng Nhung", applicant_address="Hà Nội", applicant_phone="0912345678",
        applicant_email="", procedure_name="Đăng ký thường trú", procedure_code="1.004222",
        components=(ReceiptComponent(name="Sổ hộ khẩu", kind="photocopy"),), sets=1,
        processing_time="3 ngày làm việc", received_at=dt.datetime(2027, 2, 3, 10, 0),
        due_at=dt.datetime(2027, 2, 15, 10, 0), result_place="Bộ phận Tiếp nhận và Trả kết quả",
        fee_amount=0, fee_paid_method="", fee_receipt_number="", clerk_name="Trần Văn Đức",
        tracking_url="https://dichvucong.example.gov.vn/tra-cuu?ma=")
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render_receipt(receipt=receipt))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    env = jinja2.Environment(autoescape=True)
    register_filters(env)
    screen = env.from_string("{{ 'photocopy'|kind_vi }}").render()
    assert screen == labels.DOCUMENT_KIND_VI["photocopy"] == KIND_VI["photocopy"] == "Bản sao"
    assert "Bản sao" in text and "Bản photo" not in text


def test_city_and_sync_words_come_from_the_one_table():
    env = jinja2.Environment(autoescape=True)
    register_filters(env)
    for number, words in labels.CITY_STATUS_VI.items():
        assert env.from_string("{{ s|city_vi }}").render(s=str(number)) == words
    assert env.from_string("{{ s|sync_vi }}").render(s="sealed") == labels.OUTBOX_STATE_VI["sealed"]
    assert env.from_string("{{ s|sync_vi }}").render(s=None) == "Chưa gửi"


def test_outbox_and_protocol_words_are_the_table_s():
    from edge.outbox import LABELS_VI
    from sync.protocol import DOSSIER_STATUS_VI

    assert {str(k): v for k, v in LABELS_VI.items()} == {k: v for k, v in labels.OUTBOX_STATE_VI.items() if k}
    assert dict(DOSSIER_STATUS_VI) == dict(labels.CITY_STATUS_VI)
