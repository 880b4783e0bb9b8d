"""Scanning through SANE's test backend into the real encrypted store."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import zlib
from pathlib import Path

import psutil
import pytest
from PIL import Image

from edge.devices import (
    DeviceManager,
    DeviceStatus,
    ScannerError,
    ScanProgress,
    ScanRequest,
    ScanResult,
    device_options,
    list_devices,
    parse_options,
    scan_events,
    scan_to_store,
)
from edge.devices._sane import SaneDevice, error_from_output, parse_listing

pytestmark = pytest.mark.sane

# The test backend's "Color pattern" in colour: bands of saturated colours, so rows of the raw
# image hold long runs of bytes like ff0000ff0000… that would show if pixels leaked.
GEOMETRY = ("-x", "60", "-y", "60", "--test-picture", "Color pattern")


def request(draft: str, component: str = "tp1", pages: int = 3, **kw) -> ScanRequest:
    kw.setdefault("extra_options", GEOMETRY)
    return ScanRequest(device="test", dossier_id=draft, component=component, pages=pages,
                       resolution=75, mode="Color", source="ADF", actor="clerk1", **kw)


def reference_scan(tmp_path: Path) -> bytes:
    """The same page written by scanimage to a file outside the state directory."""
    out = tmp_path / "reference.png"
    subprocess.run(["scanimage", "-d", "test", "--format=png", "--resolution=75", "--mode=Color",
                    "--source=Automatic Document Feeder", *GEOMETRY, "-o", str(out)],
                   check=True, capture_output=True)
    return out.read_bytes()


def pdf_pages(pdf: bytes) -> int:
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo is not installed (Debian package poppler-utils)")
    out = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout
    return int(re.search(rb"^Pages:\s+(\d+)", out, re.MULTILINE).group(1))


def idat_payload(png: bytes) -> bytes:
    start = png.index(b"IDAT") + 4
    length = int.from_bytes(png[start - 8:start - 4], "big")
    return png[start:start + length]


def test_three_page_feeder_batch_is_encrypted_with_one_pdf(box_store, draft, sane_test_backend,
                                                          tmp_path):
    events: list[ScanProgress] = []
    result = scan_to_store(box_store, request(draft), on_progress=events.append)

    assert len(result.pages) == 3 and result.error is None and not result.feeder_empty
    dossier = box_store.get(draft)
    kinds = [(p.component, p.media_type) for p in dossier.pages]
    assert kinds == [("tp1", "image/png")] * 3 + [("tp1", "application/pdf")]
    assert [e.page for e in events if e.state == "page_stored"] == [1, 2, 3]
    assert events[-1].state == "done"

    reference = reference_scan(tmp_path)
    for page in result.pages:
        plain = b"".join(box_store.read_page(draft, page.index))
        assert plain == reference
    pdf = b"".join(box_store.read_page(draft, result.pdf.index))
    assert pdf.startswith(b"%PDF") and pdf_pages(pdf) == 3

    # Nothing readable under the state directory: no PNG or PDF, no compressed or raw pixels.
    image = Image.open(io.BytesIO(reference))
    raw = image.tobytes()
    row = raw[image.width * 3 * 10: image.width * 3 * 11]
    needles = {
        "png signature": b"\x89PNG\r\n\x1a\n",
        "pdf header": b"%PDF-",
        "idat": idat_payload(reference)[:48],
        "pixel row": row[:48],
        "inflated idat": zlib.decompress(idat_payload(reference))[:48],
    }
    assert len(set(row[:48])) > 1 or row[:48] != b"\0" * 48  # the pattern is not all zero
    root = Path(box_store.root)
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        for label, needle in needles.items():
            assert needle not in data, f"{label} found in {path.relative_to(root)}"


def test_each_component_gets_one_pdf_rebuilt_after_another_batch(box_store, draft,
                                                                sane_test_backend):
    scan_to_store(box_store, request(draft, "tp1", pages=2))
    scan_to_store(box_store, request(draft, "tp2", pages=1))
    again = scan_to_store(box_store, request(draft, "tp1", pages=1))
    pages = box_store.get(draft).pages
    pdfs = {p.component: p for p in pages if p.media_type == "application/pdf"}
    assert set(pdfs) == {"tp1", "tp2"}
    assert sum(1 for p in pages if p.media_type == "application/pdf") == 2
    assert pdfs["tp1"].index == again.pdf.index
    images = [p for p in pages if p.component == "tp1" and p.media_type == "image/png"]
    assert len(images) == 3
    pdf = b"".join(box_store.read_page(draft, again.pdf.index))
    assert pdf_pages(pdf) == 3


def test_feeder_running_empty_keeps_the_pages_scanned(box_store, draft, sane_test_backend):
    # The test backend's feeder holds 10 sheets.
    result = scan_to_store(box_store, request(draft, pages=12, extra_options=("-x", "10", "-y", "10")))
    assert len(result.pages) == 10
    assert result.feeder_empty and result.error is not None
    assert result.error.status == "no_docs"
    assert "Khay nạp giấy đã hết" in result.error.message_vi


@pytest.mark.parametrize(("status", "expected", "vi"), [
    ("SANE_STATUS_JAMMED", "jammed", "Kẹt giấy"),
    ("SANE_STATUS_COVER_OPEN", "cover_open", "Nắp máy quét đang mở"),
    ("SANE_STATUS_NO_DOCS", "no_docs", "Khay nạp giấy trống"),
    ("SANE_STATUS_DEVICE_BUSY", "busy", "đang bận"),
    ("SANE_STATUS_IO_ERROR", "io_error", "kiểm tra cáp"),
])
def test_scanner_errors_become_clear_vietnamese_messages(box_store, draft, sane_test_backend,
                                                         status, expected, vi):
    req = request(draft, extra_options=("-x", "10", "-y", "10", "--read-return-value", status))
    with pytest.raises(ScannerError) as info:
        scan_to_store(box_store, req)
    assert info.value.status == expected
    assert vi in info.value.message_vi
    assert box_store.get(draft).pages == ()
    assert list((Path(box_store.root) / "tmp").iterdir()) == []


def test_unknown_device_and_missing_scanimage(box_store, draft, sane_test_backend):
    with pytest.raises(ScannerError) as info:
        scan_to_store(box_store, ScanRequest(device="nosuch:device", dossier_id=draft,
                                             component="tp1", actor="clerk1"))
    assert info.value.status == "not_found"
    assert "Không tìm thấy máy quét" in info.value.message_vi
    with pytest.raises(ScannerError) as info:
        scan_to_store(box_store, request(draft), program="/nonexistent/scanimage")
    assert info.value.status == "missing"


def test_device_vanishing_mid_batch_keeps_finished_pages_only(box_store, draft, sane_test_backend):
    """scanimage dies (as when the USB cable is pulled) while page 2 is being read."""
    me = psutil.Process(os.getpid())

    def pull_cable(event: ScanProgress) -> None:
        if event.state == "page_stored" and event.page == 1:
            for child in me.children(recursive=True):
                if child.name() == "scanimage":
                    os.kill(child.pid, signal.SIGKILL)

    slow = ("-x", "40", "-y", "40", "--read-delay=yes", "--read-delay-duration=20000",
            "--read-limit=yes", "--read-limit-size=256")
    result = scan_to_store(box_store, request(draft, pages=3, extra_options=slow),
                           on_progress=pull_cable)
    assert len(result.pages) == 1
    assert result.error is not None and result.error.status == "gone"
    images = [p for p in box_store.get(draft).pages if p.media_type == "image/png"]
    assert len(images) == 1
    assert list((Path(box_store.root) / "tmp").iterdir()) == []


async def test_progress_iterator_and_busy_status(box_store, draft, sane_test_backend,
                                                 box_settings):
    manager = DeviceManager(settings=box_settings, context_factory=lambda: None,
                            pcsc_lister=lambda: [])
    manager.enumerate_once()
    assert manager.find_scanner("test:0") is not None
    seen: list = []
    statuses: list[str] = []
    manager.subscribe(lambda e: statuses.append(str(e.device.status)) if e.type == "changed" else None)
    req = ScanRequest(device="test:0", dossier_id=draft, component="tp1", pages=2, resolution=75,
                      source="ADF", actor="clerk1", extra_options=("-x", "10", "-y", "10"))
    async for item in scan_events(box_store, req, manager=manager):
        seen.append(item)
    assert isinstance(seen[-1], ScanResult) and len(seen[-1].pages) == 2
    assert [e.page for e in seen if isinstance(e, ScanProgress) and e.state == "page_stored"] == [1, 2]
    assert statuses == ["busy", "ready"]
    assert manager.find_scanner("test:0").status is DeviceStatus.READY

    bad = ScanRequest(device="test:0", dossier_id=draft, component="tp1", pages=1, resolution=75,
                      source="ADF", actor="clerk1",
                      extra_options=("--read-return-value", "SANE_STATUS_JAMMED"))
    with pytest.raises(ScannerError):
        async for _item in scan_events(box_store, bad, manager=manager):
            pass
    rec = manager.find_scanner("test:0")
    assert rec.status is DeviceStatus.ERROR and "Kẹt giấy" in rec.last_error


def test_discovery_and_options_of_the_test_backend(sane_test_backend):
    names = {d.name: d for d in list_devices(extra_names=("test",))}
    assert {"test:0", "test:1", "test"} <= set(names)
    assert names["test:0"].transport == "virtual"
    opts = device_options("test")
    assert "Automatic Document Feeder" in opts.sources and "Flatbed" in opts.sources
    assert {"Gray", "Color"} <= set(opts.modes)
    assert opts.resolution_range == (1, 1200)
    assert not opts.duplex


def test_option_and_listing_parsers_cover_real_backend_shapes():
    text = """
