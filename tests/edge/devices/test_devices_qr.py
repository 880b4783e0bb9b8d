"""CCCD / receipt QR codes typed by a keyboard-wedge scanner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import _evemu
import pytest

from edge.devices import LineAssembler, QrWedgeReader, classify_payload
from edge.devices._keymap import KEY_ENTER, KEY_LEFTSHIFT, REPLACEMENT
from edge.errors import ValidationError

HERE = Path(__file__).parent
PAYLOAD = ("079200001234||Nguyễn Văn An|01011990|Nam|"
           "12 Lý Thường Kiệt, Hoàn Kiếm, Hà Nội|15082021")


def type_into(assembler: LineAssembler, text: str, *, t0: float = 0.0, step: float = 0.001):
    lines = []
    t = t0
    for code, value in _evemu.keystrokes(text):
        line = assembler.feed(code, value, t)
        t += step
        if line is not None:
            lines.append(line)
    return lines, t


def test_keymap_shift_pipe_digits_letters_and_unicode_entry():
    lines, _ = type_into(LineAssembler(), PAYLOAD)
    assert lines == [PAYLOAD]
    lines, _ = type_into(LineAssembler(), "AbC|xyz~!@#$%^&*()_+{}:\"<>?")
    assert lines == ["AbC|xyz~!@#$%^&*()_+{}:\"<>?"]


def test_pause_between_keys_discards_the_partial_line():
    asm = LineAssembler(timeout=0.1)
    # "12" then a long pause, then a full payload: only the full payload comes out.
    asm.feed(2, 1, 0.0)
    asm.feed(2, 0, 0.001)
    asm.feed(3, 1, 0.002)
    asm.feed(3, 0, 0.003)
    lines, _ = type_into(asm, "000.00.06.H56-231027-0361", t0=5.0)
    assert lines == ["000.00.06.H56-231027-0361"]
    assert asm.discarded == 1


def test_overlong_input_and_unknown_keys():
    asm = LineAssembler(max_length=20)
    with pytest.raises(ValidationError) as info:
        type_into(asm, "1" * 40)
    assert info.value.message_vi
    asm = LineAssembler()
    asm.feed(KEY_LEFTSHIFT, 1, 0.0)
    asm.feed(59, 1, 0.001)  # F1: no meaning for a scanner
    asm.feed(KEY_LEFTSHIFT, 0, 0.002)
    assert asm.feed(KEY_ENTER, 1, 0.003) == REPLACEMENT
    assert asm.feed(KEY_ENTER, 1, 0.004) is None  # an empty line is no payload


@pytest.mark.parametrize("payload", [
    "079200001234||Nguyễn Văn An|0101",                        # truncated
    "079200001234||Nguyễn Văn An|01011990|Nam|x|15082021" + "|" * 40,  # too many fields
    "0792|Nguyễn|x",                                           # wrong field count
    "1" * 5000,                                               # overlong
    "07920000123||Nguyễn Văn An|01011990|Nam|x|15082021",      # 11-digit ID
    "hello world",                                            # neither CCCD nor receipt
    f"079200001234||Nguy{REPLACEMENT}n Văn An|01011990|Nam|x|15082021",  # mangled by a wedge
])
def test_malformed_payloads_give_clean_errors(payload):
    event = classify_payload(payload)
    if event.type == "cccd_scanned":  # a mangled name may still parse; the data shows it
        assert REPLACEMENT in event.data.full_name
        return
    assert event.type == "qr_error"
    assert event.error_vi and event.data is None


def test_cccd_receipt_and_nfd_payloads():
    import unicodedata

    event = classify_payload(unicodedata.normalize("NFD", PAYLOAD) + "|extra|")
    assert event.type == "cccd_scanned"
    assert event.data.full_name == "Nguyễn Văn An" and event.data.id_number == "079200001234"
    assert event.data.old_id_number == "" and event.data.date_of_birth == "1990-01-01"
    receipt = classify_payload("https://dichvucong.example.gov.vn/tra-cuu?ma=000.00.06.H56-231027-0361")
    assert receipt.type == "receipt_scanned" and receipt.data == "000.00.06.H56-231027-0361"


def test_reader_reports_a_missing_device_cleanly(tmp_path):
    from edge.devices import QrReadError

    reader = QrWedgeReader(str(tmp_path / "event99"), publish=lambda e: None)
    with pytest.raises(QrReadError) as info:
        reader.open()
    assert info.value.message_vi


@pytest.mark.umockdev
def test_replayed_scanner_fills_events_through_the_device_manager(tmp_path, umockdev_run):
    """evdev (grabbed) on an emulated input node replaying keystrokes recorded in evemu format."""
    payloads = [PAYLOAD, "000.00.06.H56-231027-0361", "12345|truncated"]
    files = _evemu.write_testbed(tmp_path, payloads)
    node = _evemu.EVENT_NODE
    out = subprocess.run(
        [umockdev_run, "-d", str(files["device"]), "-i", f"{node}={files['ioctl']}",
         "-e", f"{node}={files['events']}", "--", sys.executable, str(HERE / "_qr_replay.py"),
         str(len(payloads))],
        capture_output=True, text=True, timeout=90, check=False)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    qr = result["qr"]
    assert [e["type"] for e in qr] == ["cccd_scanned", "receipt_scanned", "qr_error"]
    assert qr[0]["data"]["full_name"] == "Nguyễn Văn An"
    assert qr[0]["data"]["address"] == "12 Lý Thường Kiệt, Hoàn Kiếm, Hà Nội"
    assert qr[0]["device"]["kind"] == "qr_scanner"
    assert qr[1]["data"] == "000.00.06.H56-231027-0361"
    assert "thiếu thông tin" in qr[2]["error_vi"]
    assert result["changed"] == []  # the reader opened and grabbed the device without error
    assert "Nguy" not in out.stderr  # payloads are never logged
