"""Durable file operations: write to a temporary name, fsync, rename, fsync the directory.

And :func:`private_sqlite_files`: an SQLite database (box or hub) and its -wal/-shm files kept 0600.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from pathlib import Path


@functools.cache
def _libc_syncfs():
    """libc's ``syncfs`` (looked up once, on first use: the symbols already loaded in this
    process, no library search), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # only here: not a cost of every start-up

    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


#: File systems whose ``syncfs`` writes every dirty file and directory entry and flushes the
#: device, like an fsync of each. Elsewhere (FUSE, which forwards no syncfs unless its server
#: implements one; vfat; network file systems) syncfs may return 0 with nothing made durable.
SYNCFS_DURABLE = frozenset({"ext4", "ext3", "xfs", "btrfs", "f2fs"})


def _unescape_mount(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def fs_type(path: Path, mountinfo: str | None = None) -> str:
    """The type of the file system holding ``path`` (from ``/proc/self/mountinfo``: the deepest
    mount point above it), or "" where it cannot be told."""
    real = os.path.realpath(path)
    if mountinfo is None:
        try:
            with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
                mountinfo = f.read()
        except OSError:
            return ""
    best, kind = "", ""
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5 or not right:
            continue
        point = _unescape_mount(fields[4])
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, right.split()[0]
    return kind


def syncfs(path: Path) -> bool:
    """Flush every written file and directory entry of the file system holding ``path`` to disk
    (Linux ``syncfs(2)``: one flush for many files, where an fsync per file and per directory
    would each flush the device). Returns False where the call does not exist or the file system
    is not one whose syncfs is known to be durable (:data:`SYNCFS_DURABLE`): then nothing was
    done and the caller fsyncs file by file. Raises OSError where the flush failed."""
    call = _libc_syncfs()
    if call is None or fs_type(path) not in SYNCFS_DURABLE:
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        if call(fd) != 0:
            import ctypes

            err = ctypes.get_errno()
            raise OSError(err, f"syncfs: {os.strerror(err)}", str(path))
    finally:
        os.close(fd)
    return True


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # the umask may have narrowed it, a stale file may have widened it
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def private_sqlite_files(path: Path) -> None:
    """The database and its -wal/-shm files are 0600 whatever the umask: SQLite creates them 0644,
    and gives -wal/-shm the mode of the database file, so the database is created 0600 first."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600))
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError, PermissionError):  # another user's file: theirs to fix
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)
