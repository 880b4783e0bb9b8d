"""Durable file operations: the core's (``core.fsutil``), under the name the store has used."""

from __future__ import annotations

from core.fsutil import fsync_dir, private_sqlite_files, syncfs, write_file_atomic

__all__ = ["fsync_dir", "private_sqlite_files", "syncfs", "write_file_atomic"]
