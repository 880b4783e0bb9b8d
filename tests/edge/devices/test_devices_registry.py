"""Device manager: classification, diffing, isolation, and udev through umockdev."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import _evemu
import pytest

from edge.devices import (
    DeviceKind,
    DeviceManager,
    DeviceRecord,
    DeviceStatus,
    QrMatcher,
    UdevInfo,
    classify,
)
from edge.errors import DeviceError

HERE = Path(__file__).parent
PYTHON = sys.executable
MOTCUA = str(Path(PYTHON).parent / "motcua")


def usb(props: dict, node: str = "/dev/bus/usb/001/005") -> UdevInfo:
    return UdevInfo(sys_path="/sys/devices/usb1/1-3", subsystem="usb", device_type="usb_device",
                    device_node=node, properties={"DEVPATH": "/devices/usb1/1-3", **props})


def test_classification_of_scanners_card_readers_and_keyboards():
    qr = QrMatcher.parse("")
    scanner = classify(usb({"libsane_matched": "yes", "ID_VENDOR_ID": "04a9",
                            "ID_MODEL_ID": "1909", "ID_SERIAL_SHORT": "S1",
                            "ID_VENDOR": "Canon", "ID_MODEL": "LiDE_120"}), qr=qr)
    assert scanner.kind is DeviceKind.SCANNER and scanner.id == "usb:04a9:1909:S1"
    assert scanner.model == "LiDE 120" and scanner.dev_path == "/dev/bus/usb/001/005"
    reader = classify(usb({"ID_USB_INTERFACES": ":0b0000:", "ID_VENDOR_ID": "072f"}), qr=qr)
    assert reader.kind is DeviceKind.CARD_READER
    assert classify(usb({"ID_USB_INTERFACES": ":080650:"}), qr=qr) is None  # a USB stick

    def keyboard(props: dict, name: str) -> UdevInfo:
        return UdevInfo(sys_path="/sys/x/event4", subsystem="input",
                        device_node="/dev/input/event4",
                        properties={"ID_INPUT_KEYBOARD": "1", **props}, name=name)

    plain = keyboard({"ID_VENDOR_ID": "046d", "ID_MODEL_ID": "c31c"}, "Logitech USB Keyboard")
    honeywell = keyboard({"ID_VENDOR_ID": "0c2e", "ID_MODEL_ID": "0b61"}, "Honeywell 1900")
    assert classify(plain, qr=qr) is None
    assert classify(honeywell, qr=qr).kind is DeviceKind.QR_SCANNER
    # Configured explicitly: only what the setting names.
    only = QrMatcher.parse("046d:c31c")
    assert classify(plain, qr=only).kind is DeviceKind.QR_SCANNER
    assert classify(honeywell, qr=only) is None
    assert classify(plain, qr=QrMatcher.parse("logitech")) is not None
    assert classify(plain, qr=QrMatcher.parse("/dev/input/event4")) is not None


class FakeSource:
    """A device source that returns what the test sets, or raises."""

    def __init__(self, records=()):
        self.records = list(records)
        self.error: Exception | None = None

    def __call__(self):
        if self.error is not None:
            raise self.error
        return list(self.records)


def rec(device_id: str, kind=DeviceKind.SCANNER, **kw) -> DeviceRecord:
    return DeviceRecord(id=device_id, kind=kind, source="sane", name=device_id, **kw)


async def test_diff_isolation_and_broken_sources(box_settings):
    sane, pcsc = FakeSource([rec("sane:a")]), FakeSource()
    pcsc.error = DeviceError("pcscd is not reachable", message_vi="Dịch vụ đầu đọc thẻ chưa chạy.")
    manager = DeviceManager(settings=box_settings, context_factory=lambda: None,
                            sane_lister=sane, pcsc_lister=pcsc, start_qr_readers=False)
    seen: list[tuple[str, str]] = []

    def broken(_event):
        raise RuntimeError("subscriber bug")

    manager.subscribe(broken)
    unsubscribe = manager.subscribe(lambda e: seen.append((e.type, e.device.id)))
    await manager.start()
    assert [r.id for r in manager.snapshot()] == ["sane:a"]
    drivers = {d.name: d for d in manager.drivers()}
    assert not drivers["pcsc"].ok and "pcscd" in drivers["pcsc"].error
    assert drivers["sane"].ok

    sane.records = [rec("sane:a", model="changed"), rec("sane:b")]
    await manager.rescan()
    sane.records = [rec("sane:b")]
    await manager.rescan()
    sane.error = RuntimeError("backend crashed")
    await manager.rescan()  # a crashing source: status, not an exception
    assert not {d.name: d for d in manager.drivers()}["sane"].ok
    assert seen == [("added", "sane:a"), ("changed", "sane:a"), ("added", "sane:b"),
                    ("removed", "sane:a"), ("removed", "sane:b")]
    assert {r.id: r.status for r in manager.snapshot()} == {
        "sane:a": DeviceStatus.ABSENT, "sane:b": DeviceStatus.ABSENT}
    sane.error = None
    await manager.rescan()
    assert seen[-1] == ("added", "sane:b")
    unsubscribe()
    manager.set_status("sane:b", DeviceStatus.BUSY)
    assert manager.get("sane:b").status is DeviceStatus.BUSY
    assert seen[-1] == ("added", "sane:b")
    await manager.stop()


@pytest.mark.umockdev
def test_enumeration_through_umockdev(tmp_path, umockdev_run):
    files = _evemu.write_testbed(tmp_path, [])
    (tmp_path / "sane.d").mkdir()
    (tmp_path / "sane.d" / "dll.conf").write_text("")
    env = {**os.environ, "SANE_CONFIG_DIR": str(tmp_path / "sane.d")}
    out = subprocess.run([umockdev_run, "-d", str(files["device"]), "--", MOTCUA, "devices",
                          "--json"], capture_output=True, text=True, env=env, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stderr
    devices = {d["id"]: d for d in json.loads(out.stdout)["devices"]}
    scanner = devices["usb:04a9:1909:SCN001"]
    assert scanner["kind"] == "scanner" and scanner["vendor"] == "Canon"
    assert scanner["model"] == "CanoScan LiDE 120" and scanner["status"] == "ready"
    qr = devices["input:1eab:1a03:QR0001"]
    assert qr["kind"] == "qr_scanner" and qr["dev_path"] == "/dev/input/event7"
    assert qr["vendor"] == "Newland"
    assert any(d["kind"] == "card_reader" for d in devices.values())
    assert not any(d["dev_path"] == "/dev/input/event3" for d in devices.values())  # the keyboard


@pytest.mark.umockdev
def test_hotplug_add_and_remove_are_followed(tmp_path):
    wrapper = __import__("shutil").which("umockdev-wrapper")
    if wrapper is None:
        pytest.skip("umockdev-wrapper is not installed (Debian package umockdev)")
    try:
        import gi  # noqa: F401
    except ImportError:
        pytest.skip("PyGObject (gi) is not importable from this interpreter")
    out = subprocess.run([wrapper, PYTHON, str(HERE / "_hotplug.py")], capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    steps = [(e["type"], e["device"]["kind"]) for e in result["events"]]
    assert steps[:2] == [("added", "scanner"), ("added", "qr_scanner")] or \
        sorted(steps[:2]) == [("added", "qr_scanner"), ("added", "scanner")]
    assert steps[2:] == [("removed", "scanner"), ("added", "scanner")]
    assert result["initial"] == []
    after_remove = {d["kind"]: d["status"] for d in result["after_remove"]}
    assert after_remove == {"scanner": "absent", "qr_scanner": "ready"}
    assert {d["kind"]: d["status"] for d in result["after_readd"]}["scanner"] == "ready"
    assert "broken subscriber" in out.stderr  # logged, and the other subscriber still ran
