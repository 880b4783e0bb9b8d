"""Small durable-file helpers: write to a temporary name, fsync, rename, fsync the directory."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from edge.store import fsync_dir, write_file_atomic

write_atomic = write_file_atomic

__all__ = ["fsync_dir", "scrub", "write_atomic"]


def scrub(path: Path) -> bool:
    """Overwrite a file with zeros, then remove it. True if there was a file.

    On flash media (SD cards, FAT boot partitions) an overwrite does not reach every old copy of the
    blocks; this removes the readable file and the short-lived token it held is single-use anyway.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    with contextlib.suppress(OSError), open(path, "r+b") as fh:
        fh.write(b"\0" * size)
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        fsync_dir(path.parent)
    return True
