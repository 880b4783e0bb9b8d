"""The USB stick the box sees through udev (umockdev), mounted read-write by the box itself (a real
``mount`` of a loop device), and the sync panel's button that writes a transfer to it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from boxkit import add_dossier

from sync.protocol import read_transfer, scan_stick
from sync.transfer import Mounter, StickDevice, export_transfer, mounted_stick

DEVICES = """P: /devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1
N: sdb1
E: SUBSYSTEM=block
E: DEVTYPE=partition
E: DEVNAME=/dev/sdb1
E: ID_BUS=usb
E: ID_FS_USAGE=filesystem
E: ID_FS_TYPE=vfat
E: ID_FS_LABEL=MOTCUA
E: ID_FS_UUID=1A2B-3C4D

P: /devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1
N: sda1
E: SUBSYSTEM=block
E: DEVTYPE=partition
E: DEVNAME=/dev/sda1
E: ID_BUS=ata
E: ID_FS_USAGE=filesystem
E: ID_FS_TYPE=ext4

P: /devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/host7/target7:0:0/7:0:0:0/block/sdc/sdc1
N: sdc1
E: SUBSYSTEM=block
E: DEVTYPE=partition
E: DEVNAME=/dev/sdc1
E: ID_BUS=usb
E: ID_FS_USAGE=crypto
E: ID_FS_TYPE=crypto_LUKS
"""

PROBE = "import json; from sync.transfer import find_sticks; print(json.dumps([s.__dict__ if hasattr(s, '__dict__') " \
        "else {k: getattr(s, k) for k in s.__slots__} for s in find_sticks()]))"


def test_udev_sees_only_usb_sticks_with_a_filesystem(tmp_path):
    umockdev = shutil.which("umockdev-run")
    if umockdev is None:
        pytest.skip("umockdev-run is not installed (Debian package umockdev)")
    (tmp_path / "sticks.umockdev").write_text(DEVICES)
    out = subprocess.run([umockdev, "-d", str(tmp_path / "sticks.umockdev"), "--", sys.executable, "-c", PROBE],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    (stick,) = json.loads(out.stdout)
    assert stick["fs_type"] == "vfat" and stick["label"] == "MOTCUA" and stick["uuid"] == "1A2B-3C4D"
    assert stick["device_node"].endswith("sdb1") and "/usb1/" in stick["sys_path"]


@pytest.fixture
def loop_device(tmp_path):
    """A real block device holding a fresh filesystem: a loop device over an image file."""
    if os.geteuid() != 0 or shutil.which("losetup") is None:
        pytest.skip("a loop device needs root and losetup")
    fs = "vfat" if "vfat" in Path("/proc/filesystems").read_text().split() else "ext4"
    image = tmp_path / "stick.img"
    subprocess.run(["truncate", "-s", "64M", str(image)], check=True)
    mkfs = ["mkfs.vfat", "-n", "MOTCUA"] if fs == "vfat" else ["mkfs.ext4", "-q", "-L", "MOTCUA"]
    subprocess.run([*mkfs, str(image)], check=True, capture_output=True)
    done = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"losetup failed here: {done.stderr.strip()}")
    node = done.stdout.strip()
    try:
        yield StickDevice(sys_path="/devices/virtual/block/" + Path(node).name, device_node=node, fs_type=fs,
                          label="MOTCUA")
    finally:
        subprocess.run(["losetup", "-d", node], capture_output=True, check=False)


def test_the_box_mounts_the_stick_writes_and_unmounts(hub, make_station, loop_device, tmp_path):
    _, store = make_station("MOBILE-01")
    ids = [add_dossier(store, pages=1) for _ in range(2)]
    mount_dir = tmp_path / "mnt"
    with mounted_stick(loop_device, mount_dir=mount_dir) as point:
        assert point.is_mount()
        report = export_transfer(store, point)
    assert not (mount_dir / loop_device.mount_name).exists()  # unmounted and removed
    # The stick, mounted again elsewhere, holds the whole transfer.
    again = tmp_path / "again"
    again.mkdir()
    Mounter().mount(loop_device, again)
    try:
        (item,) = scan_stick(again)
        transfer = read_transfer(item.path)
        assert sorted(e.manifest["dossier_id"] for e in transfer.entries) == sorted(ids)
        assert item.path.name == report.path.name
    finally:
        Mounter().unmount(again)


def test_the_sync_panel_button_writes_the_stick(hub, make_station, loop_device, tmp_path, monkeypatch):
    """POST /sync/transfer: udev (its context patched at the boundary) → mount → export → unmount."""
    import asyncio

    import pyudev
    from aiohttp.test_utils import TestClient, TestServer

    from edge.web import create_app

    settings, store = make_station("MOBILE-01")
    add_dossier(store, pages=1)
    settings = settings.replace("transfer", mount_dir=str(tmp_path / "mnt"))

    class Device:
        sys_path = loop_device.sys_path
        device_node = loop_device.device_node
        properties = {"SUBSYSTEM": "block", "ID_BUS": "usb", "ID_FS_USAGE": "filesystem",
                      "ID_FS_TYPE": loop_device.fs_type, "ID_FS_LABEL": "MOTCUA"}

    class Context:
        def list_devices(self, **match):
            return [Device()] if match.get("subsystem") == "block" else []

    monkeypatch.setattr(pyudev, "Context", Context)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "edge" / "web"))
    from web_helpers import PASSWORDS, login

    from edge.web import accounts

    accounts.create_account(store, "super", "Trần Văn Lãnh Đạo", "supervisor", PASSWORDS["super"])

    async def go():
        client = TestClient(TestServer(create_app(settings=settings, store=store)))
        await client.start_server()
        try:
            token = await login(client, "super")
            resp = await client.post("/sync/transfer", data={"csrf_token": token}, allow_redirects=True)
            return resp.status, await resp.text()
        finally:
            await client.close()

    status, html = asyncio.run(go())
    assert status == 200 and "Đã ghi 1 hồ sơ vào thẻ nhớ" in html, html[:2000]
    check = tmp_path / "check"
    check.mkdir()
    Mounter().mount(loop_device, check)
    try:
        (item,) = scan_stick(check)
        assert len(read_transfer(item.path).entries) == 1
    finally:
        Mounter().unmount(check)


class FakeMonitor:
    """pyudev.Monitor's interface (fileno, poll) over a pipe: the hardware boundary of the watcher."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        self.pending: list = []

    def fileno(self) -> int:
        return self.r

    def emit(self, device) -> None:
        self.pending.append(device)
        os.write(self.w, b"x")

    def poll(self, timeout=None):
        os.read(self.r, 1)
        return self.pending.pop(0) if self.pending else None

    def close(self) -> None:
        os.close(self.r)
        os.close(self.w)


