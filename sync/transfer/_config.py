"""The ``[transfer]`` configuration section (sealed transfers by USB stick).

Imports nothing but the standard library: the composition root loads it with the registrations.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class TransferConfig:
    """Sealed transfers by USB stick."""

    mount_dir: str = "/run/motcua/stick"  # where the box mounts a stick it sees through udev
    filesystems: str = "vfat,exfat,ext4"  # stick filesystems the box mounts (read-write)
    auto_import: bool = True  # a stick holding a transfer or receipts is imported on insertion


__all__ = ["TransferConfig"]
