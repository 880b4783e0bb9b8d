"""Run under ``umockdev-wrapper``: a scanner and a QR scanner appear and disappear.

Prints one JSON object: the events the DeviceManager published and its snapshots.
"""

from __future__ import annotations

import asyncio
import json
import sys

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402

from edge.cli import install  # noqa: E402
from edge.config import load_settings  # noqa: E402
from edge.devices import DeviceManager  # noqa: E402


def add_scanner(bed):
    return bed.add_device(
        "usb", "scanner1", None,
        ["idVendor", "04a9", "idProduct", "1909", "serial", "SCN001"],
        ["DEVTYPE", "usb_device", "ID_VENDOR_ID", "04a9", "ID_MODEL_ID", "1909",
         "ID_VENDOR", "Canon", "ID_MODEL", "CanoScan_LiDE_120", "ID_SERIAL_SHORT", "SCN001",
         "libsane_matched", "yes", "BUSNUM", "001", "DEVNUM", "005",
         "DEVNAME", "/dev/bus/usb/001/005"])


def add_qr(bed):
    parent = bed.add_device("input", "input9", None, ["name", "Newland QR Scanner"],
                            ["NAME", '"Newland QR Scanner"', "ID_INPUT", "1",
                             "ID_INPUT_KEYBOARD", "1"])
    return bed.add_device("input", "event9", parent, [],
                          ["DEVNAME", "/dev/input/event9", "ID_INPUT", "1",
                           "ID_INPUT_KEYBOARD", "1", "ID_VENDOR_ID", "1eab",
                           "ID_MODEL_ID", "1a03", "ID_SERIAL_SHORT", "QR42", "ID_BUS", "usb"])


async def wait_for(events, predicate, limit_s=10.0):
    deadline = asyncio.get_running_loop().time() + limit_s
    while not any(predicate(e) for e in events):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"no matching event; got {[e['type'] for e in events]}")
        await asyncio.sleep(0.05)


async def main() -> None:
    bed = UMockdev.Testbed.new()
    settings = load_settings(None, env={}, overrides={"devices": {"rescan_debounce_seconds": 0.1}})
    manager = DeviceManager(settings=settings, sane_lister=lambda: [], pcsc_lister=lambda: [],
                            start_qr_readers=False)
    events: list[dict] = []
    manager.subscribe(lambda e: (_ for _ in ()).throw(RuntimeError("broken subscriber")))
    manager.subscribe(lambda e: events.append(e.to_dict()))
    await manager.start()
    out: dict = {"initial": [r.to_dict() for r in manager.snapshot()]}
    scanner = add_scanner(bed)
    bed.uevent(scanner, "add")
    qr = add_qr(bed)
    bed.uevent(qr, "add")
    await wait_for(events, lambda e: e["type"] == "added" and e["device"]["kind"] == "qr_scanner")
    await wait_for(events, lambda e: e["type"] == "added" and e["device"]["kind"] == "scanner")
    out["after_add"] = [r.to_dict() for r in manager.snapshot()]
    bed.uevent(scanner, "remove")
    bed.remove_device(scanner)
    await wait_for(events, lambda e: e["type"] == "removed" and e["device"]["kind"] == "scanner")
    out["after_remove"] = [r.to_dict() for r in manager.snapshot()]
    scanner = add_scanner(bed)
    bed.uevent(scanner, "add")
    await wait_for(events, lambda e: e["type"] == "added" and e["device"]["kind"] == "scanner"
                   and sum(1 for x in events if x["type"] == "added"
                           and x["device"]["kind"] == "scanner") == 2)
    out["after_readd"] = [r.to_dict() for r in manager.snapshot()]
    out["events"] = events
    out["rescans"] = manager.rescans
    await manager.stop()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    install()  # the composition root: the [devices] section is registered by edge.devices
    asyncio.run(main())