All options specific to device `fujitsu:fi-7160:123':
  Standard:
    --source ADF Front|ADF Back|ADF Duplex [ADF Front]
        Selects the scan source.
    --mode Lineart|Halftone|Gray|Color [Lineart]
    --resolution 50|75|100|150|200|300|600dpi [600]
"""
    opts = parse_options(text)
    assert opts.sources == ("ADF Front", "ADF Back", "ADF Duplex") and opts.duplex
    assert opts.resolutions == (50, 75, 100, 150, 200, 300, 600)
    devices = parse_listing("airscan:e0:Canon MF240\tCanon\tMF240\teSCL network scanner\n"
                            "escl:https://10.0.0.5:443\tHP\tLaserJet\tflatbed scanner\n"
                            "genesys:libusb:001:005\tCanon\tLiDE 120\tflatbed scanner\n")
    assert [d.transport for d in devices] == ["network", "network", "usb"]
    assert devices[2].usb_bus_dev == (1, 5)
    assert SaneDevice(name="test:0", vendor="", model="", type="").transport == "virtual"
    gone = error_from_output("", -9)
    assert gone.status == "gone" and gone.message_vi


def test_bench_devices_quick_runs(sane_test_backend):
    from bench import devices

    result = devices.run(quick=True)
    assert result.name == "devices" and result.value > 0 and result.baseline_value > 0
    assert "card_read" in result.details
    tlv = result.details["tlv_parse"]
    assert tlv["64kb"]["objects"] > tlv["16kb"]["objects"] > 0 and tlv["ratio"] > 0
