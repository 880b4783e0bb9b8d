"""Run under ``umockdev-run``: the device manager finds the QR scanner, reads what it types.

Prints one JSON object with the registry and the QR events (test data only).
"""

from __future__ import annotations

import asyncio
import json
import sys

from edge.cli import install
from edge.config import load_settings
from edge.devices import DeviceManager


async def main(expected: int) -> None:
    settings = load_settings(None, env={}, overrides={"devices": {"rescan_debounce_seconds": 0.1}})
    manager = DeviceManager(settings=settings, sane_lister=lambda: [], pcsc_lister=lambda: [])
    events: list[dict] = []
    manager.subscribe(lambda e: events.append(e.to_dict()))
    await manager.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while sum(e["type"].endswith("_scanned") or e["type"] == "qr_error" for e in events) < expected:
        if loop.time() > deadline:
            break
        await asyncio.sleep(0.05)
    out = {"devices": [r.to_dict() for r in manager.snapshot()],
           "qr": [e for e in events if e["type"] in ("cccd_scanned", "receipt_scanned", "qr_error")],
           "changed": [e for e in events if e["type"] == "changed"]}
    await manager.stop()
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    install()  # the composition root: the [devices] section is registered by edge.devices
    asyncio.run(main(int(sys.argv[1])))
