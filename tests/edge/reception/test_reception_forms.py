"""Forms 01, 02, 03 as versioned data: the templates, the text read back with pdftotext, the
dossier code as QR (and Code 39) on each copy, and bad templates refused."""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil

import pytest

from edge.errors import ValidationError
from edge.reception import (
    CounterFormData,
    SupplementItem,
    form_template,
    parse_templates,
    receipt_qr_payload,
    render_form,
    render_receipt,
    templates,
)
from edge.reception._forms import FORMS_FILE
from tests.edge.reception.test_reception_receipt import (
    CODE,
    TRACKING,
    make_receipt,
    matches_qr,
    pdf_images,
    pdf_text,
)

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdfimages") is None,
                                reason="poppler-utils (pdftotext, pdfimages) is not installed")


def make_form(**changes) -> CounterFormData:
    values = dict(agency_name="Ủy ban nhân dân phường Hạc Thành", station_name="Điểm tiếp nhận Hạc Thành",
                  place="Thanh Hóa", code=CODE, applicant_name="Nguyễn Thị Hồng Nhung",
                  procedure_name="Đăng ký thành lập hộ kinh doanh", procedure_code="2.000720",
                  received_at=dt.datetime(2027, 2, 3, 10, 0), clerk_name="Trần Văn Đức", tracking_url=TRACKING)
    values.update(changes)
    return CounterFormData(**values)


def test_the_shipped_templates_carry_their_legal_basis_and_version():
    numbers = {t.number: t for t in templates()}
    assert set(numbers) >= {"01", "02", "03"}
    for t in numbers.values():
        assert "Thông tư số 03/2025/TT-VPCP" in t.legal_basis and t.effective_from == dt.date(2025, 9, 15)
        assert len(t.copies) == 2
    assert form_template("03", at=dt.date(2027, 1, 1)).title == "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ"
    with pytest.raises(ValidationError) as err:
        form_template("02", at=dt.date(2025, 9, 14))
    assert "Chưa có mẫu số 02 có hiệu lực vào ngày 14/09/2025" in err.value.message_vi


def test_a_later_circular_is_a_data_change():
    doc = json.loads(FORMS_FILE.read_text(encoding="utf-8"))
    later = copy.deepcopy(next(t for t in doc["templates"] if t["number"] == "03"))
    later.update(id="tt99-2028-03", legal_basis="Mẫu số 03, Thông tư số 99/2028/TT-VPCP", effective_from="2028-01-01")
    parsed = parse_templates({"templates": [*doc["templates"], later]})
    assert [t.id for t in parsed if t.number == "03"] == ["tt03-2025-03", "tt99-2028-03"]


@pytest.mark.parametrize("change, vi_part", [
    ({"number": "09"}, "số mẫu phải từ 01 đến 07"),
    ({"effective_from": "1/7/2025"}, "không đúng định dạng YYYY-MM-DD"),
    ({"paragraphs": ["Xin chào {citizen_secret}"]}, "chỗ điền '{citizen_secret}' không được hỗ trợ"),
    ({"copies": []}, "trường 'copies'"),
    ({"colour": "red"}, "trường không hợp lệ 'colour'"),
])
def test_bad_templates_are_refused(change, vi_part):
    doc = json.loads(FORMS_FILE.read_text(encoding="utf-8"))
    doc["templates"][1].update(change)
    with pytest.raises(ValidationError) as err:
        parse_templates(doc)
    assert vi_part in err.value.message_vi


def test_form_01_prints_its_template_and_legal_basis(tmp_path):
    text = pdf_text(render_receipt(receipt=make_receipt()), tmp_path)
    pages = [p for p in text.split("\f") if p.strip()]
    assert len(pages) == 2
    assert all("Mẫu số 01, Phụ lục I, Thông tư số 03/2025/TT-VPCP" in p for p in pages)


def test_form_02_lists_what_is_missing_by_component(tmp_path):
    items = (SupplementItem(component="GDN", name="Giấy đề nghị đăng ký hộ kinh doanh", note="Thiếu chữ ký của chủ hộ"),
             SupplementItem(component="GTTT", name="Bản sao giấy tờ pháp lý của cá nhân", note="Bản sao đã hết hạn"))
    pdf = render_form(form_template("02", at=dt.date(2027, 2, 3)), make_form(items=items))
    text = " ".join(pdf_text(pdf, tmp_path).split())
    pages = [p for p in pdf_text(pdf, tmp_path).split("\f") if p.strip()]
    assert len(pages) == 2 and "Liên 1: Lưu" in pages[0] and "Liên 2: Giao người nộp hồ sơ" in pages[1]
    for expected in ("PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                     "Thanh Hóa, ngày 03 tháng 02 năm 2027", CODE, "Nguyễn Thị Hồng Nhung",
                     "chưa đầy đủ, chưa hợp lệ", "(GDN)", "Thiếu chữ ký của chủ hộ", "(GTTT)", "Bản sao đã hết hạn",
                     "NGƯỜI HƯỚNG DẪN", "Trần Văn Đức", "Mẫu số 02, Phụ lục I, Thông tư số 03/2025/TT-VPCP"):
        assert expected in text, expected
    tracking = receipt_qr_payload(CODE, TRACKING)
    assert sum(matches_qr(i, tracking) for i in pdf_images(pdf, tmp_path)) == 2  # one QR per copy


def test_form_03_prints_the_reason_the_legal_basis_and_signatures(tmp_path):
    pdf = render_form(form_template("03", at=dt.date(2027, 2, 3)),
                      make_form(reason="Hồ sơ không thuộc thẩm quyền giải quyết của Ủy ban nhân dân cấp xã",
                                legal_basis="Điều 19 Nghị định số 118/2025/NĐ-CP"))
    text = " ".join(pdf_text(pdf, tmp_path).split())
    for expected in ("PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ", "không thuộc thẩm quyền giải quyết",
                     "Căn cứ quy định tại: Điều 19 Nghị định số 118/2025/NĐ-CP", "NGƯỜI NỘP HỒ SƠ",
                     "NGƯỜI TIẾP NHẬN HỒ SƠ", "Mẫu số 03, Phụ lục I", CODE):
        assert expected in text, expected
    # without a legal basis the line is left to be written by hand
    blank = " ".join(pdf_text(render_form(form_template("03", at=dt.date(2027, 2, 3)), make_form(reason="Lý do")),
                              tmp_path).split())
    assert "Căn cứ quy định tại: ……" in blank


def test_the_counter_forms_refuse_what_is_missing():
    with pytest.raises(ValidationError) as err:
        render_form(form_template("03", at=dt.date(2027, 2, 3)), make_form(reason="  "))
    assert "phải ghi rõ lý do" in err.value.message_vi
    with pytest.raises(ValidationError) as err:
        render_form(form_template("02", at=dt.date(2027, 2, 3)), make_form())
    assert "ít nhất một thành phần" in err.value.message_vi
