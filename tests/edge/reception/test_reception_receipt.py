"""Receipt PDF (form 01): text read back with pdftotext, embedded QR images, printing via lp."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
import subprocess
import unicodedata
from pathlib import Path

import pytest
import segno
from PIL import Image

from edge.errors import ValidationError
from edge.reception import (
    PrintError,
    ReceiptComponent,
    ReceiptData,
    build_vietqr,
    code_from_scan,
    print_pdf,
    receipt_qr_payload,
    render_receipt,
)

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdfimages") is None,
                                reason="poppler-utils (pdftotext, pdfimages) is not installed")

CODE = "000.00.06.H56-270203-0007"
TRACKING = "https://dichvucong.example.gov.vn/tra-cuu?ma="


def make_receipt(**changes) -> ReceiptData:
    values = dict(
        agency_name="Ủy ban nhân dân phường Hạc Thành",
        station_name="Điểm tiếp nhận Hạc Thành",
        station_address="Số 1 đường Lê Lợi",
        place="Thanh Hóa",
        code=CODE,
        applicant_name="Nguyễn Thị Hồng Nhung",
        applicant_address="Số 5 phố Hàng Bạc, phường Hoàn Kiếm",
        applicant_phone="0912345678",
        applicant_email="nhung@example.vn",
        procedure_name="Đăng ký thành lập hộ kinh doanh",
        procedure_code="2.000720",
        components=(ReceiptComponent(name="Giấy đề nghị đăng ký hộ kinh doanh", kind="original"),
                    ReceiptComponent(name="Bản sao giấy tờ pháp lý của cá nhân", kind="certified_copy", count=2)),
        sets=1,
        processing_time="3 ngày làm việc",
        received_at=dt.datetime(2027, 2, 3, 10, 0),
        due_at=dt.datetime(2027, 2, 15, 10, 0),
        result_place="Bộ phận Tiếp nhận và Trả kết quả",
        fee_amount=100000,
        fee_paid_method="cash",
        fee_receipt_number="BL-0001234",
        clerk_name="Trần Văn Đức",
        tracking_url=TRACKING,
    )
    values.update(changes)
    return ReceiptData(**values)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return unicodedata.normalize("NFC", out.stdout.decode("utf-8"))


def pdf_images(pdf: bytes, tmp_path: Path) -> list[Image.Image]:
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdfimages", "-png", str(path), str(tmp_path / "img")], check=True)
    return [Image.open(p).convert("L") for p in sorted(tmp_path.glob("img-*.png"))]


def matches_qr(image: Image.Image, payload: str) -> bool:
    """True if the image is exactly segno's QR symbol for ``payload`` (one pixel per module)."""
    matrix = segno.make(payload, error="m", micro=False).matrix
    if image.size != (len(matrix[0]), len(matrix)):
        return False
    pixels = image.load()
    return all((pixels[x, y] < 128) == bool(matrix[y][x]) for y in range(len(matrix)) for x in range(len(matrix[0])))


def test_receipt_text_two_copies_and_vietnamese(tmp_path):
    pdf = render_receipt(receipt=make_receipt())
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf, tmp_path)
    pages = text.split("\f")
    assert len([p for p in pages if p.strip()]) == 2
    assert "Liên 1: Lưu" in pages[0] and "Liên 2: Giao người nộp hồ sơ" in pages[1]
    for page in pages[:2]:
        assert CODE in page
        assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in page
        assert "BỘ PHẬN TIẾP NHẬN VÀ TRẢ KẾT QUẢ" in page
        assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in page
        assert "Nguyễn Thị Hồng Nhung" in page
        assert "Trần Văn Đức" in page
        assert "Đăng ký thành lập hộ kinh doanh" in page
        assert "Bản sao chứng thực" in page and "Bản chính" in page
        assert "10 giờ 00 phút, Thứ Hai ngày 15/02/2027" in page  # the appointment
        assert "10 giờ 00 phút, Thứ Tư ngày 03/02/2027" in page  # received
        assert "Thanh Hóa, ngày 03 tháng 02 năm 2027" in page
        assert "100.000 đồng" in page and "biên lai số BL-0001234" in page
        assert TRACKING + CODE in page


def test_every_vietnamese_letter_survives(tmp_path):
    letters = "ạảãàáâậầấẩẫăắằặẳẵóòọõỏôộổỗồốơờớợởỡéèẻẹẽêếềệểễúùụủũưựữửừứíìịỉĩýỳỷỵỹđ"
    words = [letters[i:i + 8] for i in range(0, len(letters), 8)]
    name = " ".join(["Người", "nộp", *words, *(w.upper() for w in words)])
    # NFD input (as some keyboards and card readers send) is printed as NFC
    text = pdf_text(render_receipt(receipt=make_receipt(applicant_name=unicodedata.normalize("NFD", name))), tmp_path)
    assert name in " ".join(text.split())


