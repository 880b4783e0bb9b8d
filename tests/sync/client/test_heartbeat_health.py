"""What the heartbeat tells the hub about the box: its disk's size, each kind of device's worst
state, and its failed sync calls by error code (docs/sync-protocol.md §8), through a real hub."""

from __future__ import annotations

import pytest

from edge.devices._model import DeviceKind, DeviceRecord, DeviceStatus
from sync.client._health import device_summary
from sync.errors import TransportError


class Devices:
    """The one thing the sync client asks of the device manager: its snapshot."""

    def __init__(self, records: list[DeviceRecord]) -> None:
        self.records = records

    def snapshot(self) -> list[DeviceRecord]:
        return self.records


RECORDS = [DeviceRecord(id="sane:a", kind=DeviceKind.SCANNER, status=DeviceStatus.READY),
           DeviceRecord(id="sane:b", kind=DeviceKind.SCANNER, status=DeviceStatus.ERROR),
           DeviceRecord(id="pcsc:r", kind=DeviceKind.CARD_READER, status=DeviceStatus.ABSENT)]


def test_each_kind_reports_its_worst_device():
    assert device_summary(RECORDS) == {"scanner": "error", "card_reader": "absent"}
    assert device_summary([]) == {}


async def test_the_hub_learns_disk_devices_and_failures_by_code(box, hub, proxy):
    from sync.client import SyncClient

    settings, store, _ = box
    client = SyncClient(settings=settings, store=store, devices=Devices(RECORDS))
    proxy.set_mode("refuse")
    for _ in range(2):
        with pytest.raises(TransportError):
            await client.heartbeat()
    proxy.set_mode("pass")
    await client.heartbeat()
    await client.stop()
    beat = hub.storage.get_station("HN-0001").last_heartbeat
    assert beat["sync_errors"] == {"transport": 2}
    assert beat["devices"] == {"scanner": "error", "card_reader": "absent"}
    assert beat["disk_total_bytes"] >= beat["disk_free_bytes"] > 0
    (point,) = hub.storage.station_history("HN-0001", since=0)
    assert point.pending == beat["pending"] and point.disk_free_bytes == beat["disk_free_bytes"]
