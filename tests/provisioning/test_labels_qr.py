"""The label sheet's QR: the rectangles drawn cover exactly the symbol's dark modules."""

from __future__ import annotations

import random

import segno

from provisioning._labels import _dark_rects


def _paint(rects, size: int) -> list[list[int]]:
    grid = [[0] * size for _ in range(size)]
    for col, row, width, height in rects:
        for r in range(row, row + height):
            for c in range(col, col + width):
                assert grid[r][c] == 0, "rectangles overlap"
                grid[r][c] = 1
    return grid


def test_rectangles_cover_a_real_symbol_exactly() -> None:
    qr = segno.make_qr("MOTCUA1|PI000123|000.00.06.H56-S0123", error="m", mask=0, boost_error=False)
    matrix = [list(row) for row in qr.matrix]
    rects = _dark_rects(qr.matrix)
    assert _paint(rects, len(matrix)) == matrix
    runs = sum(1 for row in matrix for i, v in enumerate(row) if v and (i == 0 or not row[i - 1]))
    assert len(rects) < runs  # runs merged down the rows: fewer rectangles than row runs


def test_rectangles_cover_random_matrices_exactly() -> None:
    rng = random.Random(17)
    for size in (1, 2, 5, 21, 29):
        for _ in range(40):
            matrix = [[rng.random() < 0.5 for _ in range(size)] for _ in range(size)]
            assert _paint(_dark_rects(matrix), size) == [[int(v) for v in row] for row in matrix]


def test_the_printed_sheet_scans_back_to_every_payload(tmp_path) -> None:
    """Render a sheet, rasterize it as a printer would (poppler), read every QR back (zxing-cpp)."""
    import shutil
    import subprocess

    import pytest
    import zxingcpp
    from PIL import Image

    from provisioning import Label, qr_payload
    from provisioning._labels import render_labels

    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm is not installed (Debian package poppler-utils)")
    labels = [Label(serial=f"PI{i:06d}", station_id=f"000.00.06.H56-S{i:04d}", station_name=f"Điểm {i}",
                    agency_code="000.00.06.H56", kind="branch", code_range="0001–0040") for i in range(16)]
    (tmp_path / "labels.pdf").write_bytes(render_labels(labels))
    subprocess.run(["pdftoppm", "-r", "200", "-gray", "-png", str(tmp_path / "labels.pdf"), str(tmp_path / "p")],
                   check=True, capture_output=True)
    found = set()
    for page in sorted(tmp_path.glob("p*.png")):
        found |= {r.text for r in zxingcpp.read_barcodes(Image.open(page), formats=zxingcpp.BarcodeFormat.QRCode)}
    assert found == {qr_payload(label) for label in labels}