def test_qr_and_barcode_and_vietqr_images(tmp_path):
    payload = build_vietqr(bank_bin="970415", account="0011001932418", amount=100000, purpose=CODE)
    pdf = render_receipt(receipt=make_receipt(fee_paid_method="vietqr", fee_receipt_number="", vietqr_payload=payload))
    images = pdf_images(pdf, tmp_path)
    tracking = receipt_qr_payload(CODE, TRACKING)
    assert sum(matches_qr(i, tracking) for i in images) == 2  # one per copy
    assert sum(matches_qr(i, payload) for i in images) == 2
    assert "Chuyển khoản (VietQR)" in pdf_text(pdf, tmp_path)
    # without a VietQR payload only the tracking QR is embedded
    for old in tmp_path.glob("img-*.png"):
        old.unlink()
    assert len(pdf_images(render_receipt(receipt=make_receipt()), tmp_path)) == 2


def test_barcode_is_drawn_as_vector_bars():
    from reportlab.graphics.barcode.code39 import Standard39

    bars = Standard39(CODE, checksum=0)
    bars.validate()
    bars.encode()
    assert bars.valid  # every character of a dossier code is in the Code 39 set
    assert len(bars.encoded) == len(CODE) + 2  # with the start/stop characters


def test_no_fee_and_unpaid_fee(tmp_path):
    assert "Không thu phí" in pdf_text(render_receipt(receipt=make_receipt(fee_amount=0, fee_paid_method="")), tmp_path)
    assert "Chưa nộp" in pdf_text(render_receipt(receipt=make_receipt(fee_paid_method="")), tmp_path)


def test_many_components_flow_onto_more_pages(tmp_path):
    components = tuple(ReceiptComponent(name=f"Giấy tờ thứ {i}", kind="photocopy") for i in range(60))
    text = pdf_text(render_receipt(receipt=make_receipt(components=components)), tmp_path)
    assert "Giấy tờ thứ 59" in text and text.count(CODE) >= 2


def test_missing_data_is_refused():
    with pytest.raises(ValidationError) as err:
        render_receipt(receipt=make_receipt(applicant_name=" "))
    assert err.value.field == "applicant_name"
    with pytest.raises(ValidationError):
        render_receipt(receipt=make_receipt(due_at=dt.datetime(2027, 1, 1)))


def test_code_from_scan():
    assert code_from_scan(TRACKING + CODE) == CODE
    assert code_from_scan(f"  {CODE}\n") == CODE
    with pytest.raises(ValidationError):
        code_from_scan("https://example.org/")


# ---------------------------------------------------------------- printing through lp


def fake_lp(tmp_path: Path, body: str) -> dict[str, str]:
    """A stand-in for CUPS' lp at the OS boundary: a script first on PATH."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "lp"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{bindir}:{os.environ['PATH']}"}


def test_print_sends_the_pdf_on_stdin(tmp_path, monkeypatch):
    spool = tmp_path / "spool.pdf"
    args = tmp_path / "args"
    env = fake_lp(tmp_path, f'echo "$@" > {args}\ncat > {spool}\necho "request id is quay-7 (1 file(s))"\n')
    monkeypatch.setenv("PATH", env["PATH"])
    pdf = render_receipt(receipt=make_receipt())
    assert print_pdf(pdf, "quay", title=CODE) == "request id is quay-7 (1 file(s))"
    assert spool.read_bytes() == pdf
    assert args.read_text().split() == ["-d", "quay", "-t", CODE, "-"]


def test_print_failure_is_reported(tmp_path, monkeypatch):
    env = fake_lp(tmp_path, 'cat > /dev/null\necho "lp: The printer or class does not exist." >&2\nexit 1\n')
    monkeypatch.setenv("PATH", env["PATH"])
    with pytest.raises(PrintError) as err:
        print_pdf(render_receipt(receipt=make_receipt()), "missing")
    assert "does not exist" in str(err.value)
    assert err.value.message_vi


@pytest.mark.skipif(shutil.which("lp") is None, reason="cups-client (lp) is not installed")
def test_real_lp_without_a_printer_fails_cleanly(monkeypatch):
    monkeypatch.setenv("CUPS_SERVER", "127.0.0.1:9")  # nothing listens there: lp must fail
    with pytest.raises(PrintError):
        print_pdf(render_receipt(receipt=make_receipt()), "no-such-printer", timeout=30)


def test_print_refuses_bad_input():
    with pytest.raises(PrintError):
        print_pdf(b"not a pdf", "quay")
    with pytest.raises(PrintError):
        print_pdf(b"%PDF-1.4", "bad name; rm -rf")


def test_aware_times_are_printed_in_vietnam_time(tmp_path):
    utc = dt.UTC
    receipt = make_receipt(received_at=dt.datetime(2027, 2, 3, 3, 0, tzinfo=utc),
                           due_at=dt.datetime(2027, 2, 15, 3, 0, tzinfo=utc))
    text = pdf_text(render_receipt(receipt=receipt), tmp_path)
    assert "10 giờ 00 phút, Thứ Hai ngày 15/02/2027" in text
