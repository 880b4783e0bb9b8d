"""A USB stick the box sees through udev, mounted read-write by the box itself (no desktop).

Discovery works on udev properties (umockdev in tests): a block device on the USB bus that holds
a filesystem the box accepts. Mounting is the OS boundary: :class:`Mounter` runs ``mount`` /
``umount`` with ``nosuid,nodev,noexec``; tests give a mounter of their own for a loop image.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import TransferError

logger = logging.getLogger(__name__)

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True, kw_only=True)
class StickDevice:
    sys_path: str
    device_node: str
    fs_type: str
    label: str = ""
    uuid: str = ""

    @property
    def mount_name(self) -> str:
        return _SAFE.sub("_", self.uuid or self.label or Path(self.device_node).name) or "stick"


def stick_from_udev(props: dict[str, str], *, sys_path: str, device_node: str,
                    filesystems: frozenset[str]) -> StickDevice | None:
    """A stick, if these udev properties describe a USB block device with an accepted filesystem."""
    if props.get("SUBSYSTEM", "block") != "block" or props.get("ID_BUS") != "usb":
        return None
    if props.get("ID_FS_USAGE") != "filesystem" or props.get("ID_FS_TYPE", "") not in filesystems:
        return None
    if not device_node:
        return None
    return StickDevice(sys_path=sys_path, device_node=device_node, fs_type=props["ID_FS_TYPE"],
                       label=props.get("ID_FS_LABEL", ""), uuid=props.get("ID_FS_UUID", ""))


def find_sticks(context: Any = None, *, filesystems: str = "vfat,exfat,ext4") -> list[StickDevice]:
    """The USB sticks udev reports now (``context``: a ``pyudev.Context``, made when omitted)."""
    if context is None:
        import pyudev

        context = pyudev.Context()
    accepted = frozenset(f.strip() for f in filesystems.split(",") if f.strip())
    out = []
    for device in context.list_devices(subsystem="block"):
        props = {k: str(v) for k, v in dict(device.properties).items()}
        stick = stick_from_udev(props, sys_path=device.sys_path, device_node=device.device_node or "",
                                filesystems=accepted)
        if stick is not None:
            out.append(stick)
    return out


class Mounter:
    """Mount a stick read-write, ``nosuid,nodev,noexec``.

    As root: ``mount``/``umount`` at the mount point given. As the service user (the hardened
    ``motcua-edge.service`` holds no capability): through udisks2 (``udisksctl``, allowed for the
    ``motcua`` user by ``systemd/polkit/50-motcua-udisks.rules``), which picks the mount point.
    """

    def mount(self, stick: StickDevice, mountpoint: Path) -> Path:
        """Mount ``stick``; returns where it is mounted."""
        if os.geteuid() != 0:
            out = _run(["udisksctl", "mount", "--no-user-interaction", "-b", stick.device_node,
                        "-o", "nosuid,nodev,noexec"])
            match = re.search(r" at (/\S+?)\.?$", out.strip())
            if not match:
                raise TransferError(f"udisksctl did not say where it mounted {stick.device_node}: {out.strip()}",
                                    message_vi="Không gắn được thẻ nhớ.")
            return Path(match.group(1))
        options = "rw,nosuid,nodev,noexec"
        if stick.fs_type in ("vfat", "exfat"):
            options += f",uid={os.getuid()},gid={os.getgid()},umask=077"
        _run(["mount", "-t", stick.fs_type, "-o", options, stick.device_node, str(mountpoint)])
        return mountpoint

    def unmount(self, mountpoint: Path, stick: StickDevice | None = None) -> None:
        os.sync()
        if os.geteuid() != 0 and stick is not None:
            _run(["udisksctl", "unmount", "--no-user-interaction", "-b", stick.device_node])
            return
        _run(["umount", str(mountpoint)])


def _run(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise TransferError(f"{' '.join(argv[:1])} failed: {detail.strip()}",
                            message_vi="Không gắn được thẻ nhớ (thẻ hỏng hoặc định dạng không hỗ trợ).") from exc


@contextlib.contextmanager
def mounted_stick(stick: StickDevice, *, mount_dir: Path, mounter: Mounter | None = None) -> Iterator[Path]:
    """Mount the stick read-write under ``mount_dir``, yield the mount point, then flush and unmount."""
    mounter = mounter or Mounter()
    point = Path(mount_dir) / stick.mount_name
    if os.geteuid() == 0:
        point.mkdir(parents=True, exist_ok=True, mode=0o700)
    point = mounter.mount(stick, point)
    try:
        yield point
    finally:
        try:
            mounter.unmount(point, stick)
        except TransferError as exc:
            logger.error("stick at %s could not be unmounted: %s", point, exc)
        with contextlib.suppress(OSError):
            point.rmdir()
