"""The printable label sheet: one label per box with a QR of its serial and station id."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from ._errors import ProvisioningError

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/TTF"), Path("/usr/share/fonts/dejavu"))
FONT = "MotcuaDejaVuSans"
FONT_BOLD = "MotcuaDejaVuSans-Bold"
COLS, ROWS = 2, 8
MARGIN = 10 * mm
QR_PREFIX = "MOTCUA1"


@dataclass(frozen=True, slots=True, kw_only=True)
class Label:
    serial: str
    station_id: str
    station_name: str
    agency_code: str
    kind: str
    code_range: str


def qr_payload(label: Label) -> str:
    """What the QR on a label says: ``MOTCUA1|<serial>|<station id>`` (nothing secret)."""
    return f"{QR_PREFIX}|{label.serial}|{label.station_id}"


@cache
def _register_fonts() -> None:
    for base in FONT_DIRS:
        regular, bold = base / "DejaVuSans.ttf", base / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            pdfmetrics.registerFont(TTFont(FONT, str(regular)))
            pdfmetrics.registerFont(TTFont(FONT_BOLD, str(bold)))
            return
    raise ProvisioningError("the DejaVu fonts are missing (Debian package fonts-dejavu-core); they are needed for Vietnamese labels")


def _dark_rects(matrix) -> list[tuple[int, int, int, int]]:
    """The dark modules as rectangles ``(column, row, width, height)``: each run of dark modules
    in a row, merged with the same run in the rows below (a QR has many such columns and
    blocks; fewer rectangles is a smaller content stream and less to format)."""
    rects: list[tuple[int, int, int, int]] = []
    open_runs: dict[tuple[int, int], int] = {}  # (start, end) -> first row
    for r, line in enumerate(matrix):
        runs = set()
        start = None
        for col, dark in enumerate((*line, 0)):
            if dark and start is None:
                start = col
            elif not dark and start is not None:
                runs.add((start, col))
                start = None
        for run in [k for k in open_runs if k not in runs]:
            first = open_runs.pop(run)
            rects.append((run[0], first, run[1] - run[0], r - first))
        for run in runs:
            open_runs.setdefault(run, r)
    rects.extend((run[0], first, run[1] - run[0], len(matrix) - first) for run, first in open_runs.items())
    return rects


def _draw_qr(c: canvas.Canvas, text: str, x: float, y: float, size: float) -> None:
    """Draw a QR as vector rectangles (runs of dark modules, merged down the rows)."""
    # A fixed mask pattern: every mask is valid for any reader; choosing the "best" one costs
    # most of the encoding time and gains nothing for a short payload printed at this size.
    # Nor is the error level raised where the symbol would have room for it (boost_error).
    qr = segno.make_qr(text, error="m", mask=0, boost_error=False)
    matrix = qr.matrix
    n = len(matrix) + 8  # 4-module quiet zone each side
    module = size / n
    path = c.beginPath()
    top = y + size - 4 * module
    for col, row, width, height in _dark_rects(matrix):
        path.rect(x + (col + 4) * module, top - (row + height) * module, width * module, height * module)
    c.drawPath(path, stroke=0, fill=1)


def _fit(c: canvas.Canvas, text: str, font: str, size: float, width: float) -> str:
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def render_labels(labels: Sequence[Label], *, title: str = "") -> bytes:
    """An A4 PDF, 2 × 8 labels per page."""
    _register_fonts()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1, invariant=1)
    c.setTitle(title or "Nhãn thiết bị Trạm Một Cửa")
    page_w, page_h = A4
    cell_w = (page_w - 2 * MARGIN) / COLS
    cell_h = (page_h - 2 * MARGIN) / ROWS
    qr_size = min(cell_h - 4 * mm, 32 * mm)
    text_w = cell_w - qr_size - 6 * mm
    per_page = COLS * ROWS
    for i, label in enumerate(labels):
        if i and i % per_page == 0:
            c.showPage()
        slot = i % per_page
        col, row = slot % COLS, slot // COLS
        x0 = MARGIN + col * cell_w
        y0 = page_h - MARGIN - (row + 1) * cell_h
        c.setLineWidth(0.3)
        c.setDash(2, 2)
        c.rect(x0, y0, cell_w, cell_h, stroke=1, fill=0)
        c.setDash()
        _draw_qr(c, qr_payload(label), x0 + 2 * mm, y0 + (cell_h - qr_size) / 2, qr_size)
        tx = x0 + qr_size + 4 * mm
        ty = y0 + cell_h - 6 * mm
        c.setFont(FONT_BOLD, 9)
        name_lines = simpleSplit(label.station_name, FONT_BOLD, 9, text_w)
        if len(name_lines) > 2:
            name_lines = [name_lines[0], _fit(c, " ".join(name_lines[1:]), FONT_BOLD, 9, text_w)]
        for line in name_lines:
            c.drawString(tx, ty, line)
            ty -= 3.8 * mm
        c.setFont(FONT, 8)
        for line in (f"Mã trạm: {label.station_id}", f"Số máy: {label.serial}", f"Cơ quan: {label.agency_code}",
                     f"Loại: {label.kind}", f"Số hồ sơ: {label.code_range}"):
            ty -= 3.6 * mm
            c.drawString(tx, ty, _fit(c, line, FONT, 8, text_w))
    c.showPage()
    c.save()
    return buf.getvalue()