def test_a_stick_inserted_is_imported_automatically(hub, make_station, loop_device, tmp_path):
    """At the relay: udev says a stick appeared → mounted, forwarded to the hub, unmounted."""
    import asyncio

    from boxkit import hub_dossiers

    from sync.transfer import StickWatcher

    _, origin = make_station("MOBILE-01")
    ids = [add_dossier(origin, pages=1) for _ in range(2)]
    writer = tmp_path / "w"
    writer.mkdir()
    Mounter().mount(loop_device, writer)
    try:
        export_transfer(origin, writer)
    finally:
        Mounter().unmount(writer)
    settings_b, relay = make_station("BRANCH-01")
    settings_b = settings_b.replace("transfer", mount_dir=str(tmp_path / "mnt"))

    class Device:
        action = "add"
        sys_path = loop_device.sys_path
        device_node = loop_device.device_node
        properties = {"SUBSYSTEM": "block", "ID_BUS": "usb", "ID_FS_USAGE": "filesystem",
                      "ID_FS_TYPE": loop_device.fs_type}

    class Ignored(Device):
        properties = {"SUBSYSTEM": "block", "ID_BUS": "ata", "ID_FS_USAGE": "filesystem", "ID_FS_TYPE": "ext4"}

    async def go():
        monitor = FakeMonitor()
        done: asyncio.Queue = asyncio.Queue()
        watcher = StickWatcher(store=relay, settings=settings_b, monitor=monitor,
                               on_report=lambda stick, report: done.put_nowait(report))
        await watcher.start()
        try:
            monitor.emit(Ignored())
            monitor.emit(Device())
            return await asyncio.wait_for(done.get(), 60)
        finally:
            await watcher.stop()
            monitor.close()

    report = asyncio.run(go())
    assert report is not None and report.ok and sorted(report.transfers[0].forwarded) == sorted(ids)
    assert set(hub_dossiers(hub)) == set(ids)
    assert not (tmp_path / "mnt" / loop_device.mount_name).exists()


def test_the_service_user_mounts_through_udisks(monkeypatch):
    """Without root (the hardened service), the stick goes through udisksctl: the OS boundary is
    patched here (no udisks daemon in the test machine), the arguments and the parsing are real."""
    import subprocess as sp

    from sync.transfer import _stick

    calls = []

    def run(argv, **kwargs):
        calls.append(argv)
        out = "Mounted /dev/sdb1 at /media/motcua/MOTCUA.\n" if argv[1] == "mount" else "Unmounted /dev/sdb1.\n"
        return sp.CompletedProcess(argv, 0, out, "")

    monkeypatch.setattr(_stick.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(_stick.subprocess, "run", run)
    stick = StickDevice(sys_path="/devices/x", device_node="/dev/sdb1", fs_type="vfat")
    with mounted_stick(stick, mount_dir=Path("/nonexistent/mnt")) as point:
        assert point == Path("/media/motcua/MOTCUA")
    assert calls == [["udisksctl", "mount", "--no-user-interaction", "-b", "/dev/sdb1", "-o", "nosuid,nodev,noexec"],
                     ["udisksctl", "unmount", "--no-user-interaction", "-b", "/dev/sdb1"]]
