"""The receipt and forms 02/03 drawn in a short-lived helper process: the same PDF, no reportlab in
the caller, and a failure is a clear Vietnamese error with no partial PDF."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys

import pytest

from edge.errors import ValidationError
from edge.reception import (
    ReceiptError,
    SupplementItem,
    form_template,
    render_form,
    render_form_apart,
    render_receipt,
    render_receipt_apart,
)
from tests.edge.reception.test_reception_forms import make_form
from tests.edge.reception.test_reception_receipt import CODE, make_receipt, pdf_text

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdfimages") is None,
                                reason="poppler-utils (pdftotext, pdfimages) is not installed")


def test_the_helper_draws_the_same_receipt(tmp_path):
    apart = render_receipt_apart(receipt=make_receipt())
    assert apart.startswith(b"%PDF") and apart.rstrip().endswith(b"%%EOF")
    text = pdf_text(apart, tmp_path)
    assert text == pdf_text(render_receipt(receipt=make_receipt()), tmp_path)
    assert "Nguyễn Thị Hồng Nhung" in text and CODE in text and text.count("GIẤY TIẾP NHẬN HỒ SƠ") == 2


def test_the_helper_draws_form_02(tmp_path):
    template = form_template("02", at=dt.date(2027, 2, 3))
    data = make_form(items=(SupplementItem(component="CT01", name="Tờ khai", note="Thiếu chữ ký"),))
    text = pdf_text(render_form_apart(template, data), tmp_path)
    assert "Thiếu chữ ký" in text and text == pdf_text(render_form(template, data), tmp_path)


PROBE = """
import datetime as dt, json, sys
from edge.reception import ReceiptData, render_receipt_apart
receipt = ReceiptData(agency_name="UBND phường Hạc Thành", station_name="Điểm Hạc Thành", code="CODE_HERE",
                      applicant_name="Nguyễn Thị Hồng Nhung", procedure_name="Đăng ký hộ kinh doanh",
                      received_at=dt.datetime(2027, 2, 3, 10), due_at=dt.datetime(2027, 2, 8, 10),
                      processing_time="3 ngày làm việc", result_place="Bộ phận một cửa", clerk_name="Trần Văn Đức")
pdf = render_receipt_apart(receipt=receipt)
print(json.dumps({"pdf": pdf.startswith(b"%PDF"),
                  "loaded": sorted(m for m in sys.modules if m.startswith(("reportlab", "edge.reception._draw")))}))
"""


def test_the_caller_never_loads_reportlab():
    done = subprocess.run([sys.executable, "-c", PROBE.replace("CODE_HERE", CODE)], capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"pdf": True, "loaded": []}


def test_a_clerks_mistake_is_answered_before_any_helper_starts(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")  # a helper would fail otherwise
    with pytest.raises(ValidationError) as err:
        render_receipt_apart(receipt=make_receipt(applicant_name=" "))
    assert "để in giấy hẹn" in err.value.message_vi
    with pytest.raises(ValidationError) as err:
        render_form_apart(form_template("03", at=dt.date(2027, 2, 3)), make_form(reason=" "))
    assert "lý do từ chối" in err.value.message_vi


@pytest.mark.parametrize("interpreter, vi_part", [
    ("/nonexistent/python", "không khởi động được"),
    ("/bin/false", "giấy tiếp nhận"),  # the helper exits with an error
    ("/bin/true", "giấy tiếp nhận"),  # the helper exits 0 with nothing: no PDF is taken for one
])
def test_a_failed_helper_is_a_clear_error_and_no_pdf(monkeypatch, interpreter, vi_part):
    monkeypatch.setattr(sys, "executable", interpreter)  # the OS boundary: which program runs
    with pytest.raises(ReceiptError) as err:
        render_receipt_apart(receipt=make_receipt())
    assert vi_part in err.value.message_vi and "Không tạo được tệp PDF" in err.value.message_vi


def test_a_helper_that_overruns_is_stopped():
    with pytest.raises(ReceiptError) as err:
        render_receipt_apart(receipt=make_receipt(), timeout=0.01)
    assert "quá 0.01 giây" in err.value.message_vi
