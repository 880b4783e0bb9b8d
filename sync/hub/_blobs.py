"""Blob bytes on the hub's disk: ``blobs/<aa>/<sha256>`` once verified, ``partial/<sha256>`` while
uploading. The offset of an upload is the size of its partial file; appends are serialised across
processes with an exclusive, non-blocking ``flock`` on the partial file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

COPY_BLOCK = 1024 * 1024


class BlobLocked(Exception):
    """Another request is appending to this blob right now."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobFiles:
    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir)
        self.partial_dir = self.root / "partial"
        self.blob_dir = self.root / "blobs"
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        self.blob_dir.mkdir(parents=True, exist_ok=True)

    def final_path(self, sha256: str) -> Path:
        return self.blob_dir / sha256[:2] / sha256

    def partial_path(self, sha256: str) -> Path:
        return self.partial_dir / sha256

    def is_complete(self, sha256: str) -> bool:
        return self.final_path(sha256).exists()

    def offset(self, sha256: str, size: int) -> int:
        if self.is_complete(sha256):
            return size
        try:
            return self.partial_path(sha256).stat().st_size
        except FileNotFoundError:
            return 0

    @contextlib.contextmanager
    def appender(self, sha256: str) -> Iterator[Appender]:
        path = self.partial_path(sha256)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BlobLocked(sha256) from None
            yield Appender(self, sha256, fd)
        finally:
            os.close(fd)

    def open(self, sha256: str):
        return open(self.final_path(sha256), "rb")


class Appender:
    """Holds the lock on one partial file; all methods are blocking (run them in a thread)."""

    def __init__(self, files: BlobFiles, sha256: str, fd: int) -> None:
        self.files = files
        self.sha256 = sha256
        self.fd = fd

    def current_offset(self) -> int:
        return os.fstat(self.fd).st_size

    def write(self, data: bytes, at: int) -> None:
        view = memoryview(data)
        while view:
            n = os.pwrite(self.fd, view, at)
            view = view[n:]
            at += n

    def sync(self) -> None:
        os.fsync(self.fd)

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)
        os.fsync(self.fd)

    def finish(self, size: int) -> bool:
        """Verify the whole blob; True → moved into place; False → discarded (hash mismatch)."""
        path = self.files.partial_path(self.sha256)
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            read = 0
            while block := fh.read(COPY_BLOCK):
                digest.update(block)
                read += len(block)
        if read != size or digest.hexdigest() != self.sha256:
            self.truncate(0)
            return False
        final = self.files.final_path(self.sha256)
        final.parent.mkdir(exist_ok=True)
        os.fsync(self.fd)
        os.replace(path, final)
        _fsync_dir(final.parent)
        _fsync_dir(self.files.partial_dir)
        return True

    def discard_if_complete(self) -> bool:
        """After taking the lock: if the blob was completed meanwhile, drop the stray partial."""
        if self.files.is_complete(self.sha256):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.files.partial_path(self.sha256))
            return True
        return False
