"""A device's identity is frozen; only its state changes (busy, error, absent); the scan path
needs of the store no more than the PageSink protocol."""

from __future__ import annotations

import dataclasses

import pytest

from edge.devices import (
    DeviceIdentity,
    DeviceKind,
    DeviceManager,
    DeviceRecord,
    DeviceState,
    DeviceStatus,
    PageSink,
)


def _manager(box_settings, records):
    return DeviceManager(settings=box_settings, context_factory=lambda: None, sane_lister=lambda: list(records),
                         pcsc_lister=lambda: [], start_qr_readers=False)


async def test_status_changes_the_state_never_the_identity(box_settings):
    scanner = DeviceRecord(id="sane:a", kind=DeviceKind.SCANNER, source="sane", name="a", model="M1")
    manager = _manager(box_settings, [scanner])
    await manager.start()
    identity = manager.identity("sane:a")
    assert identity == DeviceIdentity(id="sane:a", kind=DeviceKind.SCANNER, source="sane", name="a", model="M1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        identity.name = "b"  # type: ignore[misc]
    seen = []
    manager.subscribe(seen.append)
    manager.set_status("sane:a", DeviceStatus.BUSY)
    manager.set_status("sane:a", DeviceStatus.ERROR, "Kẹt giấy.")
    assert manager.identity("sane:a") is identity
    assert manager.state("sane:a") == DeviceState(status=DeviceStatus.ERROR, last_seen=scanner.last_seen,
                                                  last_error="Kẹt giấy.")
    assert [(e.type, e.device.status) for e in seen] == [("changed", DeviceStatus.BUSY), ("changed", DeviceStatus.ERROR)]
    assert manager.get("sane:a") == DeviceRecord.of(identity, manager.state("sane:a"))
    await manager.stop()


def test_a_record_is_its_identity_and_its_state():
    record = DeviceRecord(id="usb:1:2:S", kind=DeviceKind.QR_SCANNER, vendor="V", dev_path="/dev/input/event3",
                          status=DeviceStatus.BUSY, last_error="x", properties=(("a", "b"),))
    assert DeviceRecord.of(record.identity, record.state) == record
    assert record.state == DeviceState(status=DeviceStatus.BUSY, last_error="x")


def test_the_store_is_a_page_sink_and_devices_do_not_import_it():
    import ast
    from pathlib import Path

    from edge.store import Store

    assert issubclass(Store, PageSink)
    root = Path(__file__).resolve().parents[3] / "edge" / "devices"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "edge.store" or n.startswith("edge.store.") for n in names), path
