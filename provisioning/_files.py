"""Small durable-file helpers: write to a temporary name, fsync, rename, fsync the directory.

First boot runs as root over places others can write (a USB stick, the service user's state
directory), so every read and every scrub here looks at the name itself (``lstat``), opens it with
``O_NOFOLLOW | O_NONBLOCK`` and takes only regular files: a symlink, a FIFO or a device under a
bundle's name is refused, never followed, waited on or read whole.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from core.fsutil import fsync_dir, write_file_atomic

write_atomic = write_file_atomic

__all__ = ["NotRegularFile", "TooLarge", "fsync_dir", "read_regular", "scrub", "write_in_dir"]

_CHUNK = 1 << 16


class NotRegularFile(OSError):
    """The name is a symlink, a FIFO, a device or a directory, not a regular file."""


class TooLarge(OSError):
    """The file holds more than the caller's limit."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _open_regular(path: Path, flags: int) -> int:
    """An fd on ``path`` if it is a regular file (not a link to one); raise NotRegularFile else."""
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(f"{path} is {_kind(st.st_mode)}, not a regular file: skipped")
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise NotRegularFile(f"{path} changed while it was opened: skipped")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of regular file ``path``, at most ``limit`` (TooLarge beyond). Never follows a link."""
    fd = _open_regular(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise TooLarge(f"{path}: {size} bytes is too large (at most {limit})")
        parts: list[bytes] = []
        got = 0
        while got <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - got))
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        if got > limit:
            raise TooLarge(f"{path}: more than {limit} bytes is too large")
        return b"".join(parts)
    finally:
        os.close(fd)


def scrub(path: Path) -> bool:
    """Overwrite a regular file with zeros, then remove it. True if there was something to remove.

    A symlink (or any other non-regular entry) is removed as a name; what it points to is never
    opened or overwritten. On flash media (SD cards, FAT boot partitions) an overwrite does not
    reach every old copy of the blocks; this removes the readable file and the short-lived token it
    held is single-use anyway.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISREG(st.st_mode):
        with contextlib.suppress(OSError):
            fd = _open_regular(path, os.O_WRONLY)
            try:
                left = os.fstat(fd).st_size
                zeros = b"\0" * _CHUNK
                while left > 0:
                    left -= os.write(fd, zeros[: min(left, _CHUNK)])
                os.fsync(fd)
            finally:
                os.close(fd)
    elif stat.S_ISDIR(st.st_mode):
        raise NotRegularFile(f"{path} is a directory, not a bundle: left in place")
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        fsync_dir(path.parent)
    return True


def write_in_dir(directory: Path, name: str, data: bytes, *, mode: int = 0o600,
                 owner: tuple[int, int] | None = None) -> None:
    """Atomically write ``directory/name`` where another user may own ``directory``.

    The directory is opened with ``O_NOFOLLOW``; the temporary file is created ``O_EXCL`` in it and
    renamed over ``name`` by directory fd, so a symlink planted at either name is replaced, never
    followed. ``owner`` (uid, gid) is given to the new file before it gets its name.
    """
    if "/" in name or name in ("", ".", ".."):
        raise ValueError(f"bad file name {name!r}")
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        tmp = f".{name}.{os.getpid()}.tmp"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dfd)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dfd)
        try:
            if owner is not None:
                os.fchown(fd, *owner)
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        os.fsync(dfd)
    finally:
        os.close(dfd)
