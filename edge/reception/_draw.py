"""The counter's PDFs drawn with reportlab: the receipt (form 01) and forms 02/03.

Only a short-lived helper process imports this module in the daemon (``_helper``): reportlab, its
glyph tables of the DejaVu faces and this module hold ~22 MB that the daemon would otherwise keep
for its life. The CLI and tests may call it in-process. Bytes only, never written to disk.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import segno
from reportlab.graphics.barcode import createBarcodeDrawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from ._calendar import WEEKDAY_VI
from ._catalog import KIND_VI
from ._forms import CounterFormData, FormTemplate, SupplementItem, _fill, check_form, form_template
from ._receipt import (
    PAYMENT_VI,
    ReceiptData,
    ReceiptError,
    _t,
    check_receipt,
    receipt_qr_payload,
    vn_local,
)

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
# The faces the receipt uses. Each parsed face holds ~7 MB for the daemon's life (reportlab keeps
# its glyph tables): the receipt has no bold italic text, so that face is not loaded (bold
# italic, were it ever asked for, is set in bold).
_FONTS = {"DejaVuSans": "DejaVuSans.ttf", "DejaVuSans-Bold": "DejaVuSans-Bold.ttf",
          "DejaVuSans-Oblique": "DejaVuSans-Oblique.ttf"}

def _register_fonts() -> None:
    if "DejaVuSans" in pdfmetrics.getRegisteredFontNames():
        return
    for name, file in _FONTS.items():
        path = FONT_DIR / file
        if not path.exists():
            raise ReceiptError(f"font {path} is missing (install fonts-dejavu-core and fonts-dejavu-extra)",
                               message_vi="Thiếu phông chữ DejaVu để in giấy hẹn.")
        pdfmetrics.registerFont(TTFont(name, str(path)))
    pdfmetrics.registerFontFamily("DejaVuSans", normal="DejaVuSans", bold="DejaVuSans-Bold",
                                  italic="DejaVuSans-Oblique", boldItalic="DejaVuSans-Bold")


def _money(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " đồng"


def _when(moment: dt.datetime) -> str:
    return (f"{moment:%H} giờ {moment:%M} phút, {WEEKDAY_VI[moment.weekday()]} "
            f"ngày {moment:%d/%m/%Y}")


def _png(payload: str, *, scale: int = 1) -> bytes:
    buf = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(buf, kind="png", scale=scale, border=0)
    return buf.getvalue()


def _qr_image(payload: str, size: float) -> Image:
    image = Image(io.BytesIO(_png(payload)), width=size, height=size)
    image.hAlign = "CENTER"
    return image


class _Styles:
    def __init__(self) -> None:
        base = ParagraphStyle("base", fontName="DejaVuSans", fontSize=10, leading=13.5)
        self.body = base
        self.small = ParagraphStyle("small", parent=base, fontSize=8, leading=10)
        self.center = ParagraphStyle("center", parent=base, alignment=TA_CENTER)
        self.center_small = ParagraphStyle("center_small", parent=self.small, alignment=TA_CENTER)
        self.title = ParagraphStyle("title", parent=base, fontName="DejaVuSans-Bold", fontSize=12,
                                    leading=15, alignment=TA_CENTER)
        self.cell = ParagraphStyle("cell", parent=base, fontSize=9, leading=11.5)


def _header(r: ReceiptData, copy_label: str, s: _Styles, width: float, *,
            title: str = "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ") -> list:
    """Agency, motto, date line, the form's title, the dossier code as Code 39 and as QR.

    ``r`` is any record with ``agency_name``, ``station_name``, ``place``, ``received_at`` (the
    date line), ``code`` and ``tracking_url`` (the receipt, or another form of ``_forms``)."""
    left = [Paragraph(_t(r.agency_name.upper()), s.center),
            Paragraph("<b>BỘ PHẬN TIẾP NHẬN VÀ TRẢ KẾT QUẢ</b>", s.center),
            Paragraph(_t(r.station_name), s.center_small)]
    right = [Paragraph("<b>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</b>", s.center),
             Paragraph("<b>Độc lập - Tự do - Hạnh phúc</b>", s.center),
             Spacer(1, 3),
             Paragraph(f"<i>{_t(r.place) + ', ' if r.place else ''}ngày {r.received_at:%d} tháng "
                       f"{r.received_at:%m} năm {r.received_at:%Y}</i>", s.center)]
    top = Table([[left, right]], colWidths=[width * 0.45, width * 0.55])
    top.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                             ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    barcode = createBarcodeDrawing("Standard39", value=r.code.upper(), barWidth=0.68, barHeight=26,
                                   humanReadable=False, checksum=0, quiet=0)
    title = [Paragraph(_t(title), s.title),
             Spacer(1, 2),
             Paragraph(f"Mã hồ sơ: <b>{_t(r.code)}</b>", s.center),
             Spacer(1, 3), barcode,
             Paragraph(f"({_t(copy_label)})", s.center_small)]
    qr = [_qr_image(receipt_qr_payload(r.code, r.tracking_url), 28 * mm),
          Paragraph("Quét để tra cứu", s.center_small)]
    middle = Table([["", title, qr]], colWidths=[width * 0.18, width * 0.64, width * 0.18])
    middle.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (1, 0), (1, 0), "CENTER"),
                                ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    return [top, Spacer(1, 6 * mm), middle, Spacer(1, 4 * mm)]


def _components(r: ReceiptData, s: _Styles, width: float) -> Table:
    rows = [[Paragraph("<b>STT</b>", s.cell), Paragraph("<b>Tên giấy tờ</b>", s.cell),
             Paragraph("<b>Hình thức</b>", s.cell), Paragraph("<b>Số lượng</b>", s.cell)]]
    for i, c in enumerate(r.components, 1):
        rows.append([Paragraph(str(i), s.cell), Paragraph(_t(c.name), s.cell),
                     Paragraph(_t(KIND_VI.get(c.kind, c.kind)), s.cell), Paragraph(str(c.count), s.cell)])
    if not r.components:
        rows.append(["", Paragraph("(không có)", s.cell), "", ""])
    table = Table(rows, colWidths=[width * 0.08, width * 0.58, width * 0.22, width * 0.12], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                               ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee"))]))
    return table


def _fee_line(r: ReceiptData) -> str:
    if r.fee_amount <= 0:
        return "7. Phí, lệ phí: Không thu phí."
    text = f"7. Phí, lệ phí: <b>{_money(r.fee_amount)}</b>"
    if r.fee_paid_method:
        text += f" — Đã nộp: {_t(PAYMENT_VI.get(r.fee_paid_method, r.fee_paid_method))}"
        if r.fee_receipt_number:
            text += f" (biên lai số {_t(r.fee_receipt_number)})"
    else:
        text += " — Chưa nộp."
    return text


def _body(r: ReceiptData, s: _Styles, width: float) -> list:
    p = s.body
    contact = []
    if r.applicant_phone:
        contact.append(f"Số điện thoại: {_t(r.applicant_phone)}")
    if r.applicant_email:
        contact.append(f"Email: {_t(r.applicant_email)}")
    procedure = _t(r.procedure_name) + (f" (mã thủ tục {_t(r.procedure_code)})" if r.procedure_code else "")
    out: list = [
        Paragraph(f"Bộ phận tiếp nhận và trả kết quả: {_t(r.station_name)}"
                  + (f", {_t(r.station_address)}" if r.station_address else ""), p),
        Paragraph(f"Tiếp nhận hồ sơ của: <b>{_t(r.applicant_name)}</b>", p),
        Paragraph(f"Địa chỉ: {_t(r.applicant_address) or '…'}", p),
        Paragraph("; ".join(contact) if contact else "Số điện thoại: …; Email: …", p),
        Paragraph(f"Nội dung yêu cầu giải quyết: <b>{procedure}</b>", p),
        Spacer(1, 2 * mm),
        Paragraph("1. Giấy tờ trong hồ sơ gồm:", p),
        _components(r, s, width),
        Spacer(1, 2 * mm),
        Paragraph(f"2. Số lượng hồ sơ: {r.sets} (bộ)", p),
        Paragraph(f"3. Thời gian giải quyết hồ sơ theo quy định là: {_t(r.processing_time)}", p),
        Paragraph(f"4. Thời gian nhận hồ sơ: {_when(r.received_at)}", p),
        Paragraph(f"5. Thời gian trả kết quả giải quyết hồ sơ: <b>{_when(r.due_at)}</b>", p),
        Paragraph(f"6. Nhận kết quả tại: {_t(r.result_place)}", p),
        Paragraph(_fee_line(r), p),
    ]
    if r.vietqr_payload:
        qr = Table([[_qr_image(r.vietqr_payload, 26 * mm),
                     Paragraph("Quét mã VietQR bằng ứng dụng ngân hàng để nộp phí, lệ phí "
                               f"({_money(r.fee_amount)}; nội dung: mã hồ sơ).", s.small)]],
                   colWidths=[30 * mm, width - 30 * mm])
        qr.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
        out.append(qr)
    out.append(Paragraph(f"Vào Sổ theo dõi hồ sơ, Quyển số: {_t(r.register_book) or '……'}, "
                         f"Số thứ tự: {_t(r.register_number) or '……'}", p))
    out.append(Spacer(1, 5 * mm))
    signatures = Table([
        [Paragraph("<b>NGƯỜI NỘP HỒ SƠ</b>", s.center), Paragraph("<b>NGƯỜI TIẾP NHẬN HỒ SƠ</b>", s.center)],
        [Paragraph("<i>(Ký và ghi rõ họ tên)</i>", s.center_small), Paragraph("<i>(Ký và ghi rõ họ tên)</i>", s.center_small)],
        [Spacer(1, 16 * mm), Spacer(1, 16 * mm)],
        [Paragraph(_t(r.applicant_name), s.center), Paragraph(_t(r.clerk_name), s.center)],
    ], colWidths=[width / 2, width / 2])
    out.append(KeepTogether([signatures]))
    if r.tracking_url:
        out.append(Spacer(1, 3 * mm))
        out.append(Paragraph(f"Tra cứu tiến độ giải quyết hồ sơ: {_t(receipt_qr_payload(r.code, r.tracking_url))}",
                             s.small))
    return out


def render_receipt(*, receipt: ReceiptData, template=None) -> bytes:
    """The receipt as PDF bytes: the copies of form 01 (two), one per page. Aware times are shown
    in Vietnam time. ``template``: the form 01 template (``_forms``); default the one in force on
    the day received."""
    template = template or form_template("01", at=vn_local(receipt.received_at).date())
    receipt = check_receipt(receipt)
    _register_fonts()
    styles = _Styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm,
                            title=f"{template.title.capitalize()} {receipt.code}",
                            author=receipt.agency_name, creator="motcua")
    story: list = []
    for i, label in enumerate(template.copies):
        if i:
            story.append(PageBreak())
        story += _header(receipt, label, styles, doc.width, title=template.title)
        story += _body(receipt, styles, doc.width)
        story.append(Paragraph(_t(template.legal_basis), styles.center_small))
    doc.build(story)
    return buf.getvalue()


def _items_table(items: tuple[SupplementItem, ...], s: _Styles, width: float) -> Table:
    rows = [[Paragraph("<b>STT</b>", s.cell), Paragraph("<b>Thành phần hồ sơ</b>", s.cell),
             Paragraph("<b>Nội dung cần bổ sung, hoàn thiện</b>", s.cell)]]
    for i, item in enumerate(items, 1):
        rows.append([Paragraph(str(i), s.cell), Paragraph(f"{_t(item.name)} ({_t(item.component)})", s.cell),
                     Paragraph(_t(item.note), s.cell)])
    table = Table(rows, colWidths=[width * 0.08, width * 0.46, width * 0.46], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee"))]))
    return table


def _signatures(template: FormTemplate, names: tuple[str, ...], s: _Styles, width: float) -> Table:
    n = len(template.signatures)
    rows = [[Paragraph(f"<b>{_t(label)}</b>", s.center) for label in template.signatures],
            [Paragraph("<i>(Ký và ghi rõ họ tên)</i>", s.center_small) for _ in template.signatures],
            [Spacer(1, 16 * mm) for _ in template.signatures],
            [Paragraph(_t(names[i] if i < len(names) else ""), s.center) for i in range(n)]]
    return Table(rows, colWidths=[width / n] * n)


def render_form(template: FormTemplate, data: CounterFormData) -> bytes:
    """Form 02 or 03 as PDF bytes: each copy of the template on its own page."""
    data = check_form(template, data)
    _register_fonts()
    s = _Styles()
    procedure = data.procedure_name + (f" (mã thủ tục {data.procedure_code})" if data.procedure_code else "")
    values = {"station_name": data.station_name, "agency_name": data.agency_name,
              "applicant_name": data.applicant_name, "procedure": procedure, "legal_basis": data.legal_basis,
              "clerk_name": data.clerk_name, "station_phone": f", số điện thoại {data.station_phone}"
              if data.station_phone else "", "code": data.code, "reason": data.reason}
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=12 * mm,
                            bottomMargin=12 * mm, title=f"{template.title.capitalize()} {data.code}",
                            author=data.agency_name, creator="motcua")
    story: list = []
    for i, label in enumerate(template.copies):
        if i:
            story.append(PageBreak())
        story += _header(data, label, s, doc.width, title=template.title)
        story += [Paragraph(_fill(text, values), s.body) for text in template.paragraphs]
        story.append(Spacer(1, 2 * mm))
        if template.number == "02":
            story.append(_items_table(data.items, s, doc.width))
        else:
            story.append(Paragraph(f"<b>{_t(data.reason)}</b>", s.body))
        story.append(Spacer(1, 2 * mm))
        story += [Paragraph(_fill(text, values), s.body) for text in template.closing]
        story.append(Spacer(1, 5 * mm))
        story.append(KeepTogether([_signatures(template, (data.applicant_name, data.clerk_name), s, doc.width)]))
        if data.tracking_url:
            story.append(Paragraph(f"Tra cứu: {_t(receipt_qr_payload(data.code, data.tracking_url))}", s.small))
        story.append(Paragraph(_t(template.legal_basis), s.center_small))
    doc.build(story)
    return buf.getvalue()
