"""Fixtures of the transfer tests: a real hub (tests/sync/conftest.py), boxes enrolled with it, and
USB sticks as loop-mounted vfat images (a plain directory where the machine cannot mount one)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "client"))  # boxkit

from boxkit import make_box

MKFS = {"vfat": "mkfs.vfat", "ext4": "mkfs.ext4"}


def _can_loop_mount(fs: str) -> str | None:
    """None when loop-mounting an image of ``fs`` works here, else why not."""
    if os.geteuid() != 0:
        return "loop mounts need root"
    known = Path("/proc/filesystems").read_text().split()
    if fs not in known:
        return f"this kernel has no {fs} driver (not in /proc/filesystems)"
    for tool in (MKFS[fs], "mount", "umount", "truncate"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install dosfstools)"
    if not Path("/dev/loop-control").exists():
        return "no /dev/loop-control: no loop devices on this machine"
    return None


class Sticks:
    """USB sticks for one test: ``make("vfat")`` a loop-mounted FAT image (what sticks carry),
    ``make("ext4")`` a loop-mounted ext4 image (a real mount where the kernel lacks vfat),
    ``make("dir")`` a plain directory."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.mounted: list[Path] = []
        self.n = 0

    def make(self, kind: str = "vfat", *, size_mb: int = 64) -> Path:
        self.n += 1
        point = self.tmp / f"stick-{self.n}"
        point.mkdir()
        if kind == "dir":
            return point
        why = _can_loop_mount(kind)
        if why:
            pytest.skip(f"a loop-mounted {kind} stick is not possible here ({why}); the other variants run instead")
        image = self.tmp / f"stick-{self.n}.img"
        subprocess.run(["truncate", "-s", f"{size_mb}M", str(image)], check=True)
        label = ["-n", f"MOTCUA{self.n}"] if kind == "vfat" else ["-q", "-L", f"MOTCUA{self.n}"]
        subprocess.run([MKFS[kind], *label, str(image)], check=True, capture_output=True)
        done = subprocess.run(["mount", "-o", "loop,rw", str(image), str(point)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"mount -o loop failed here ({done.stderr.strip()}); the 'dir' variant runs instead")
        self.mounted.append(point)
        return point

    def pull_out(self, point: Path) -> None:
        """Flush and unmount, as the box does before the stick leaves (then mount it again)."""
        if point in self.mounted:
            subprocess.run(["umount", str(point)], check=True)
            image = self.tmp / f"{point.name}.img"
            subprocess.run(["mount", "-o", "loop,rw", str(image), str(point)], check=True)

    def close(self) -> None:
        for point in self.mounted:
            subprocess.run(["umount", str(point)], capture_output=True, check=False)


@pytest.fixture
def sticks(tmp_path):
    s = Sticks(tmp_path)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def hub(hub_factory):
    return hub_factory("sqlite")


@pytest.fixture
def make_station(tmp_path, hub):
    """An enrolled box: (settings, store) for station ``station_id``; closed after the test."""
    from sync.client import enroll

    stores = []

    def make(station_id: str, *, target_hub=None):
        h = target_hub or hub
        settings, store = make_box(tmp_path, name=f"box-{station_id}", retention_days=0)
        enroll(store, h.url, h.add_station(station_id), station_id=station_id, timeout_seconds=5)
        stores.append(store)
        return settings, store

    yield make
    for store in stores:
        store.close()
